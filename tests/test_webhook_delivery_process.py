"""The whole path with a real `manage.py deliver_webhooks` process against the test
database (PostgreSQL: the SQLite test database lives in the test process's memory)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import standardwebhooks

from tests.conftest import requires_postgresql, url_of_the_test_database, wait_for
from tests.test_webhook_delivery import Receiver, endpoint_for, event_of
from webhooks.models import Delivery, WebhookEndpoint

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


def start_worker(*arguments: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": url_of_the_test_database(),
        "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1",
        "WEBHOOK_ALLOW_HTTP": "1",
        "WEBHOOK_TIMEOUT": "2",
        "WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "deliver_webhooks", *arguments],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_sigterm_finishes_the_attempt_in_flight_and_exits_0(business, receiver):
    receiver.answers = [("sleep", 1.5)]
    endpoint = endpoint_for(business, receiver.url)
    worker = start_worker()
    try:
        event = event_of(business)
        wait_for(lambda: receiver.received, 10, "the attempt")
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=15)
    finally:
        worker.kill()
        worker.wait()

    assert worker.returncode == 0, output.decode()
    [request] = receiver.received
    payload = standardwebhooks.Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["id"] == event.public_id
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert f"of {event.public_id}" in output.decode()  # logged with the event id
    assert "LISTEN failed" not in output.decode()


def test_a_worker_killed_mid_batch_loses_nothing(business, receiver):
    receiver.answers = [("sleep", 5)] * 3 + [200]
    endpoint_for(business, receiver.url)
    events = [event_of(business) for _ in range(6)]
    killed = start_worker("--concurrency", "3")
    try:
        wait_for(lambda: len(receiver.received) >= 3, 15, "three attempts in flight")
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
    finally:
        killed.kill()
    assert Delivery.objects.filter(status="succeeded").count() < 6

    successor = start_worker()
    try:
        wait_for(
            lambda: Delivery.objects.filter(status="succeeded").count() == 6,
            30,
            "every delivery to succeed",
        )
    finally:
        successor.send_signal(signal.SIGTERM)
        successor.communicate(timeout=15)

    received = {request.headers["webhook-id"] for request in receiver.received}
    assert received == {event.public_id for event in events}
    assert Delivery.objects.count() == 6


def test_once_delivers_what_is_due_and_exits(business, receiver):
    endpoint_for(business, receiver.url)
    events = [event_of(business) for _ in range(3)]

    worker = start_worker("--once")
    output, _ = worker.communicate(timeout=30)

    assert worker.returncode == 0, output.decode()
    assert sorted(request.headers["webhook-id"] for request in receiver.received) == sorted(
        event.public_id for event in events
    )
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}


def run_until(condition, what: str, *arguments: str) -> str:
    """Run a worker until `condition()` holds, then stop it; its output."""
    worker = start_worker(*arguments)
    try:
        wait_for(condition, 30, what)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=15)
    assert worker.returncode == 0, output.decode()
    return output.decode()


def test_a_failing_receiver_is_retried_on_the_schedule_then_failed(business, receiver):
    receiver.answers = [503]
    endpoint = endpoint_for(business, receiver.url)
    event_of(business)

    run_until(lambda: Delivery.objects.filter(status="failed").exists(), "the last retry")

    assert len(receiver.received) == 4  # the first attempt and the schedule's three retries
    delivery = Delivery.objects.get()
    assert (delivery.attempts, delivery.last_error, delivery.next_attempt_at) == (
        4,
        "HTTP 503",
        None,
    )
    endpoint.refresh_from_db()
    assert endpoint.active
    assert endpoint.failing_since is not None


def test_a_410_disables_the_endpoint_and_fails_what_it_still_had_pending(business, receiver):
    receiver.answers = [410]
    endpoint = endpoint_for(business, receiver.url)
    for _ in range(3):
        event_of(business)

    run_until(
        lambda: not WebhookEndpoint.objects.get(pk=endpoint.pk).active,
        "the endpoint to be disabled",
        "--concurrency",
        "1",
    )

    assert len(receiver.received) == 1
    endpoint.refresh_from_db()
    assert endpoint.disabled_reason == "the receiver answered 410 Gone"
    assert set(Delivery.objects.values_list("status", "last_error")) == {
        ("failed", "endpoint disabled")
    }
    assert Delivery.objects.filter(last_response_status=410).count() == 1
    assert Delivery.objects.count() == 3
