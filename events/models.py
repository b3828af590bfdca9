"""Events: one row per change, written in the change's own transaction (SPEC §8.1),
read back in feed order (§8.2).

Feed order is (transaction_id, id), and only events whose transaction is older than
every transaction still running are visible. Ids are drawn before commit, so a plain
id order could show event 11 (committed) before event 10 (its transaction still
running), and a client that resumes after 11 would never see 10. A transaction id
below the oldest running one, by contrast, belongs to a transaction that has ended:
nothing can commit into the visible part of the feed any more, and whatever becomes
visible later sorts after everything visible now.

On PostgreSQL `transaction_id` is `pg_current_xact_id()` (64-bit, never wraps) and
the horizon is `pg_snapshot_xmin(pg_current_snapshot())`. SQLite serialises writers
(BEGIN IMMEDIATE): every event there has transaction_id 0 and the order is the id's.
"""

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterable

from django.conf import settings
from django.db import models

# Django's row-comparison lookups (built for composite primary keys in 5.2; Django is
# pinned below 5.3 in pyproject.toml, and the feed's tests run them on both databases).
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThanOrEqual
from django.utils import timezone

from core.fields import OrderedJSONField

EVENT_ID_PREFIX = "evt_"
# With a type filter, a feed page looks at most this many events (SPEC §13).
FILTERED_PAGE_EXAMINES = 1000


class EventType(models.TextChoices):
    """Every kind of change an event records, declared here and nowhere else (SPEC
    §8.1, §13 for status.deleted, §14.6, §15.3, §16). The apps' factories name them;
    `Event.objects.write` refuses any other."""

    BOOKING_CREATED = "booking.created"
    BOOKING_UPDATED = "booking.updated"
    BOOKING_STATUS_CHANGED = "booking.status_changed"
    BOOKING_DELETED = "booking.deleted"
    BOOKING_HOLD_EXPIRING = "booking.hold_expiring"
    STATUS_CREATED = "status.created"
    STATUS_UPDATED = "status.updated"
    STATUS_DELETED = "status.deleted"
    APPOINTMENT_CREATED = "appointment.created"
    APPOINTMENT_UPDATED = "appointment.updated"
    APPOINTMENT_STATUS_CHANGED = "appointment.status_changed"
    RESOURCE_CREATED = "resource.created"
    RESOURCE_UPDATED = "resource.updated"
    BUSINESS_UPDATED = "business.updated"


EVENT_TYPES = frozenset(EventType.values)


class CurrentTransactionId(models.Expression):
    """The writing transaction's id (PostgreSQL), or 0 (SQLite: one writer at a time)."""

    output_field = models.BigIntegerField()
    allowed_default = True

    def as_sql(self, compiler, connection):
        return "0", []

    def as_postgresql(self, compiler, connection):
        return "(pg_current_xact_id()::text::bigint)", []


class OldestRunningTransactionId(models.Expression):
    """Every transaction with a smaller id has ended (PostgreSQL); on SQLite, where the
    reader cannot overlap a writer, a bound above every event's 0."""

    output_field = models.BigIntegerField()

    def as_sql(self, compiler, connection):
        return "1", []

    def as_postgresql(self, compiler, connection):
        return "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint)", []


def pk_of_public_id(public_id: str) -> int | None:
    """The primary key an `evt_…` id names, or None when it is malformed."""
    number = public_id.removeprefix(EVENT_ID_PREFIX)
    if number == public_id or not number.isascii() or not number.isdigit():
        return None
    if len(number) > 18:  # beyond a bigint
        return None
    return int(number)


@dataclasses.dataclass(frozen=True)
class FeedPage:
    """A page of the feed: the events to show, the last event examined (the page's
    last, or with a type filter possibly one not shown) and whether the feed goes on."""

    events: list["Event"]
    last_examined: "Event | None"
    more: bool


