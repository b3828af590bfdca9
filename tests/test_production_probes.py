"""Under the production settings, the health checks and the metrics answer over plain
HTTP (SPEC §17): probes and scrapers inside the network count a 301 as healthy. A real
gunicorn started with DJANGO_PRODUCTION=1, its database unreachable."""

import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, **headers: str) -> tuple[int, dict, bytes]:
    """One plain-HTTP GET, redirects not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": "bookings.example.com", **headers})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def production_server():
    port = free_port()
    unreachable = free_port()  # nothing listens there: the database is down
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "METRICS_", "PROMETHEUS_"))
    }
    env.update(
        DJANGO_PRODUCTION="1",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="bookings.example.com",
        DATABASE_URL=f"postgres://app@127.0.0.1:{unreachable}/booking_status",
        DB_CONNECT_TIMEOUT="1",
        DB_POOL_TIMEOUT="1",
        METRICS_ENABLED="1",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1"]
        + ["--bind", f"127.0.0.1:{port}", "--timeout", "30"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(port, "/healthz")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(server.stderr.read().decode()) from None
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_healthz_answers_over_plain_http(production_server):
    status, _, body = get(production_server, "/healthz")
    assert (status, body) == (200, b'{"status":"ok"}')


def test_readyz_says_the_database_is_down_rather_than_redirecting(production_server):
    status, _, body = get(production_server, "/readyz")
    assert status == 503
    assert b"the database does not answer" in body


def test_metrics_answer_over_plain_http(production_server):
    # The scrape reads the delivery backlog from the database, which is down here:
    # the metrics view's own answer, not a redirect.
    status, headers, body = get(production_server, "/metrics")
    assert (status, headers["Retry-After"]) == (503, "1")
    assert b"database is unavailable" in body


@pytest.mark.parametrize("path", ["/v2/bookings", "/admin/", "/healthz/x", "/readyz-not"])
def test_everything_else_still_redirects_to_https(production_server, path):
    status, headers, _ = get(production_server, path)
    assert status == 301
    assert headers["Location"] == f"https://bookings.example.com{path}"
