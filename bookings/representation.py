"""A booking and a history entry as the API shows them, and as their events carry them
(SPEC §8.1: an event's booking is exactly GET /v2/bookings/{id}'s body).

Plain functions over the model's attributes, with no DRF: the serializers call them
to render responses, and the event factories (bookings/events.py) to build payloads,
every writer's (the data fixes read the bookings they changed back to render them).
Datetimes are handed over in UTC and dates as dates; the API's renderer and the
events' stored JSON are both written by core.renderers.dumps, so the two texts are the
same, keys in the same order.
"""

import operator
from typing import Any

from core.renderers import in_utc

# A booking's fields as the API shows them, in order: the one list `booking_json` is
# built from. True marks a datetime (written in UTC with a `Z`).
BOOKING_API_FIELDS: tuple[tuple[str, bool], ...] = (
    ("id", False),
    ("name", False),
    ("starts_at", True),
    ("ends_at", True),
    ("guest_count", False),
    ("notes", False),
    ("status", False),
    ("tentative_date", False),
    ("tentative_at", True),
    ("hold_until", True),
    ("definite_date", False),
    ("definite_at", True),
    ("lost_date", False),
    ("lost_at", True),
    ("lost_reason", False),
    ("lost_note", False),
    ("created_at", True),
    ("updated_at", True),
    ("version", False),
)
BOOKING_API_NAMES = tuple(name for name, _is_moment in BOOKING_API_FIELDS)
_booking_values = operator.attrgetter(*BOOKING_API_NAMES)
_booking_converters = tuple(
    in_utc if is_moment else None for _name, is_moment in BOOKING_API_FIELDS
)


def booking_json(booking: Any) -> dict[str, Any]:
    """A booking as every endpoint returns it. `booking` is a Booking, or a named row of
    the same fields (the list reads rows rather than instances).

    One attrgetter call rather than a serializer's generic path: every response and
    every event carries a booking."""
    return {
        name: convert(value) if convert else value
        for name, convert, value in zip(
            BOOKING_API_NAMES, _booking_converters, _booking_values(booking), strict=True
        )
    }


# An entry of a booking's status history as the API shows it, in order (as above).
STATUS_CHANGE_API_FIELDS: tuple[tuple[str, bool], ...] = (
    ("id", False),
    ("from_status", False),
    ("to_status", False),
    ("status_at", True),
    ("recorded_at", True),
    ("changed_by", False),
    ("source", False),
    ("lost_reason", False),
    ("lost_note", False),
)


def status_change_json(change: Any) -> dict[str, Any]:
    """One entry of GET /v2/bookings/{id}/status_history."""
    return {
        name: in_utc(getattr(change, name)) if is_moment else getattr(change, name)
        for name, is_moment in STATUS_CHANGE_API_FIELDS
    }


def lost_reason_json(reason: Any) -> dict[str, Any]:
    """A lost reason as GET /v2/lost_reasons lists it."""
    return {
        "id": reason.id,
        "code": reason.code,
        "label": reason.label,
        "active": reason.active,
        "sort_order": reason.sort_order,
        "shared": reason.business_id is None,
    }
