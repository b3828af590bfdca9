"""The webhook worker (SPEC §8.4, §13): fan the feed out into deliveries, make the due
attempts, record their outcomes.

No database transaction or row lock is open while a request is in flight: a delivery
is taken by a lease (a short transaction, SKIP LOCKED on PostgreSQL), the attempt is
counted when it starts, and the outcome is recorded in a second short transaction,
only while the lease is still this worker's. A worker killed mid-attempt leaves its
lease to expire, and the delivery is taken again: delivery is at least once.
"""

import contextlib
import datetime as dt
import logging
import math
import random
import threading
import time
from concurrent import futures

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.direct_connection import direct_connection_params
from core.renderers import JSONRenderer
from events.models import Event
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint
from webhooks.sending import Outcome, post
from webhooks.signing import signed_headers

logger = logging.getLogger("webhooks.worker")

# Every statement that inserts events notifies this channel at commit (a trigger:
# events/migrations/0002_notify_on_insert.py), so an idle worker starts at once rather
# than at its next one-second poll.
NOTIFY_CHANNEL = "webhook_events"
POLL_INTERVAL = 1.0
# Recording an outcome takes milliseconds; the lease outlives the attempt by this much.
LEASE_MARGIN = dt.timedelta(seconds=5)
FAN_OUT_BATCH = 1000
# While attempts keep the worker busy it fans out at most this often: fanning out before
# every claim cost the busy worker more queries than the attempts themselves.
FAN_OUT_WHILE_BUSY = 0.1
RETRY_JITTER = 0.10
# SQLite has one writer at a time anyway, and its shared in-memory database (the test
# database) answers "table is locked" at once rather than after the busy timeout: on
# SQLite the worker's threads take turns at the database.
_sqlite_turn = threading.Lock()


def _database_turn():
    return _sqlite_turn if connection.vendor == "sqlite" else contextlib.nullcontext()


def fan_out() -> int:
    """Turn every active endpoint's new feed events into deliveries; the number made."""
    endpoint_ids = WebhookEndpoint.objects.filter(active=True).values_list("pk", flat=True)
    return sum(fan_out_endpoint(endpoint_id) for endpoint_id in endpoint_ids)


def fan_out_endpoint(endpoint_id: int) -> int:
    """Read the endpoint's business feed from its position, one delivery per subscribed
    event, the position advanced past every event read: one short transaction per batch.
    An endpoint another worker is fanning out is skipped."""
    created = 0
    while True:
        with transaction.atomic():
            endpoint = (
                WebhookEndpoint.objects.select_for_update(skip_locked=True)
                .filter(pk=endpoint_id, active=True)
                .first()
            )
            if endpoint is None:
                return created
            events = Event.objects.for_business(endpoint.business_id).visible().in_feed_order()
            if endpoint.feed_event_id is None:
                events = events.filter(created_at__gte=endpoint.created_at)
            else:
                position = Event(
                    pk=endpoint.feed_event_id, transaction_id=endpoint.feed_transaction_id
                )
                events = events.after(position)
            batch = list(events.values_list("pk", "transaction_id", "type")[:FAN_OUT_BATCH])
            if not batch:
                return created
            now = timezone.now()
            subscribed = [
                Delivery(endpoint=endpoint, event_id=event_id, created_at=now, next_attempt_at=now)
                for event_id, _, event_type in batch
                if "*" in endpoint.event_types or event_type in endpoint.event_types
            ]
            Delivery.objects.bulk_create(subscribed, ignore_conflicts=True)
            endpoint.feed_event_id, endpoint.feed_transaction_id = batch[-1][0], batch[-1][1]
            endpoint.save(update_fields=["feed_event_id", "feed_transaction_id"])
        created += len(subscribed)
        if len(batch) < FAN_OUT_BATCH:
            return created


def claim(limit: int, scheduled_by: dt.datetime | None = None) -> list[Delivery]:
    """Lease up to `limit` due deliveries (those due by `scheduled_by`, when given) and
    count their attempts, which start now."""
    if limit <= 0:
        return []
    with transaction.atomic():
        now = timezone.now()
        due = Delivery.objects.due(now)
        if scheduled_by is not None:
            due = due.filter(next_attempt_at__lte=scheduled_by)
        deliveries = list(
            due.select_related("endpoint", "event")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_attempt_at", "id")[:limit]
        )
        if not deliveries:
            return []
        lease = now + dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT) + LEASE_MARGIN
        Delivery.objects.filter(pk__in=[delivery.pk for delivery in deliveries]).update(
            attempts=F("attempts") + 1, last_attempt_at=now, leased_until=lease
        )
    for delivery in deliveries:
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.leased_until = lease
    return deliveries


def attempt(delivery: Delivery) -> Outcome:
    """POST the event to the endpoint's current URL, signed, and record the outcome."""
    event, endpoint = delivery.event, delivery.endpoint
    body = JSONRenderer().render(event.envelope())
    now = timezone.now()
    headers = signed_headers(
        endpoint.signing_secrets(now), event.public_id, int(now.timestamp()), body
    )
    outcome = post(endpoint.url, headers, body)
    logger.info(
        "delivery %s of %s to endpoint %s, attempt %s: %s",
        delivery.pk,
        event.public_id,
        endpoint.pk,
        delivery.attempts,
        "succeeded" if outcome.succeeded else outcome.error,
        extra={
            "delivery_id": delivery.pk,
            "event_id": event.public_id,
            "endpoint_id": endpoint.pk,
            "attempt": delivery.attempts,
            "succeeded": outcome.succeeded,
        },
    )
    with _database_turn():
        record(delivery, outcome)
    return outcome


