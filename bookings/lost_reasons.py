"""A business's lost reasons (SPEC §15.1) as one aggregate: the only way they are
written, and the one place a change to lost finds the reason it names.

`LostReasonList.of(business)` is core.tenant_lists' copy on first write, as the status
list is: the business's first POST copies the shared defaults into its own list (a
posted code of a default becomes that copy, the posted values applied), a PATCH of a
shared reason is refused with a 403 saying to POST first, and the unique constraints
decide duplicate codes and labels (409). `hold_expired` is the system's: it cannot be
deactivated, and no change but the scheduler's records it.
"""

from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from bookings.models import HOLD_EXPIRED, LostReason
from core.errors import AlreadyExists, Conflict, InvalidValue, NotAllowed
from core.tenant_lists import CopyOnFirstWriteList

if TYPE_CHECKING:
    import datetime as dt

    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser | str | None

# The fields a caller may set; `code` only when the reason is created.
WRITABLE_FIELDS = ("code", "label", "active", "sort_order")


def ensure_writable(fields: dict[str, Any], *, creating: bool) -> None:
    """A programming error, not a client's: callers pass validated writable fields."""
    allowed = set(WRITABLE_FIELDS) if creating else set(WRITABLE_FIELDS) - {"code"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Not writable: {', '.join(sorted(unknown))}")


def ensure_system_reason_stays_active(reason: LostReason) -> None:
    if reason.is_system and not reason.active:
        raise Conflict(
            f"{HOLD_EXPIRED} is the system's reason (the scheduler records it when a hold "
            "expires): it cannot be deactivated.",
            field="active",
        )


class LostReasonList(CopyOnFirstWriteList):
    """A business's lost reasons (`business_id` None: the shared defaults)."""

    model = LostReason
    noun = "lost reason"

    def copy_of(self, shared: LostReason, *, now: "dt.datetime", by: "User") -> LostReason:
        return LostReason(
            business_id=self.business_id,
            code=shared.code,
            label=shared.label,
            active=shared.active,
            sort_order=shared.sort_order,
            created_at=now,
        )

    def key_of(self, row: LostReason) -> tuple:
        return (row.code,)

    def duplicate_error(self, row: LostReason) -> AlreadyExists:
        return row.duplicate_error()

    def shared_refusal(self, pk: int) -> NotAllowed:
        return NotAllowed(
            f"Lost reason {pk} is a shared default, which cannot be changed. POST a reason "
            "with its code first: your business's first POST copies the shared list into "
            "your own list, whose reasons you can then PATCH."
        )

    def add(self, fields: dict[str, Any], *, by: "User" = None) -> LostReason:
        """Add a reason (`code` and `label` required; `active` defaults to true and
        `sort_order` to after the last), in one transaction. On a business's first
        write a posted default's code becomes that copy. Raises AlreadyExists naming
        `code` or `label` when either is taken in the list, and Conflict naming
        `active` for an inactive `hold_expired`; nothing is written then."""
        ensure_writable(fields, creating=True)
        new = LostReason(business_id=self.business_id, **fields)
        ensure_system_reason_stays_active(new)
        return super().add(new, fields, by=by)

    add.alters_data = True

    def update(self, pk: int, fields: dict[str, Any]) -> LostReason:
        """Change `label`, `active` or `sort_order` of reason `pk` of the list and return
        it as stored. Refuses as `entry()` does (NotFound, then NotAllowed for a shared
        reason), with Conflict naming `active` when it would deactivate `hold_expired`,
        and AlreadyExists when the label is another reason's; nothing is written then."""
        ensure_writable(fields, creating=False)
        try:
            with transaction.atomic():
                self._lock()
                reason = self.entry(pk, for_update=True)
                for name, value in fields.items():
                    setattr(reason, name, value)
                ensure_system_reason_stays_active(reason)
                reason.save(update_fields=list(fields))
        except IntegrityError as error:
            raise reason.duplicate_error() from error
        return reason

    update.alters_data = True


def reason_for_change(business_id: int, pk: int) -> LostReason:
    """The reason `pk` as a change to lost may record it: an active reason of the
    business's list (its own once it has one, else the shared defaults), not the
    system's. Anything else is an InvalidValue naming `lost_reason_id`, another
    business's reason as if it did not exist."""
    reason = LostReason.objects.in_list_of(business_id, pk)
    if reason is None:
        raise InvalidValue(
            f"There is no lost reason {pk} in your business's list.", field="lost_reason_id"
        )
    if not reason.active:
        raise InvalidValue(
            f"Lost reason {pk} ({reason.code}) is inactive: it is no longer a choice.",
            field="lost_reason_id",
        )
    if reason.is_system:
        raise InvalidValue(
            f"{HOLD_EXPIRED} is recorded only when a hold expires; choose another reason.",
            field="lost_reason_id",
        )
    return reason
