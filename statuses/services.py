"""A status list as one aggregate: the only way its statuses are written.

`StatusList.of(business)` is a business's list (`of(None)`: the shared defaults). Each
write is one transaction, with its events (statuses/events.py), that first locks the
business's row, so that the writes to one business's list happen one at a time (two
concurrent first POSTs fork the shared list once, not twice), forks the shared list on
the business's first write, and refuses in one fixed order (SPEC §4): the status (a
shared one, then an unknown one or another business's), then the fields. The unique
constraints decide duplicates, so two concurrent writers of one name cannot both win.
"""

import copy
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone

from accounts.models import Business
from core.errors import Conflict, InvalidValue, NotAllowed, NotFound
from statuses.events import status_created, status_deleted, status_updated, statuses_copied
from statuses.models import (
    SORT_ORDER_MAX,
    Status,
    ensure_writable,
    status_changed,
    username_of,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser | str | None


class StatusList:
    """A business's status list (`business_id` None: the shared defaults, which only
    superusers change, in the admin)."""

    def __init__(self, business_id: int | None) -> None:
        self.business_id = business_id

    @classmethod
    def of(cls, business: Business | int | None) -> "StatusList":
        return cls(business.pk if isinstance(business, Business) else business)

    @property
    def is_shared(self) -> bool:
        return self.business_id is None

    def status(self, status_id: int, *, for_update: bool = False) -> Status:
        """Status `status_id` of this list. Raises NotAllowed for a shared status (when
        this is a business's list: it must POST a copy first), then NotFound for an
        unknown status or another business's (as if it did not exist)."""
        statuses = Status.objects.reachable_by(self.business_id)
        if for_update:
            statuses = statuses.select_for_update(no_key=True)
        try:
            found = statuses.get(pk=status_id)
        except Status.DoesNotExist:
            # The one 404 body of the API: nothing tells an unknown id from another's.
            raise NotFound("Not found.") from None
        if found.is_shared and not self.is_shared:
            raise NotAllowed(
                f"Status {status_id} is a shared default status, which cannot be changed. "
                "POST a copy first (statusId null, businessId your business's id): your "
                "business's first POST copies the shared list into your own list, whose "
                "statuses you can then PUT.",
                field="statusId",
            )
        return found

    def fork(self, *, by: "User" = None) -> list[Status]:
        """Copy the whole shared list into the business, unless it already has its own.

        The copies get new ids, the business, and the fork's time and `by` as their
        creation stamp. Returns them, or [] when the business already had a list. Safe
        to call concurrently: the second caller waits for the first and then finds its
        list."""
        with transaction.atomic():
            self._lock()
            if Status.objects.for_business(self.business_id).exists():
                return []
            copies = self._copy_shared_list(by=by)
            statuses_copied(copies)
            return copies

    fork.alters_data = True

    def add(self, fields: dict[str, Any], *, by: "User") -> Status:
        """Add a status to the list, in one transaction.

        `fields` holds writable fields; `status` and `sub_status` are required, `active`
        and `user_selectable` default to true and `sort_order` to after the last status.
        A business without its own list first gets a copy of the shared one; if the new
        status and sub-status are those of a copy, the given fields are applied to that
        copy (which keeps its other values) and it is returned. A status and sub-status
        already in the list (inactive ones too) raise AlreadyExists. Nothing is written
        when anything fails: a failed first write leaves no half-forked list."""
        ensure_writable(fields)
        new_status = Status(business_id=self.business_id, created_user=username_of(by), **fields)
        try:
            with transaction.atomic():
                self._lock()
                own = Status.objects.filter(business_id=self.business_id)
                last_sort_order = own.aggregate(last=Max("sort_order"))["last"]
                copies = []
                if last_sort_order is None and not self.is_shared:  # the first write
                    copies = self._copy_shared_list(by=by)
                    named = (new_status.status, new_status.sub_status)
                    same = next((c for c in copies if (c.status, c.sub_status) == named), None)
                    if same is not None:
                        for name, value in fields.items():
                            setattr(same, name, value)
                        same.save(update_fields=list(fields))
                        # Each copy's event carries it as stored, the posted values in.
                        statuses_copied(copies)
                        return same
                    last_sort_order = max((c.sort_order for c in copies), default=None)
                if "sort_order" not in fields:
                    new_status.sort_order = _after(last_sort_order)
                new_status.save(force_insert=True)
                statuses_copied(copies)
                status_created(new_status)
        except IntegrityError as error:
            raise new_status.duplicate_error() from error
        return new_status

    add.alters_data = True

    def update(self, status_id: int, fields: dict[str, Any], *, by: "User") -> Status:
        """Update status `status_id` of the list with the writable fields in `fields`
        (others keep their values), stamp `modified_at`/`modified_user`, and return it
        as stored; the apps with records in it hear of it (`status_changed`), in the
        same transaction. Refuses as `status()` does, also when the status is deleted
        while this waits for it, raises AlreadyExists when the new status and
        sub-status are another status's of the list, and whatever a receiver of
        `status_changed` raises (e.g. a Conflict: appointments are in it); nothing is
        written then."""
        ensure_writable(fields)
        try:
            with transaction.atomic():
                self._lock()
                status = self.status(status_id, for_update=True)
                previous = copy.copy(status)
                for name, value in fields.items():
                    setattr(status, name, value)
                status.modified_at = timezone.now()
                status.modified_user = username_of(by)
                status.save(update_fields=[*fields, "modified_at", "modified_user"])
                status_updated(status)
                status_changed.send(sender=Status, status=status, previous=previous)
        except IntegrityError as error:
            named = Status(status=fields.get("status"), sub_status=fields.get("sub_status"))
            raise named.duplicate_error() from error
        return status

    update.alters_data = True

    def remove(self, status_id: int) -> Status:
        """Delete status `status_id` of the list and write `status.deleted` with the
        status as it was, in one transaction; return it. Refuses as `status()` does,
        also when the status is deleted while this waits for it, and with a Conflict
        while records of other apps refer to it (their foreign keys PROTECT it: an
        appointment in it, a history entry that entered it)."""
        try:
            with transaction.atomic():
                self._lock()
                status = self.status(status_id, for_update=True)
                status_deleted(status)
                status.delete()
        except ProtectedError as error:
            raise Conflict(
                f"{status} is in use (appointments are in it, or their history entered "
                "it), so it cannot be deleted; deactivate it instead.",
                field="statusId",
            ) from error
        return status

    remove.alters_data = True

    def _lock(self) -> None:
        """Take the business's row lock for the rest of the transaction: whoever holds
        it is the only one changing the business's status list.

        FOR NO KEY UPDATE rather than FOR UPDATE: it queues status-list writers behind
        one another but not inserts of bookings (whose foreign key takes FOR KEY SHARE).
        SQLite has no row locks (Django leaves the clause out); there every write
        transaction already starts with BEGIN IMMEDIATE. The shared list has no row to
        lock: only superusers change it, and its constraints still decide duplicates."""
        if self.is_shared:
            return
        locked = Business.objects.select_for_update(no_key=True).filter(pk=self.business_id)
        if not locked.exists():
            raise InvalidValue(f"There is no business {self.business_id}.", field="businessId")

    def _copy_shared_list(self, *, by: "User") -> list[Status]:
        """Insert copies of every shared status (inactive ones too) into the business,
        in list order. The caller holds the business's lock and has seen it has no
        list."""
        now = timezone.now()
        copies = [
            Status(
                business_id=self.business_id,
                status=shared.status,
                sub_status=shared.sub_status,
                status_type=shared.status_type,
                sort_order=shared.sort_order,
                active=shared.active,
                user_selectable=shared.user_selectable,
                depends_on=shared.depends_on,
                created_at=now,
                created_user=username_of(by),
            )
            for shared in Status.objects.shared().in_list_order()
        ]
        return Status.objects.bulk_create(copies)


def fork_shared_statuses(business: Business | int, *, by: "User" = None) -> list[Status]:
    """`StatusList.of(business).fork(by=by)`: the name the command, scripts and tests
    use."""
    return StatusList.of(business).fork(by=by)


def _after(last_sort_order: int | None) -> int:
    if last_sort_order is None:
        return 1
    if last_sort_order >= SORT_ORDER_MAX:
        raise InvalidValue(
            "The list's last sortOrder is the largest allowed; send a sortOrder.",
            field="sortOrder",
        )
    return last_sort_order + 1
