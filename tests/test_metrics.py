"""GET /metrics (SPEC §12, §13): Prometheus text, requests counted by URL pattern,
the webhook backlog read from the table; gated by METRICS_ENABLED and METRICS_TOKEN;
summed over gunicorn's workers in multiprocess mode."""

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent import futures
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import ApiToken
from events.models import Event
from tests.conftest import requires_postgresql
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint

ROOT = Path(__file__).resolve().parent.parent
# What Prometheus 2.x sends.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.fixture
def metrics_on(settings, db):
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = ""
    return settings


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted label pairs): value}, parsed by prometheus-client."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, **headers) -> dict[tuple, float]:
    response = client.get("/metrics", HTTP_ACCEPT=PROMETHEUS_ACCEPT, **headers)
    assert response.status_code == 200, response.content
    return samples(response.content.decode())


def change_status_count(found: dict, status: str = "200") -> float:
    labels = (("method", "POST"), ("route", "v2/bookings/<pk>/change_status"), ("status", status))
    return found.get(("http_requests_total", labels), 0)


def test_requests_are_counted_by_pattern_not_path(metrics_on, api, client, make_booking):
    first, second = make_booking(), make_booking()
    before = scrape(client)
    for booking in (first, second):
        response = api.post(f"/v2/bookings/{booking.pk}/change_status", {"status": "tentative"})
        assert response.status_code == 200
    assert api.post("/v2/bookings/99999/change_status", {"status": "lost"}).status_code == 404
    after = scrape(client)

    assert change_status_count(after) - change_status_count(before) == 2
    assert change_status_count(after, "404") - change_status_count(before, "404") == 1
    assert not any(str(first.pk) in dict(labels).get("route", "") for _, labels in after)
    histogram = (
        "http_request_duration_seconds_count",
        (("method", "POST"), ("route", "v2/bookings/<pk>/change_status")),
    )
    assert after[histogram] - before.get(histogram, 0) == 3


def test_unknown_paths_share_one_label_set(metrics_on, client):
    before = scrape(client)
    for path in ("/nope", "/v2/nothing/1", "/v2/nothing/2"):
        assert client.get(path).status_code == 404
    after = scrape(client)
    key = ("http_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "404")))
    assert after[key] - before.get(key, 0) == 3


def test_the_answer_is_prometheus_text(metrics_on, client):
    response = client.get("/metrics", HTTP_ACCEPT=PROMETHEUS_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert "# TYPE http_requests_total counter" in response.content.decode()
    assert "# TYPE http_request_duration_seconds histogram" in response.content.decode()


def test_a_client_that_accepts_only_json_gets_a_406_in_json(metrics_on, client):
    response = client.get("/metrics", HTTP_ACCEPT="application/json")
    assert response.status_code == 406
    assert "detail" in response.json()


@pytest.mark.django_db
def test_disabled_it_is_a_404_token_or_not(settings, client):
    settings.METRICS_ENABLED = False
    settings.METRICS_TOKEN = "s3cret"
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer s3cret"}):
        response = client.get("/metrics", **headers)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Bearer ", "Token s3cret", "s3cret", "Bearer s3cret-and-more"],
)
def test_with_a_token_set_anything_but_it_is_a_401(metrics_on, client, authorization):
    metrics_on.METRICS_TOKEN = "s3cret"
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    response = client.get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert "Bearer <METRICS_TOKEN>" in response.json()["detail"]


def test_with_a_token_set_the_bearer_gets_the_metrics(metrics_on, client):
    metrics_on.METRICS_TOKEN = "s3cret"
    assert scrape(client, HTTP_AUTHORIZATION="Bearer s3cret")


def test_an_api_token_is_neither_needed_nor_throttled(metrics_on, client, settings):
    metrics_on.METRICS_TOKEN = "s3cret"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"failed_authentication": "2/min"},
    }
    statuses = {
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer no").status_code for _ in range(5)
    }
    assert statuses == {401}
    assert scrape(client, HTTP_AUTHORIZATION="Bearer s3cret")


def make_delivery(business, status: str, created_at: dt.datetime) -> Delivery:
    endpoint = WebhookEndpoint.objects.create(
        business=business, url="https://hooks.example.com/in", event_types=["*"]
    )
    event = Event.objects.create(business=business, type="booking.created", data={})
    return Delivery.objects.create(
        endpoint=endpoint, event=event, status=status, created_at=created_at
    )


