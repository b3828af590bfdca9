"""The statuses' events (SPEC §8.1, §13): one factory per type, each called by the
status list's write paths (statuses/services.py) inside their transaction, with the
payload built from the API's own representation (statuses/representation.py).

The shared default list (business NULL) has no business to tell: superusers' edits of
it write no event, and the factories return None for a shared status."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from events.models import Event, EventType
from statuses.representation import status_json

if TYPE_CHECKING:
    from statuses.models import Status

STATUS_CREATED = EventType.STATUS_CREATED
STATUS_UPDATED = EventType.STATUS_UPDATED
STATUS_DELETED = EventType.STATUS_DELETED


def status_created(status: "Status") -> Event | None:
    return _record(STATUS_CREATED, status)


def statuses_copied(copies: Sequence["Status"]) -> list[Event]:
    """A fork's `status.created`, one per copy in the order given (list order), written
    by one INSERT: a first write copies the whole shared list."""
    return Event.objects.write(
        Event.of(copy.business_id, STATUS_CREATED, {"status": status_json(copy)})
        for copy in copies
        if copy.business_id is not None
    )


def status_updated(status: "Status") -> Event | None:
    return _record(STATUS_UPDATED, status)


def status_deleted(status: "Status") -> Event | None:
    """Call before the delete: `status` as it was."""
    return _record(STATUS_DELETED, status)


def _record(type_: str, status: "Status") -> Event | None:
    if status.business_id is None:
        return None
    return Event.objects.record(status.business_id, type_, {"status": status_json(status)})
