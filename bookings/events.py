"""The bookings' events (SPEC §8.1): one factory per type, each called by the write
path that makes the change, inside its transaction, with the booking in hand (so an
event costs its INSERT and no read). The payloads are the API's own representation
(bookings/representation.py): an event's booking is GET /v2/bookings/{id}'s body.

The data fixes and the zone realignment change many bookings at once and never load
them: their events are written set-based, by one INSERT ... SELECT per statement that
changes bookings, over the representation's SQL counterpart."""

import functools
import operator
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from django.db import models
from django.db.models.functions import JSONObject
from django.utils import timezone

from bookings.representation import (
    BOOKING_API_NAMES,
    booking_json,
    booking_json_sql,
    status_change_json,
    status_change_json_sql,
)
from core import fixed_sql
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


def booking_statuses_changed(changes: "Iterable[tuple[Booking, BookingStatusChange]]") -> None:
    """`booking.status_changed` for each (booking, entry) of a bulk change, in the
    order given, by one INSERT (Event.objects.record writes one at a time). The
    bookings are in hand; the data fixes' set-based counterpart, which loads none, is
    `bookings_status_changed` below."""
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


# --- Set-based, for the data fixes and the zone realignment -----------------

# Bumped by every write, so never news of their own (SPEC §13): not in changed_fields.
UNLISTED_CHANGES = frozenset({"updated_at", "version"})
# What an INSERT ... SELECT of events writes; `transaction_id` is the column's default.
SET_BASED_EVENT_FIELDS = ("business", "type", "data", "created_at")


class IsDistinctFrom(models.Func):
    """`a` and `b` differ, NULL counting as a value (a NULL set to a date differs)."""

    arity = 2
    output_field = models.BooleanField()
    arg_joiner = " IS DISTINCT FROM "
    template = "(%(expressions)s)"

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, arg_joiner=" IS NOT ", **extra_context)


class NamesWhere(models.Func):
    """A JSON array of the names whose condition holds, in the order given."""

    output_field = models.JSONField()
    arg_joiner = " || "

    def __init__(self, conditions: Mapping[str, models.Expression]):
        super().__init__(
            *(
                models.Case(
                    # Names are identifiers of ours: nothing to escape in the JSON text.
                    models.When(condition, then=models.Value(f'"{name}",')),
                    default=models.Value(""),
                    output_field=models.CharField(),
                )
                for name, condition in conditions.items()
            )
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        template = "('[' || rtrim(%(expressions)s, ',') || ']')::jsonb"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        template = "json('[' || rtrim(%(expressions)s, ',') || ']')"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def _event_rows(rows: models.QuerySet, type: str, data: models.Expression, business: str):
    return rows.values_list(
        business,
        models.Value(type, output_field=models.CharField()),
        data,
        models.Value(timezone.now(), output_field=models.DateTimeField()),
    )


def bookings_updated(bookings: models.QuerySet, new_values: Mapping[str, models.Expression]) -> int:
    """`booking.updated` for each of `bookings` that `bookings.update(**new_values)`
    changes: its `booking` as the update leaves it, `changed_fields` the fields whose
    value differs, in the booking's field order. Call it in the update's transaction,
    just before the update, with the bookings locked (or the update's own rule) so that
    both see the same rows. One INSERT ... SELECT; returns how many events."""
    changes = {
        name: IsDistinctFrom(models.F(name), new_values[name])
        for name in BOOKING_API_NAMES
        if name in new_values and name not in UNLISTED_CHANGES
    }
    data = JSONObject(booking=booking_json_sql(new_values), changed_fields=NamesWhere(changes))
    changed = bookings.filter(functools.reduce(operator.or_, changes.values())).order_by("pk")
    rows = _event_rows(changed, BOOKING_UPDATED, data, "business_id")
    return fixed_sql.insert_select(Event, SET_BASED_EVENT_FIELDS, rows)


def bookings_status_changed(changes: models.QuerySet) -> int:
    """`booking.status_changed` for each history entry of `changes` (a queryset of
    BookingStatusChange just written set-based), with its booking as it now is. Call
    it in their transaction, after the bookings are updated. One INSERT ... SELECT;
    returns how many events."""
    data = JSONObject(booking=booking_json_sql(prefix="booking__"), change=status_change_json_sql())
    rows = _event_rows(changes.order_by("pk"), BOOKING_STATUS_CHANGED, data, "booking__business_id")
    return fixed_sql.insert_select(Event, SET_BASED_EVENT_FIELDS, rows)
