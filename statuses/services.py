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
import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.models import Business
from core.errors import AlreadyExists, Conflict, NotAllowed
from core.tenant_lists import CopyOnFirstWriteList
from statuses.events import status_created, status_deleted, status_updated, statuses_copied
from statuses.models import Status, ensure_writable, status_changed, username_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser | str | None


class StatusList(CopyOnFirstWriteList):
    """A business's status list (`business_id` None: the shared defaults, which only
    superusers change, in the admin): core.tenant_lists' copy on first write, with
    the Status API's names and events."""

    model = Status
    noun = "status"
    tenant_field = "businessId"
    sort_order_field = "sortOrder"

    def copy_of(self, shared: Status, *, now: dt.datetime, by: "User") -> Status:
        """A copy carries the fork's time and `by` as its creation stamp."""
        return Status(
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

    def key_of(self, row: Status) -> tuple:
        return (row.status, row.sub_status)

    def duplicate_error(self, row: Status) -> AlreadyExists:
        return row.duplicate_error()

    def shared_refusal(self, pk: int) -> NotAllowed:
        return NotAllowed(
            f"Status {pk} is a shared default status, which cannot be changed. "
            "POST a copy first (statusId null, businessId your business's id): your "
            "business's first POST copies the shared list into your own list, whose "
            "statuses you can then PUT.",
            field="statusId",
        )

    def announce_copies(self, copies: list[Status]) -> None:
        statuses_copied(copies)

    def announce_created(self, row: Status) -> None:
        status_created(row)

    def status(self, status_id: int, *, for_update: bool = False) -> Status:
        """Status `status_id` of this list. Raises NotFound for an unknown status or
        another business's (as if it did not exist), then NotAllowed for a shared
        status (when this is a business's list: it must POST a copy first)."""
        return self.entry(status_id, for_update=for_update)

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
        return super().add(new_status, fields, by=by)

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


def fork_shared_statuses(business: Business | int, *, by: "User" = None) -> list[Status]:
    """`StatusList.of(business).fork(by=by)`: the name the command, scripts and tests
    use."""
    return StatusList.of(business).fork(by=by)
