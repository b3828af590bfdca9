"""The bookings' events (SPEC §8.1): one factory per type, each called by the write
path that makes the change, inside its transaction, with the booking in hand (so an
event costs its INSERT and no read). The payloads are the API's own representation
(bookings/representation.py): an event's booking is GET /v2/bookings/{id}'s body."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bookings.representation import booking_json, status_change_json
from events.models import Event

if TYPE_CHECKING:
    from bookings.models import Booking, BookingStatusChange

BOOKING_CREATED = "booking.created"
BOOKING_UPDATED = "booking.updated"
BOOKING_STATUS_CHANGED = "booking.status_changed"
BOOKING_DELETED = "booking.deleted"


def booking_created(booking: "Booking") -> Event:
    return Event.objects.record(
        booking.business_id, BOOKING_CREATED, {"booking": booking_json(booking)}
    )


def booking_updated(booking: "Booking", changed_fields: list[str]) -> Event:
    """`changed_fields`: the API names of the fields whose stored value changed, in the
    order of the booking's fields (never `updated_at`)."""
    return Event.objects.record(
        booking.business_id,
        BOOKING_UPDATED,
        {"booking": booking_json(booking), "changed_fields": list(changed_fields)},
    )


def booking_status_changed(booking: "Booking", change: "BookingStatusChange") -> Event:
    """`booking` as the change left it; `change` the history entry it wrote."""
    return Event.objects.record(
        booking.business_id,
        BOOKING_STATUS_CHANGED,
        {"booking": booking_json(booking), "change": status_change_json(change)},
    )


def bookings_status_changed(changes: "Iterable[tuple[Booking, BookingStatusChange]]") -> None:
    """`booking.status_changed` for each (booking, entry) of a bulk change, in the
    order given, by one INSERT (Event.objects.record writes one at a time)."""
    Event.objects.bulk_create(
        Event(
            business_id=booking.business_id,
            type=BOOKING_STATUS_CHANGED,
            data={"booking": booking_json(booking), "change": status_change_json(change)},
        )
        for booking, change in changes
    )


def booking_deleted(booking: "Booking") -> Event:
    """Call before the delete: `booking` as it was just before."""
    return Event.objects.record(
        booking.business_id, BOOKING_DELETED, {"booking": booking_json(booking)}
    )