def retry_delay(attempts: int) -> dt.timedelta | None:
    """The wait after the `attempts`-th attempt failed (+0-10% jitter, so that receivers
    coming back are not hit by every retry at once), or None after the last."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    return dt.timedelta(seconds=schedule[attempts - 1] * (1 + random.random() * RETRY_JITTER))


def record(delivery: Delivery, outcome: Outcome) -> None:
    """The attempt's outcome, unless the lease expired meanwhile (another worker owns the
    delivery now, or the endpoint was disabled): then it is dropped."""
    now = timezone.now()
    endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    with transaction.atomic():
        leased = Delivery.objects.leased_by(delivery)
        if outcome.succeeded:
            if leased.update(
                status=DeliveryStatus.SUCCEEDED,
                last_response_status=outcome.response_status,
                last_error="",
                next_attempt_at=None,
                leased_until=None,
            ):
                endpoints.filter(failing_since__isnull=False).update(failing_since=None)
            return
        wait = retry_delay(delivery.attempts)
        if not leased.update(
            status=DeliveryStatus.FAILED if wait is None else DeliveryStatus.PENDING,
            next_attempt_at=None if wait is None else now + wait,
            last_response_status=outcome.response_status,
            last_error=outcome.error[:500],
            leased_until=None,
        ):
            return
        endpoints.filter(failing_since__isnull=True).update(failing_since=now)
        endpoint = endpoints.select_for_update().get()
        if not endpoint.active:
            return
        if outcome.gone:
            endpoint.deactivate("the receiver answered 410 Gone")
        elif endpoint.failing_since <= now - dt.timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS):
            endpoint.deactivate(
                f"no attempt succeeded for {settings.WEBHOOK_DISABLE_AFTER_DAYS:g} days"
            )


def _attempt_in_thread(delivery: Delivery) -> None:
    try:
        attempt(delivery)
    except Exception:
        # The lease expires and the delivery is taken again; the worker carries on.
        logger.exception(
            "delivery %s of %s: the attempt's outcome was not recorded",
            delivery.pk,
            delivery.event_public_id,
            extra={"delivery_id": delivery.pk, "event_id": delivery.event_public_id},
        )
    finally:
        connection.close()  # this thread's own connection


class _Listener:
    """Waits for a NOTIFY on a direct PostgreSQL connection (to DATABASE_DIRECT_URL's
    address when set: through PgBouncer's transaction mode a LISTEN hears nothing), at
    most `seconds`; where there is none (SQLite, WEBHOOK_WORKER_LISTEN=0, a failed
    LISTEN), just waits."""

    def __init__(self, stopping: threading.Event):
        self.stopping = stopping
        self.enabled = connection.vendor == "postgresql" and settings.WEBHOOK_WORKER_LISTEN
        self.connection = None

    def wait(self, seconds: float) -> None:
        if not self.enabled:
            self.stopping.wait(seconds)
            return
        import psycopg

        try:
            if self.connection is None:
                self.connection = psycopg.connect(
                    **direct_connection_params(connection), autocommit=True
                )
                self.connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
            for _ in self.connection.notifies(timeout=seconds, stop_after=1):
                pass
        except psycopg.Error as error:
            logger.warning("LISTEN failed (%s): polling every %s s", error, seconds)
            self.close()
            self.stopping.wait(seconds)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class Worker:
    """Fans out and attempts until stopped (`stop()`: SIGTERM, SIGINT), with up to
    `concurrency` attempts in flight, each in a thread with its own connection."""

    def __init__(self, concurrency: int = 4):
        self.concurrency = concurrency
        self.stopping = threading.Event()
        self.in_flight: set[futures.Future] = set()
        self.fanned_out_at = -math.inf

    def stop(self, *signal_arguments) -> None:
        self.stopping.set()

    def run(self, *, once: bool = False) -> None:
        listener = _Listener(self.stopping)
        if once:
            with _database_turn():
                fan_out()
        # --once makes the attempts due when it starts, new deliveries included.
        started = timezone.now()
        with futures.ThreadPoolExecutor(self.concurrency, "webhook-attempt") as pool:
            try:
                while not self.stopping.is_set():
                    claimed = self._cycle(pool, scheduled_by=started if once else None)
                    if claimed is None:  # the database is unreachable
                        self.stopping.wait(POLL_INTERVAL)
                        self.fanned_out_at = -math.inf
                    elif len(self.in_flight) >= self.concurrency:
                        futures.wait(self.in_flight, POLL_INTERVAL, futures.FIRST_COMPLETED)
                    elif not claimed:
                        if once:
                            futures.wait(self.in_flight)
                            if not self._cycle(pool, scheduled_by=started):
                                break
                        else:
                            listener.wait(POLL_INTERVAL)
                            self.fanned_out_at = -math.inf  # woken: new events, perhaps
            finally:
                listener.close()
                futures.wait(self.in_flight)  # finish the attempts in flight
        connection.close()

    def _cycle(self, pool, *, scheduled_by: dt.datetime | None) -> int | None:
        """Fan out (unless --once, which did, or a busy worker did within
        FAN_OUT_WHILE_BUSY), then lease what the free threads can take; None when the
        database is unreachable (the connection is dropped, to be opened afresh next time)."""
        self.in_flight = {future for future in self.in_flight if not future.done()}
        try:
            with _database_turn():
                if scheduled_by is None and time.monotonic() >= (
                    self.fanned_out_at + FAN_OUT_WHILE_BUSY
                ):
                    fan_out()
                    self.fanned_out_at = time.monotonic()
                deliveries = claim(self.concurrency - len(self.in_flight), scheduled_by)
        except DatabaseError as error:
            logger.warning("database unavailable (%s): retrying in %s s", error, POLL_INTERVAL)
            connection.close()
            return None
        for delivery in deliveries:
            self.in_flight.add(pool.submit(_attempt_in_thread, delivery))
        return len(deliveries)
