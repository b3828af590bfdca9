"""The bookings' events (SPEC §8.1): one factory per type, each building the event
(unsaved) from the booking in hand; the write path that makes the change writes them
with `Event.objects.write`, in its transaction. The payloads are the API's own
representation (bookings/representation.py): an event's booking is
GET /v2/bookings/{id}'s body, in its key order."""

from typing import TYPE_CHECKING

from bookings.representation import booking_json, status_change_json
from events.models import Event, EventType

if TYPE_CHECKING:
    from bookings.models import Booking, BookingStatusChange


def created(booking: "Booking") -> Event:
    return Event.of(
        booking.business_id, EventType.BOOKING_CREATED, {"booking": booking_json(booking)}
    )


def updated(booking: "Booking", changed_fields: list[str]) -> Event:
    """`changed_fields`: the API names of the fields whose stored value changed, in the
    order of the booking's fields (never `updated_at` nor `version`)."""
    return Event.of(
        booking.business_id,
        EventType.BOOKING_UPDATED,
        {"booking": booking_json(booking), "changed_fields": list(changed_fields)},
    )


def status_changed(booking: "Booking", change: "BookingStatusChange") -> Event:
    """`booking` as the change left it; `change` the history entry it wrote."""
    return Event.of(
        booking.business_id,
        EventType.BOOKING_STATUS_CHANGED,
        {"booking": booking_json(booking), "change": status_change_json(change)},
    )


def deleted(booking: "Booking") -> Event:
    """`booking` as it was just before the delete."""
    return Event.of(
        booking.business_id, EventType.BOOKING_DELETED, {"booking": booking_json(booking)}
    )


def hold_expiring(booking: "Booking") -> Event:
    """The scheduler's reminder that the booking's hold runs out soon (SPEC §16), with
    the booking as it is."""
    return Event.of(
        booking.business_id, EventType.BOOKING_HOLD_EXPIRING, {"booking": booking_json(booking)}
    )
