"""Webhook delivery (SPEC §8.4, §13), with a real receiver on 127.0.0.1 and the worker run
in-process (its attempts in threads, each with its own connection)."""

import datetime as dt
import http.server
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
import standardwebhooks
from django.utils import timezone

from core.renderers import JSONRenderer
from events.models import Event
from tests.conftest import requires_postgresql
from webhooks import sending
from webhooks.models import (
    Delivery,
    WebhookEndpoint,
    WebhookEndpointQuerySet,
    new_secret,
    retry_delay,
)
from webhooks.worker import Worker


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next of `answers` (the last one repeats): a status
    code, ("drip", seconds) for a body dripped a byte at a time, or ("sleep", seconds)."""

    port: int = 0
    answers: list = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    keep_alive: bool = False  # HTTP/1.1: one connection carries several requests
    connections: set = field(default_factory=set)

    def __post_init__(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if self.keep_alive else "HTTP/1.0"

            def do_POST(self):
                receiver.connections.add(self.client_address)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body))
                answer = receiver.answers[min(len(receiver.received), len(receiver.answers)) - 1]
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    answer = 200
                if isinstance(answer, tuple) and answer[0] == "drip":
                    self.send_response(200)
                    self.send_header("content-length", "1000")
                    self.end_headers()
                    deadline = time.monotonic() + answer[1]
                    while time.monotonic() < deadline:
                        try:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(0.05)
                    return
                self.send_response(answer)
                if 300 <= answer < 400:
                    self.send_header("location", "/elsewhere")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_TIMEOUT = 2
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 0]
    settings.WEBHOOK_WORKER_LISTEN = False
    return settings


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


def endpoint_for(business, url: str, **fields) -> WebhookEndpoint:
    fields.setdefault("event_types", ["*"])
    return WebhookEndpoint.objects.create(business=business, url=url, **fields)


def event_of(business, event_type: str = "booking.created") -> Event:
    """A committed event, once the feed shows it: on PostgreSQL, once every transaction
    older than its own has ended (on a shared server, other sessions' too)."""
    event = Event.objects.create(business=business, type=event_type, data={"booking": {"id": 7}})
    deadline = time.monotonic() + 30
    while not Event.objects.visible().filter(pk=event.pk).exists():
        assert time.monotonic() < deadline, "the event never became visible"
        time.sleep(0.05)
    return event


def run_worker() -> None:
    Worker(concurrency=3).run(once=True)


def test_an_event_is_posted_signed_and_the_delivery_succeeds(business, receiver):
    endpoint = endpoint_for(business, receiver.url)
    event = event_of(business)

    run_worker()

    [request] = receiver.received
    payload = standardwebhooks.Webhook(endpoint.secret).verify(request.body, request.headers)
    assert request.body == JSONRenderer().render(event.envelope())
    assert payload["timestamp"].endswith("Z")
    assert payload["id"] == event.public_id == request.headers["webhook-id"]
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("booking-status")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == (
        "succeeded",
        1,
        200,
    )
    assert delivery.leased_until is None


def test_a_500_is_retried_with_the_same_id_and_body(business, receiver):
    receiver.answers = [500, 200]
    endpoint_for(business, receiver.url)
    event_of(business)

    run_worker()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
    assert delivery.endpoint.failing_since is not None
    run_worker()

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == (
        "succeeded",
        2,
        200,
    )
    assert delivery.endpoint.failing_since is None  # a success stops the clock
    delivery.endpoint.refresh_from_db()
    assert delivery.endpoint.failing_since is None


def test_after_the_last_retry_the_delivery_is_failed(business, receiver):
    receiver.answers = [503]
    endpoint_for(business, receiver.url)
    event_of(business)

    for _ in range(4):
        run_worker()

    assert len(receiver.received) == 3  # the first attempt and the schedule's two retries
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)


