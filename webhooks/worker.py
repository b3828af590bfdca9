"""The webhook worker (SPEC §8.4, §13): the loop, its threads, LISTEN/poll and the HTTP
attempt. What a step does to the database is the models' (webhooks/models.py):
`WebhookEndpoint.objects.fan_out()` turns the feed into deliveries,
`Delivery.objects.lease()` takes the due ones, `Delivery.record_outcome()` records an
attempt's outcome.

No database transaction or row lock is open while a request is in flight: a delivery
is taken by a lease, the attempt is made, and its outcome is recorded only while the
lease is still this worker's. A worker killed mid-attempt leaves its lease to expire,
and the delivery is taken again: delivery is at least once.
"""

import contextlib
import datetime as dt
import logging
import math
import threading
import time
from concurrent import futures

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from core.direct_connection import direct_connection_params
from core.renderers import JSONRenderer
from webhooks.models import Delivery, WebhookEndpoint
from webhooks.sending import Outcome, post
from webhooks.signing import signed_headers

logger = logging.getLogger("webhooks.worker")

# Every statement that inserts events notifies this channel at commit (a trigger:
# events/migrations/0002_notify_on_insert.py), so an idle worker starts at once rather
# than at its next one-second poll.
NOTIFY_CHANNEL = "webhook_events"
POLL_INTERVAL = 1.0
# While attempts keep the worker busy it fans out at most this often: fanning out before
# every lease cost the busy worker more queries than the attempts themselves.
FAN_OUT_WHILE_BUSY = 0.1
# SQLite has one writer at a time anyway, and its shared in-memory database (the test
# database) answers "table is locked" at once rather than after the busy timeout: on
# SQLite the worker's threads take turns at the database.
_sqlite_turn = threading.Lock()


def _database_turn():
    return _sqlite_turn if connection.vendor == "sqlite" else contextlib.nullcontext()


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
        delivery.record_outcome(outcome)
    return outcome


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
                WebhookEndpoint.objects.fan_out()
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
                    WebhookEndpoint.objects.fan_out()
                    self.fanned_out_at = time.monotonic()
                deliveries = Delivery.objects.lease(
                    self.concurrency - len(self.in_flight), scheduled_by=scheduled_by
                )
        except DatabaseError as error:
            logger.warning("database unavailable (%s): retrying in %s s", error, POLL_INTERVAL)
            connection.close()
            return None
        for delivery in deliveries:
            self.in_flight.add(pool.submit(_attempt_in_thread, delivery))
        return len(deliveries)
