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

from django.conf import settings
from django.db import models
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from core import fixed_sql

EVENT_ID_PREFIX = "evt_"


class CurrentTransactionId(models.Expression):
    """The writing transaction's id (PostgreSQL), or 0 (SQLite: one writer at a time)."""

    output_field = models.BigIntegerField()

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


class EventQuerySet(models.QuerySet):
    def for_business(self, business_id: int) -> "EventQuerySet":
        return self.filter(business_id=business_id)

    def visible(self) -> "EventQuerySet":
        """Events no transaction still running can precede in feed order."""
        return self.filter(transaction_id__lt=OldestRunningTransactionId())

    def in_feed_order(self) -> "EventQuerySet":
        return self.order_by("transaction_id", "id")

    def after(self, event: "Event") -> "EventQuerySet":
        """The events after `event` in feed order."""
        return self.filter(
            models.Q(transaction_id__gt=event.transaction_id)
            | models.Q(transaction_id=event.transaction_id, id__gt=event.id)
        )

    def of_types(self, types: list[str]) -> "EventQuerySet":
        return self.filter(type__in=types)


class EventManager(models.Manager.from_queryset(EventQuerySet)):
    def record(self, business_id: int, type: str, data: dict) -> "Event":
        """Write one event of the business. Call it inside the change's own transaction
        (SPEC §8.1), through the factory of its type (e.g. bookings/events.py).

        Every write pays for it, so its INSERT is a fixed statement (core/fixed_sql.py):
        the ORM's create() cost change_status a quarter more CPU. `transaction_id` is
        the database's default and is not read back."""
        event = Event(business_id=business_id, type=type, data=data)
        fixed_sql.insert(event, EVENT_INSERT_FIELDS, using=self.db)
        return event

    def by_public_id(self, business_id: int, public_id: str) -> "Event":
        """The business's event with this `evt_…` id, else Event.DoesNotExist (another
        business's ids, and malformed ones, are unknown)."""
        number = public_id.removeprefix(EVENT_ID_PREFIX)
        if number == public_id or not number.isascii() or not number.isdigit():
            raise Event.DoesNotExist
        if len(number) > 18:  # beyond a bigint
            raise Event.DoesNotExist
        return self.for_business(business_id).get(pk=int(number))


class Event(models.Model):
    """One change, as integrations see it: the envelope of `envelope()` is the feed's
    item and a webhook's body."""

    business = models.ForeignKey(settings.TENANT_MODEL, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=64)
    # As the API renders it: dates, and datetimes in UTC with a Z, as ISO 8601 strings.
    data = models.JSONField(encoder=JSONEncoder)
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


EVENT_INSERT_FIELDS = fixed_sql.insert_fields(Event)