class EventQuerySet(models.QuerySet):
    def for_business(self, business_id: int) -> "EventQuerySet":
        return self.filter(business_id=business_id)

    def visible(self) -> "EventQuerySet":
        """Events no transaction still running can precede in feed order."""
        return self.filter(transaction_id__lt=OldestRunningTransactionId())

    def in_feed_order(self) -> "EventQuerySet":
        return self.order_by("transaction_id", "id")

    def after(self, event: "Event") -> "EventQuerySet":
        """The events after `event` in feed order.

        A row comparison, `(transaction_id, id) > (t, id)`: PostgreSQL starts the scan of
        the (business, transaction_id, id) index right after the event. An OR of the two
        cases cannot start a scan there at all, and a range on `transaction_id` alone
        starts at the event's transaction and filters its earlier events one by one (a
        page inside a 10,000-event transaction read up to 10,000 index entries)."""
        return self.filter(
            TupleGreaterThan(Tuple("transaction_id", "id"), (event.transaction_id, event.id))
        )

    def up_to(self, event: "Event") -> "EventQuerySet":
        """The events up to and including `event` in feed order."""
        return self.filter(
            TupleLessThanOrEqual(Tuple("transaction_id", "id"), (event.transaction_id, event.id))
        )

    def of_types(self, types: list[str]) -> "EventQuerySet":
        return self.filter(type__in=types)

    def page(self, size: int, types: Collection[str] = ()) -> FeedPage:
        """The first `size` events of this (feed-ordered) queryset, or with `types` the
        first `size` of those types among at most FILTERED_PAGE_EXAMINES events, so
        that a sparse filter answers in bounded time and the client resumes after the
        last event examined instead of scanning the same events again."""
        if not types:
            rows = list(self[: size + 1])
            shown = rows[:size]
            return FeedPage(shown, shown[-1] if shown else None, more=len(rows) > size)
        # Events of other types are examined as plain rows, without their payload.
        fields = ["id", "business_id", "type", "created_at", "transaction_id"]
        examined = list(
            self.values_list(
                *fields,
                models.Case(
                    models.When(type__in=types, then="data"),
                    output_field=OrderedJSONField(),
                ),
            )[: FILTERED_PAGE_EXAMINES + 1]
        )

        def event_of(row: tuple) -> "Event":
            return Event(**dict(zip(fields, row, strict=False)), data=row[-1])

        type_column = fields.index("type")
        shown = []
        for position, row in enumerate(examined[:FILTERED_PAGE_EXAMINES]):
            if row[type_column] in types:
                shown.append(event_of(row))
                if len(shown) == size:
                    return FeedPage(shown, shown[-1], more=position + 1 < len(examined))
        window = examined[:FILTERED_PAGE_EXAMINES]
        return FeedPage(
            shown,
            event_of(window[-1]) if window else None,
            more=len(examined) > FILTERED_PAGE_EXAMINES,
        )

    def leading_run_older_than(
        self, moment: dt.datetime, *, held: models.QuerySet
    ) -> "EventQuerySet":
        """Of one business's events (filter by business first): the visible events that
        come, in feed order, before the first one that is recorded at or after `moment`,
        is in `held` (a queryset of event ids that must stay), or is the newest visible
        event. Removing them leaves the feed a suffix of itself, and always its newest
        event: a client that has read everything can still resume after it."""
        feed = self.visible().in_feed_order()
        newest = feed.reverse().values("pk")[:1]
        first_kept = feed.filter(
            models.Q(created_at__gte=moment) | models.Q(pk__in=held) | models.Q(pk__in=newest)
        )
        kept_transaction_id = models.Subquery(first_kept.values("transaction_id")[:1])
        return feed.filter(
            models.Q(transaction_id__lt=kept_transaction_id)
            | models.Q(
                transaction_id=kept_transaction_id,
                id__lt=models.Subquery(first_kept.values("id")[:1]),
            )
        )


class EventManager(models.Manager.from_queryset(EventQuerySet)):
    def write(self, events: Iterable["Event"]) -> list["Event"]:
        """The one writer of events: `events` (unsaved, from `Event.of`), in the order
        given, by one INSERT however many. Call it inside the change's own transaction
        (SPEC §8.1), through the factory of the type (e.g. bookings/events.py).
        `transaction_id` is the database's default and is not read back. ValueError
        (a programming error) for a type EventType does not declare."""
        events = list(events)
        for event in events:
            if event.type not in EVENT_TYPES:
                raise ValueError(f"Unknown event type {event.type!r}.")
        return self.bulk_create(events) if events else []

    def record(self, business_id: int, type: str, data: dict) -> "Event":
        """One event: `write([Event.of(business_id, type, data)])`."""
        [event] = self.write([Event.of(business_id, type, data)])
        return event

    def by_public_id(self, business_id: int, public_id: str) -> "Event":
        """The business's event with this `evt_…` id, else Event.DoesNotExist (another
        business's ids, and malformed ones, are unknown)."""
        pk = pk_of_public_id(public_id)
        if pk is None:
            raise Event.DoesNotExist
        return self.for_business(business_id).get(pk=pk)


class Event(models.Model):
    """One change, as integrations see it: the envelope of `envelope()` is the feed's
    item and a webhook's body."""

    business = models.ForeignKey(settings.TENANT_MODEL, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=64)
    # As the API renders it (dates, and datetimes in UTC with a Z, as ISO 8601 strings),
    # with its keys in the order GET shows them.
    data = OrderedJSONField()
    created_at = models.DateTimeField(default=timezone.now)
    transaction_id = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)

    objects = EventManager()

    class Meta:
        indexes = [
            models.Index(
                fields=["business", "transaction_id", "id"], name="event_business_feed_order"
            ),
            models.Index(fields=["created_at"], name="event_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"

    @classmethod
    def of(cls, business_id: int, type: str, data: dict) -> "Event":
        """An event to write (`Event.objects.write`), recorded now."""
        return cls(business_id=business_id, type=type, data=data)

    @property
    def public_id(self) -> str:
        return f"{EVENT_ID_PREFIX}{self.pk}"

    def envelope(self) -> dict:
        """The event as the feed lists it and a webhook carries it."""
        return {
            "id": self.public_id,
            "type": self.type,
            "timestamp": self.created_at,
            "business_id": self.business_id,
            "data": self.data,
        }