def test_retries_wait_the_schedule_plus_up_to_ten_percent(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [100, 1000]
    first = [retry_delay(1).total_seconds() for _ in range(200)]
    assert min(first) >= 100
    assert max(first) <= 110
    assert max(first) - min(first) > 1  # jittered
    assert 1000 <= retry_delay(2).total_seconds() <= 1100
    assert retry_delay(3) is None


def test_a_slow_drip_receiver_times_out_within_the_deadline(business, receiver, settings):
    settings.WEBHOOK_TIMEOUT = 1
    receiver.answers = [("drip", 10)]
    endpoint_for(business, receiver.url)
    event_of(business)

    started = time.monotonic()
    run_worker()

    assert time.monotonic() - started < 3
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.last_error == "timed out after 1 s"


def test_a_reused_connection_is_still_bound_by_the_deadline(settings):
    settings.WEBHOOK_TIMEOUT = 1
    receiver = Receiver(answers=[200, ("drip", 10)], keep_alive=True)
    try:
        first = sending.post(receiver.url, {}, b"{}")
        started = time.monotonic()
        second = sending.post(receiver.url, {}, b"{}")
    finally:
        receiver.stop()

    assert first.succeeded
    assert second.error == "timed out after 1 s"
    assert time.monotonic() - started < 3
    assert len(receiver.connections) == 1


def test_refused_while_the_receiver_is_down_then_delivered_once_it_is_back(business):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    endpoint_for(business, f"http://127.0.0.1:{port}/hook")
    event_of(business)

    run_worker()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.last_error.startswith("connection failed")

    receiver = Receiver(port=port)
    try:
        run_worker()
    finally:
        receiver.stop()
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_a_410_disables_the_endpoint(business, receiver):
    receiver.answers = [410]
    endpoint = endpoint_for(business, receiver.url)
    event_of(business)
    event_of(business, "booking.updated")

    Worker(concurrency=1).run(once=True)

    endpoint.refresh_from_db()
    assert not endpoint.active
    assert "410" in endpoint.disabled_reason
    assert len(receiver.received) == 1  # no attempt after the 410
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
    run_worker()
    assert len(receiver.received) == 1


def test_a_redirect_is_not_followed(business, receiver):
    receiver.answers = [302, 200]
    endpoint_for(business, receiver.url)
    event_of(business)

    run_worker()

    assert [request.path for request in receiver.received] == ["/hook"]
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_response_status) == ("pending", 302)
    assert delivery.last_error == "redirect not followed"


def test_a_rotated_secret_signs_beside_the_new_one_newest_first(business, receiver):
    old_secret = new_secret()
    expires_at = (timezone.now() + dt.timedelta(hours=23)).isoformat()
    expired = {"secret": new_secret(), "expires_at": timezone.now().isoformat()}
    endpoint = endpoint_for(business, receiver.url)
    endpoint.previous_secrets = [{"secret": old_secret, "expires_at": expires_at}, expired]
    endpoint.save()
    event_of(business)

    run_worker()

    [request] = receiver.received
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    for secret in (endpoint.secret, old_secret):
        standardwebhooks.Webhook(secret).verify(request.body, request.headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(expired["secret"]).verify(request.body, request.headers)
    only_new = {**request.headers, "webhook-signature": signatures[0]}
    standardwebhooks.Webhook(endpoint.secret).verify(request.body, only_new)


def test_an_endpoint_receives_only_its_business_events_of_its_types_after_it_was_made(
    business, other_business, receiver
):
    event_of(business)  # before the endpoint existed
    endpoint = endpoint_for(business, receiver.url, event_types=["booking.deleted"])
    inactive = endpoint_for(business, receiver.url, active=False)
    event_of(other_business, "booking.deleted")
    wanted = event_of(business, "booking.deleted")
    event_of(business, "booking.updated")

    run_worker()

    assert [request.headers["webhook-id"] for request in receiver.received] == [wanted.public_id]
    assert list(Delivery.objects.values_list("endpoint", "event")) == [(endpoint.pk, wanted.pk)]
    endpoint.refresh_from_db()
    assert endpoint.feed_event_id == Event.objects.filter(business=business).last().pk
    assert not inactive.deliveries.exists()


def test_fan_out_resumes_from_the_endpoint_position(business, receiver):
    endpoint_for(business, receiver.url)
    first = event_of(business)
    run_worker()
    second = event_of(business)
    run_worker()

    assert [request.headers["webhook-id"] for request in receiver.received] == [
        first.public_id,
        second.public_id,
    ]
    assert Delivery.objects.count() == 2


def test_pending_deliveries_go_to_the_endpoint_current_url(business, receiver):
    receiver.answers = [500]
    endpoint = endpoint_for(business, receiver.url)
    event_of(business)
    run_worker()
    moved = Receiver()
    try:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=moved.url)
        run_worker()
    finally:
        moved.stop()
    assert len(receiver.received) == 1
    assert len(moved.received) == 1
    assert Delivery.objects.get().status == "succeeded"