def backlog(found: dict) -> tuple[float, float, float]:
    return (
        found[("webhook_deliveries", (("status", "pending"),))],
        found[("webhook_deliveries", (("status", "failed"),))],
        found[("webhook_oldest_pending_delivery_age_seconds", ())],
    )


def test_the_delivery_gauges_reflect_the_table(metrics_on, client, business):
    assert backlog(scrape(client)) == (0, 0, 0)
    now = timezone.now()
    make_delivery(business, DeliveryStatus.PENDING, now - dt.timedelta(minutes=10))
    make_delivery(business, DeliveryStatus.PENDING, now - dt.timedelta(minutes=1))
    make_delivery(business, DeliveryStatus.FAILED, now - dt.timedelta(days=3))
    make_delivery(business, DeliveryStatus.SUCCEEDED, now - dt.timedelta(days=9))

    pending, failed, oldest_age = backlog(scrape(client))
    assert (pending, failed) == (2, 1)
    assert 600 <= oldest_age < 600 + 60


def test_a_scrape_costs_eight_queries(metrics_on, client, business, django_assert_num_queries):
    make_delivery(business, DeliveryStatus.PENDING, timezone.now())
    # The webhook backlog: two. The scheduler's: the reminder lengths and the
    # completion delays in use, and for each job that can have work due (no business
    # completes appointments here) its count and its first due record.
    with django_assert_num_queries(8):
        assert client.get("/metrics", HTTP_ACCEPT=PROMETHEUS_ACCEPT).status_code == 200


def test_metrics_are_left_out_of_the_api_schema(client, db):
    schema = client.get("/v2/schema?format=json").json()
    assert not any(path.startswith("/metrics") for path in schema["paths"])


# --- multiprocess mode: a real gunicorn, two workers ---------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(port: int, method: str, path: str, headers: dict, body: bytes | None = None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_under_gunicorn_a_scrape_sums_both_workers(api_user, make_booking, tmp_path):
    _, key = ApiToken.objects.issue(api_user)
    bookings = [make_booking() for _ in range(4)]
    database = connection.settings_dict
    port = free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"left by an earlier run")
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "METRICS_"))},
        "DATABASE_URL": (
            f"postgres://{database['USER']}:{database['PASSWORD'] or ''}"
            f"@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        ),
        "METRICS_ENABLED": "1",
        "METRICS_TOKEN": "scrape-me",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "LOG_FORMAT": "json",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "config/gunicorn.py",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    scrape_headers = {"Authorization": "Bearer scrape-me", "Accept": PROMETHEUS_ACCEPT}
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                if http(port, "GET", "/metrics", scrape_headers)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.2)

        def change(index: int):
            booking = bookings[index % len(bookings)]
            return http(
                port,
                "POST",
                f"/v2/bookings/{booking.pk}/change_status",
                {
                    "Authorization": f"Token {key}",
                    "Content-Type": "application/json",
                    "X-Request-ID": f"load-{index}",
                },
                json.dumps({"status": ["tentative", "lead"][index % 2]}).encode(),
            )

        # Rounds of 40 concurrent requests until both workers have served some (the
        # kernel may hand a busy machine's connections to one worker for a while).
        sent = 0
        with futures.ThreadPoolExecutor(8) as pool:
            for _round in range(10):
                answers = list(pool.map(change, range(sent, sent + 40)))
                assert [status for status, _, _ in answers] == [200] * 40
                assert {headers["X-Request-ID"] for _, headers, _ in answers} == {
                    f"load-{index}" for index in range(sent, sent + 40)
                }
                sent += 40
                if len(list(multiproc.glob("counter_*.db"))) >= 2:
                    break
        status, _, body = http(port, "GET", "/metrics", scrape_headers)
        assert status == 200
        found = samples(body.decode())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        log.close()

    assert change_status_count(found) == sent
    # Both workers served and wrote their own files; the stale one was cleared at start.
    worker_files = {path.name for path in multiproc.glob("counter_*.db")}
    assert len(worker_files) == 2
    assert "counter_999999.db" not in worker_files
    lines = [
        json.loads(line)
        for line in (tmp_path / "gunicorn.log").read_text().splitlines()
        if line.startswith("{")
    ]
    logged = [line for line in lines if line.get("route") == "v2/bookings/<pk>/change_status"]
    assert sorted(line["request_id"] for line in logged) == sorted(
        f"load-{index}" for index in range(sent)
    )
    assert {line["business_id"] for line in logged} == {api_user.business_id}
