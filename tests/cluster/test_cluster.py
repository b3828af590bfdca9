"""Two app servers, two webhook workers, PgBouncer and a standby behave like one service
(SPEC §12). Runs against scripts/cluster.sh's cluster; see conftest.py."""

import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from concurrent import futures
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.cluster.conftest import REQUEST_TIMEOUT, requires_cluster, wait_for
from tests.test_webhook_delivery import Receiver

pytestmark = requires_cluster

ROOT = Path(__file__).resolve().parents[2]
STATUSES = ["lead", "tentative", "definite", "lost"]


def create_booking(tenant, base_url: str, name: str = "Cluster wedding") -> dict:
    response = tenant.post(base_url, "/v2/bookings", {"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def test_concurrent_status_changes_over_both_app_servers_lose_nothing(cluster, tenant):
    from bookings.models import BookingStatusChange
    from events.models import Event

    booking = create_booking(tenant, cluster.balancer)
    path = f"/v2/bookings/{booking['id']}/change_status"

    def change(number: int) -> int:
        server = cluster.app_servers[number % 2]
        return tenant.post(server, path, {"status": STATUSES[number % 4]}).status_code

    with futures.ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(change, range(24)))

    assert answers == [200] * 24
    after = tenant.get(cluster.balancer, f"/v2/bookings/{booking['id']}").json()
    assert after["version"] == booking["version"] + 24
    assert BookingStatusChange.objects.filter(booking_id=booking["id"]).count() == 24
    changed = Event.objects.filter(business_id=tenant.business_id, type="booking.status_changed")
    assert changed.count() == 24


def test_an_idempotency_key_retried_on_the_other_app_server_replays(cluster, tenant):
    from bookings.models import Booking

    key = str(uuid.uuid4())
    body = {"name": f"Once only {key}"}
    first_server, other_server = cluster.app_servers

    first = tenant.post(first_server, "/v2/bookings", body, **{"Idempotency-Key": key})
    retried = tenant.post(other_server, "/v2/bookings", body, **{"Idempotency-Key": key})

    assert (first.status_code, retried.status_code) == (201, 201)
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    assert Booking.objects.filter(business_id=tenant.business_id, name=body["name"]).count() == 1


def failed_token_attempt(server_url: str, client_address: str) -> int:
    """A request with a wrong token from `client_address` (another loopback address)."""
    address = urlsplit(server_url)
    connection = http.client.HTTPConnection(
        address.hostname,
        address.port,
        timeout=REQUEST_TIMEOUT,
        source_address=(client_address, 0),
    )
    try:
        connection.request("GET", "/v2/bookings", headers={"Authorization": "Token wrong"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_failed_token_throttle_counts_across_both_app_servers(cluster):
    # A loopback address of this run's own, so that no other client shares its count.
    client_address = f"127.{random.randrange(1, 255)}.{random.randrange(1, 255)}.7"
    allowed = 30  # API_FAILED_AUTH_RATE's default: 30 a minute

    answers = [
        failed_token_attempt(cluster.app_servers[number % 2], client_address)
        for number in range(allowed + 2)
    ]

    assert answers == [401] * allowed + [429, 429]


def worker_pids(cluster) -> list[int]:
    return [int(Path(cluster.directory, f"worker{n}.pid").read_text()) for n in (1, 2)]


def test_each_delivery_is_made_once_by_the_two_workers(cluster, tenant):
    assert all(process_exists(pid) for pid in worker_pids(cluster))
    receiver = Receiver()
    try:
        created = tenant.post(
            cluster.balancer,
            "/v2/webhook_endpoints",
            {"url": f"http://127.0.0.1:{receiver.port}/hook", "event_types": ["booking.created"]},
        )
        assert created.status_code == 201, created.text
        bookings = [create_booking(tenant, cluster.balancer, f"Delivered {n}") for n in range(20)]

        wait_for(lambda: len(receiver.received) >= 20, 30, "20 deliveries")
        time.sleep(2)  # a second delivery of any of them would arrive by now

        delivered = [json.loads(request.body) for request in receiver.received]
        assert len(delivered) == 20
        assert len({request.headers["webhook-id"] for request in receiver.received}) == 20
        assert sorted(event["data"]["booking"]["id"] for event in delivered) == sorted(
            booking["id"] for booking in bookings
        )
        assert all(process_exists(pid) for pid in worker_pids(cluster))
    finally:
        receiver.stop()


def pipeline_bookings(tenant, base_url: str) -> int:
    response = tenant.get(base_url, "/v2/reports/pipeline")
    assert response.status_code == 200, response.text
    return sum(row["bookings"] for row in response.json()["results"])


def test_reports_read_the_standby_while_everything_else_reads_the_primary(cluster, tenant):
    from bookings.models import Booking

    create_booking(tenant, cluster.balancer, "Before the pause")
    with psycopg.connect(cluster.standby_url, autocommit=True, connect_timeout=5) as standby:

        def replayed(name: str) -> bool:
            row = standby.execute(
                "SELECT count(*) FROM bookings_booking WHERE business_id = %s AND name = %s",
                [tenant.business_id, name],
            ).fetchone()
            return row[0] == 1

        wait_for(lambda: replayed("Before the pause"), 10, "the standby to replay")
        before = pipeline_bookings(tenant, cluster.balancer)
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            booking = create_booking(tenant, cluster.balancer, "During the pause")
            read_back = tenant.get(cluster.balancer, f"/v2/bookings/{booking['id']}")

            assert read_back.status_code == 200
            assert Booking.objects.filter(pk=booking["id"]).exists()
            assert not replayed("During the pause")
            assert pipeline_bookings(tenant, cluster.balancer) == before
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
        wait_for(
            lambda: pipeline_bookings(tenant, cluster.balancer) == before + 1,
            10,
            "the report to catch up",
        )


def test_stopping_an_app_server_mid_load_costs_no_request(cluster, tenant):
    """The app server is stopped as a deploy or a scale-down stops it (SIGTERM: gunicorn
    finishes the requests it has); HAProxy sends what it refuses to the other one
    (`option redispatch`, `retry-on conn-failure empty-response`) until its health check
    takes it out."""
    booking = create_booking(tenant, cluster.balancer)
    path = f"/v2/bookings/{booking['id']}"
    stop_loading = threading.Event()

    def load(number: int) -> list[int]:
        answers = []
        while not stop_loading.is_set():
            if len(answers) % 2:
                answers.append(tenant.get(cluster.balancer, path).status_code)
            else:
                status = STATUSES[(number + len(answers)) % 4]
                answer = tenant.post(cluster.balancer, f"{path}/change_status", {"status": status})
                answers.append(answer.status_code)
        return answers

    app_server_pid = int(Path(cluster.directory, "app2.pid").read_text())
    try:
        with futures.ThreadPoolExecutor(6) as pool:
            loads = [pool.submit(load, number) for number in range(6)]
            time.sleep(1.5)
            os.kill(app_server_pid, signal.SIGTERM)
            wait_for(lambda: not process_exists(app_server_pid), 20, "app server 2 to stop")
            time.sleep(1.5)  # and load on the one left
            stop_loading.set()
            answers = [answer for future in loads for answer in future.result(timeout=30)]
    finally:
        stop_loading.set()
        subprocess.run(
            [ROOT / "scripts/cluster.sh", "app", cluster.directory, "2"],
            check=True,
            timeout=60,
            capture_output=True,
        )

    assert len(answers) > 50
    assert set(answers) == {200}


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(autouse=True)
def both_app_servers_ready(cluster):
    """Each test starts with both app servers answering /readyz."""
    for server in cluster.app_servers:
        wait_for(lambda server=server: ready(server), 30, f"{server}/readyz")


def ready(server_url: str) -> bool:
    address = urlsplit(server_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=2)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
