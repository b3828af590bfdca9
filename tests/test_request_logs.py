"""Each request logged as one line, JSON with LOG_FORMAT=json (SPEC §12): request id,
method, URL pattern, status, duration, the token's business; the webhook worker's
lines carry the event and delivery ids."""

import datetime as dt
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.logs import JsonFormatter, RequestIdFilter
from tests.test_webhook_delivery import Receiver, endpoint_for, event_of, run_worker
from webhooks.models import Delivery

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def json_lines():
    """The JSON lines that the `access`, `django.request` and `webhooks.worker`
    loggers write while the test runs, parsed back, through the formatter and filter
    settings.LOGGING gives the console handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("access", "django.request", "webhooks.worker")]
    for logger in loggers:
        logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger in loggers:
        logger.removeHandler(handler)


def request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "access"]


def test_a_request_is_one_json_line_with_its_pattern_and_business(
    api, business, make_booking, json_lines
):
    booking = make_booking()
    response = api.post(
        f"/v2/bookings/{booking.pk}/change_status",
        {"status": "tentative"},
        HTTP_X_REQUEST_ID="trace-42",
    )
    assert response.status_code == 200
    [line] = request_lines(json_lines())
    assert line["request_id"] == "trace-42"
    assert line["method"] == "POST"
    assert line["route"] == "v2/bookings/<pk>/change_status"
    assert line["status"] == 200
    assert line["business_id"] == business.pk
    assert 0 < line["duration_ms"] < 60_000
    assert line["level"] == "INFO"
    stamped = dt.datetime.fromisoformat(line["timestamp"])
    assert line["timestamp"].endswith("Z")
    assert abs(dt.datetime.now(dt.UTC) - stamped) < dt.timedelta(minutes=1)


def test_another_business_booking_is_logged_as_a_404_of_the_caller(
    other_api, other_business, make_booking, json_lines
):
    booking = make_booking()
    response = other_api.get(f"/v2/bookings/{booking.pk}")
    assert response.status_code == 404
    [line] = request_lines(json_lines())
    assert (line["route"], line["status"]) == ("v2/bookings/<pk>", 404)
    assert line["business_id"] == other_business.pk
    assert line["request_id"] == response["X-Request-ID"]


@pytest.mark.django_db
def test_without_a_token_the_business_is_null(client, json_lines):
    response = client.get("/v2/bookings")
    assert response.status_code == 401
    [line] = request_lines(json_lines())
    assert (line["route"], line["status"], line["business_id"]) == ("v2/bookings", 401, None)


@pytest.mark.django_db
def test_an_unknown_path_is_unmatched_and_every_line_of_it_names_the_request(client, json_lines):
    response = client.get("/v2/nowhere/12345")
    assert response.status_code == 404
    lines = json_lines()
    [line] = request_lines(lines)
    assert line["route"] == "unmatched"
    # Django's own "Not Found" warning, written while serving it, names it too.
    assert {other["request_id"] for other in lines} == {response["X-Request-ID"]}
    assert len(lines) == 2


@pytest.mark.django_db
def test_an_admin_page_logs_its_pattern(admin_client, json_lines):
    response = admin_client.get("/admin/bookings/booking/")
    assert response.status_code == 200
    [line] = request_lines(json_lines())
    assert (line["route"], line["method"], line["business_id"]) == (
        "admin/bookings/booking/",
        "GET",
        None,
    )


@pytest.mark.django_db(transaction=True)
def test_worker_lines_carry_the_event_and_delivery_ids(business, json_lines, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_WORKER_LISTEN = False
    receiver = Receiver()
    try:
        endpoint_for(business, receiver.url)
        event = event_of(business)
        run_worker()
    finally:
        receiver.stop()
    [line] = [line for line in json_lines() if line["logger"] == "webhooks.worker"]
    delivery = Delivery.objects.get()
    assert (line["event_id"], line["delivery_id"]) == (event.public_id, delivery.pk)
    assert line["succeeded"] is True
    assert line["request_id"] is None


PRODUCTION = {"DJANGO_PRODUCTION": "1", "DJANGO_SECRET_KEY": "x" * 50}


def settings_in_a_fresh_process(**environment: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LOG_"))}
    env.update(environment)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.LOG_FORMAT, settings.LOGGING['handlers']['console']['formatter'])",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "plain plain"),
        ({"DJANGO_PRODUCTION": "1", "DJANGO_SECRET_KEY": "x" * 50}, "json json"),
        ({"LOG_FORMAT": "json"}, "json json"),
        (
            {"DJANGO_PRODUCTION": "1", "DJANGO_SECRET_KEY": "x" * 50, "LOG_FORMAT": "plain"},
            "plain plain",
        ),
    ],
)
def test_log_format_is_plain_in_development_and_json_in_production(environment, expected):
    result = settings_in_a_fresh_process(**environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_an_unknown_log_format_is_refused_at_start():
    result = settings_in_a_fresh_process(LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or plain" in result.stderr
