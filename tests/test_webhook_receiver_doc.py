"""The receiver of docs/api-webhooks.md ("Receiving webhooks"), run as it is written:
extracted from the doc's code block, started as a real process, and sent events by a
real `manage.py deliver_webhooks` worker (PostgreSQL: the worker process reads the
test database). Docs that cannot drift from what the service sends."""

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import requires_postgresql
from tests.test_webhook_delivery_process import start_worker, wait_for
from webhooks.models import Delivery

DOC = Path(__file__).resolve().parent.parent / "docs" / "api-webhooks.md"

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def documented_receiver() -> str:
    """The Python block that follows the doc's `<!-- receiver: ... -->` marker."""
    text = DOC.read_text()
    after_marker = text[text.index("<!-- receiver:") :]
    return re.search(r"```python\n(.*?)```", after_marker, re.DOTALL).group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def receiver_process(tmp_path):
    """Start the documented receiver with a secret; yields (start, port)."""
    port = free_port()
    processes = []

    def start(secret: str) -> subprocess.Popen:
        script = tmp_path / "receiver.py"
        script.write_text(documented_receiver())
        process = subprocess.Popen(
            [sys.executable, str(script)],
            env={"WEBHOOK_SECRET": secret, "PORT": str(port), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return process
            except OSError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "the receiver did not start"
                time.sleep(0.05)

    yield start, port
    for process in processes:
        process.kill()
        process.wait()


def test_the_documented_receiver_handles_each_event_once(
    api, settings, receiver_process, make_booking
):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    start, port = receiver_process
    # Registered as the doc's curl does it.
    endpoint = api.post(
        "/v2/webhook_endpoints",
        {"url": f"http://127.0.0.1:{port}/", "event_types": ["booking.status_changed"]},
        format="json",
    ).json()
    receiver = start(endpoint["secret"])
    booking = api.post("/v2/bookings", {"name": "Spring wedding"}, format="json").json()
    for status in ("tentative", "definite"):
        api.post(f"/v2/bookings/{booking['id']}/change_status", {"status": status}, format="json")

    worker = start_worker()
    try:
        wait_for(
            lambda: Delivery.objects.filter(status="succeeded").count() == 2, 30, "two deliveries"
        )
        # A second delivery of the same event (as after a lost answer): accepted, skipped.
        repeated = Delivery.objects.order_by("id").first()
        api.post(f"/v2/webhook_endpoints/{endpoint['id']}/deliveries/{repeated.pk}/retry")
        wait_for(
            lambda: Delivery.objects.filter(
                pk=repeated.pk, status="succeeded", attempts=2
            ).exists(),
            30,
            "the repeated delivery",
        )
    finally:
        worker.terminate()
        worker.communicate(timeout=15)

    # A request that the secret did not sign is refused.
    forged = urllib.request.Request(
        f"http://127.0.0.1:{port}/",
        data=b'{"id": "evt_1"}',
        headers={
            "webhook-id": "evt_1",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,Zm9yZ2Vk",
            "content-type": "application/json",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=5)
    assert refused.value.code == 400

    receiver.kill()
    handled = receiver.stdout.read().splitlines()
    assert [line.split(" ", 1)[0] for line in handled] == ["booking.status_changed"] * 2
    statuses = sorted(json.loads(line.split(" ", 1)[1])["change"]["to_status"] for line in handled)
    assert statuses == ["definite", "tentative"]
