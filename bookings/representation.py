"""A booking and a history entry as the API shows them, and as their events carry them
(SPEC §8.1: an event's booking is exactly GET /v2/bookings/{id}'s body).

Plain functions over the model's attributes, with no DRF: the serializers call them
to render responses, and the event factories (bookings/events.py) to build payloads.
Each is built from one field list, which also builds its SQL counterpart: the same
JSON as an expression over the row, for the events the data fixes write set-based.
Datetimes are handed over in UTC and dates as dates; the API's renderer and the
Event model's JSON encoder both write them as ISO 8601 (datetimes with a `Z`,
fractional seconds only when not zero), so the two texts are the same.
"""

import operator
from collections.abc import Mapping
from typing import Any

from django.db import models
from django.db.models.functions import JSONObject

from core.renderers import in_utc

# A booking's fields as the API shows them, in order: the one list `booking_json` and
# its SQL counterpart `booking_json_sql` (for the data fixes' set-based events) are
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
    ("definite_date", False),
    ("definite_at", True),
    ("lost_date", False),
    ("lost_at", True),
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

    One attrgetter call rather than a serializer's generic path: every response carries
    a booking, and this is several times faster while producing the same JSON (the
    tests compare the two)."""
    return {
        name: convert(value) if convert else value
        for name, convert, value in zip(
            BOOKING_API_NAMES, _booking_converters, _booking_values(booking), strict=True
        )
    }


def booking_json_sql(
    values: Mapping[str, models.Expression] | None = None, *, prefix: str = ""
) -> JSONObject:
    """`booking_json` as an SQL expression over the booking's row (reached through
    `prefix`, e.g. "booking__" from a history entry), for events written by INSERT ...
    SELECT. `values` replaces columns by expressions: an UPDATE's new values, so that
    the representation is the booking after it. Key order is not kept (PostgreSQL's
    jsonb sorts keys); the values are exactly the API's (the tests compare them)."""
    values = values or {}
    fields = {}
    for name, is_moment in BOOKING_API_FIELDS:
        value = values.get(name, models.F(f"{prefix}{name}"))
        fields[name] = IsoUtcText(value) if is_moment else value
    return JSONObject(**fields)


class IsoUtcText(models.Func):
    """A datetime as the API writes it (core/renderers.py): ISO 8601 in UTC with a `Z`,
    fractional seconds (6 digits) only when not zero; NULL stays NULL."""

    arity = 1
    output_field = models.CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = super().as_sql(
            compiler,
            connection,
            template=(
                "(replace(to_char((%(expressions)s) AT TIME ZONE 'UTC', %%s), '.000000', '')"
                " || 'Z')"
            ),
            **extra_context,
        )
        return sql, (*params, 'YYYY-MM-DD"T"HH24:MI:SS.US')

    def as_sqlite(self, compiler, connection, **extra_context):
        # Stored as text in UTC, "YYYY-MM-DD HH:MM:SS[.ffffff]" (Django's format).
        return super().as_sql(
            compiler,
            connection,
            template="(replace(replace(%(expressions)s, ' ', 'T'), '.000000', '') || 'Z')",
            **extra_context,
        )


# An entry of a booking's status history as the API shows it, in order (as above).
STATUS_CHANGE_API_FIELDS: tuple[tuple[str, bool], ...] = (
    ("id", False),
    ("from_status", False),
    ("to_status", False),
    ("status_at", True),
    ("recorded_at", True),
    ("changed_by", False),
    ("source", False),
)


def status_change_json(change: Any) -> dict[str, Any]:
    """One entry of GET /v2/bookings/{id}/status_history."""
    return {
        name: in_utc(getattr(change, name)) if is_moment else getattr(change, name)
        for name, is_moment in STATUS_CHANGE_API_FIELDS
    }


def status_change_json_sql() -> JSONObject:
    """`status_change_json` as an SQL expression over a history entry's row."""
    return JSONObject(
        **{
            name: IsoUtcText(models.F(name)) if is_moment else models.F(name)
            for name, is_moment in STATUS_CHANGE_API_FIELDS
        }
    )