def test_an_endpoint_failing_for_the_disable_period_is_disabled(business, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER_DAYS = 5
    receiver.answers = [500]
    endpoint = endpoint_for(business, receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - dt.timedelta(days=5, minutes=1)
    )
    event_of(business)

    run_worker()

    endpoint.refresh_from_db()
    assert not endpoint.active
    assert endpoint.disabled_reason == "no attempt succeeded for 5 days"
    assert Delivery.objects.get().last_error == "endpoint disabled"


def test_a_failure_starts_the_clock_only_once(business, receiver):
    receiver.answers = [500]
    endpoint = endpoint_for(business, receiver.url)
    event_of(business)
    run_worker()
    endpoint.refresh_from_db()
    started = endpoint.failing_since
    run_worker()
    endpoint.refresh_from_db()
    assert endpoint.failing_since == started
    assert endpoint.active


def test_a_private_address_is_refused_without_the_development_flag(business, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    endpoint_for(business, receiver.url)
    event_of(business)

    run_worker()

    assert receiver.received == []
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert "not a public internet address" in delivery.last_error


def test_a_leased_delivery_is_not_taken_twice_until_its_lease_expires(business, receiver):
    endpoint_for(business, receiver.url)
    event_of(business)

    WebhookEndpoint.objects.fan_out()
    [taken] = Delivery.objects.lease(5)
    assert Delivery.objects.lease(5) == []
    Delivery.objects.filter(pk=taken.pk).update(leased_until=timezone.now())
    [again] = Delivery.objects.lease(5)
    assert (again.pk, again.attempts) == (taken.pk, 2)


def run_in_thread(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run)
    thread.start()
    return thread


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_worker_survives_a_lost_database_and_carries_on(business, receiver, monkeypatch):
    from django.db import OperationalError

    real_fan_out = WebhookEndpointQuerySet.fan_out
    failures = []

    def database_gone_twice(endpoints):
        if len(failures) < 2:
            failures.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real_fan_out(endpoints)

    monkeypatch.setattr(WebhookEndpointQuerySet, "fan_out", database_gone_twice)
    endpoint_for(business, receiver.url)
    event_of(business)
    worker = Worker(concurrency=2)
    thread = run_in_thread(worker)
    try:
        wait_for(lambda: receiver.received, 15)
    finally:
        worker.stop()
        thread.join(10)
    assert len(failures) == 2
    assert not thread.is_alive()
    wait_for(lambda: Delivery.objects.get().status == "succeeded", 5)


@requires_postgresql
def test_a_notify_wakes_an_idle_worker_before_its_poll(business, receiver, settings, monkeypatch):
    from django.db import connection

    from webhooks import worker as worker_module

    settings.WEBHOOK_WORKER_LISTEN = True
    monkeypatch.setattr(worker_module, "POLL_INTERVAL", 30)
    endpoint_for(business, receiver.url)
    worker = Worker(concurrency=2)
    thread = run_in_thread(worker)
    try:
        time.sleep(1)  # idle, listening
        event = event_of(business)
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {worker_module.NOTIFY_CHANNEL}")
        wait_for(lambda: receiver.received, 10)
    finally:
        worker.stop()
        with connection.cursor() as cursor:  # the listener's wait ends at once
            cursor.execute(f"NOTIFY {worker_module.NOTIFY_CHANNEL}")
        thread.join(40)
    assert receiver.received[0].headers["webhook-id"] == event.public_id
