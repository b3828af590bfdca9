"""A PostgreSQL restart under a running `deliver_webhooks` (issue 15): the worker loses
its connections, keeps running, and delivers an event written after the server is
back, without being restarted itself.

It needs a server it may stop, so it starts a throwaway cluster of its own with
scripts/postgres.sh (as tests/test_postgres_script.py does), in the PostgreSQL pass
only. Bounded at 60 s by the waits below.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.test_postgres_script import BINARIES, free_port, postgres_sh
from tests.test_webhook_delivery import Receiver

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.skipif(
        not BINARIES, reason="needs Debian's postgresql (scripts/install-os-packages.sh)"
    ),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="run in the PostgreSQL pass"),
]

SET_UP = """
from accounts.models import Business
from webhooks.models import WebhookEndpoint
business = Business.objects.create(id=43111, name="Demo Venue")
WebhookEndpoint.objects.create(business=business, url={url!r}, event_types=["*"])
"""
WRITE_EVENT = """
from events.models import Event
print(Event.objects.record(43111, "booking.created", {{"booking": {{"id": {number}}}}}).public_id)
"""


def manage(url: str, *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        # This test's own server, directly: not the run's DATABASE_DIRECT_URL, if any.
        env={**os.environ, "DATABASE_URL": url, "DATABASE_DIRECT_URL": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def cluster():
    """A running throwaway cluster: (data directory, port, DATABASE_URL); removed after."""
    # Not pytest's tmp_path: as root the server runs as `postgres`, which must reach it.
    parent = Path(tempfile.mkdtemp(prefix="webhook-restart-test-"))
    parent.chmod(0o755)
    datadir, port = parent / "pgdata", str(free_port())
    try:
        yield datadir, port, postgres_sh("start", str(datadir), port)
    finally:
        postgres_sh("stop", str(datadir))
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


def test_the_worker_delivers_after_a_postgresql_restart_without_being_restarted(cluster, receiver):
    datadir, port, url = cluster
    manage(url, "migrate", "--no-input")
    manage(url, "shell", "-c", SET_UP.format(url=receiver.url))
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "deliver_webhooks"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": url,
            "DATABASE_DIRECT_URL": "",
            "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1",
            "WEBHOOK_ALLOW_HTTP": "1",
            "WEBHOOK_TIMEOUT": "2",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        before = manage(url, "shell", "-c", WRITE_EVENT.format(number=1))
        wait_for(lambda: len(receiver.received) == 1, 15, "the event written before")

        postgres_sh("stop", str(datadir))
        time.sleep(2)  # the worker's polls fail meanwhile
        assert worker.poll() is None, "the worker exited while the database was down"
        postgres_sh("start", str(datadir), port)
        after = manage(url, "shell", "-c", WRITE_EVENT.format(number=2))
        wait_for(lambda: len(receiver.received) == 2, 15, "the event written after the restart")

        assert worker.poll() is None  # the same process, never restarted
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=15)
    finally:
        worker.kill()
        worker.wait()

    assert worker.returncode == 0, output.decode()
    assert [request.headers["webhook-id"] for request in receiver.received] == [before, after]
    assert "database unavailable" in output.decode()  # it did see the outage
