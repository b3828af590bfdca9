"""The primary killed mid-traffic (`pg_ctl stop -m immediate`: every backend killed, no
checkpoint) and started again a few seconds later, while clients change statuses and
read bookings on both app servers (through PgBouncer, as the cluster runs them):

- while it is down, requests answer 503 with a JSON body and Retry-After, promptly;
  nothing else, and never no answer;
- both app servers answer 2xx again by themselves once it is back;
- no status change is half-written: each booking's history is an unbroken chain ending
  in its status, its stamps are those of its newest entries, every acknowledged change
  is in it, and a 503 left at most whole changes behind.

It runs last in the suite (file order) and leaves the cluster as it found it: the
primary up with its settings, the standby streaming again, both app servers ready."""

import datetime as dt
import http.client
import itertools
import json
import os
import random
import subprocess
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.cluster.conftest import requires_cluster, wait_for

pytestmark = requires_cluster

ROOT = Path(__file__).resolve().parents[2]
STATUSES = ("lead", "tentative", "definite", "lost")
STAMPED = STATUSES[1:]
CLIENTS, BOOKINGS, WRITE_SHARE = 4, 30, 0.6
DOWN_AT, DOWN_FOR, LOAD_SECONDS = 4.0, 5.0, 22.0
# Bounds: any request's latency (a 503 waits at most for the app's pool, or for
# PgBouncer's query_wait_timeout, scripts/pgbouncer.sh), and from the primary being
# ready again to an app server's first 2xx (its pool reconnects with backoff).
MAX_LATENCY, MAX_RECOVERY = 10.0, 15.0


@dataclass
class Outcome:
    """One request as its client saw it; times in seconds since the load started."""

    sent: float
    latency: float
    server: str
    action: str  # "change_status" or "retrieve"
    booking_id: int
    requested: str | None
    code: int | None = None  # None: no HTTP answer
    body: object = None
    retry_after: str | None = None

    @property
    def done(self) -> float:
        return self.sent + self.latency


def send(server: str, token: str | None, method: str, path: str, body: dict | None = None):
    """(status, the body (parsed when JSON), Retry-After) on a fresh connection."""
    address = urlsplit(server)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=35)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    try:
        connection.request(method, path, json.dumps(body) if body else None, headers)
        response = connection.getresponse()
        raw = response.read()
        is_json = (response.getheader("Content-Type") or "").startswith("application/json")
        return (
            response.status,
            json.loads(raw) if is_json else raw,
            response.getheader("Retry-After"),
        )
    finally:
        connection.close()


def primary_ctl(cluster, action: str) -> None:
    """Stop the primary abruptly, or start it again on its data directory and port."""
    datadir = Path(cluster.directory, "primary")
    if action == "kill":
        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        command = [str(bindir[-1] / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
    else:
        port = str(urlsplit(os.environ["CLUSTER_PRIMARY_URL"]).port)
        command = [str(ROOT / "scripts" / "postgres.sh"), "start", str(datadir), port]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture
def durable_commits(cluster):
    """scripts/postgres.sh runs with synchronous_commit off, which acknowledges a commit
    before its WAL is written: an immediate stop then loses acknowledged commits, which
    production (synchronous_commit on) never does. On for the cluster's database while
    the test runs; the sessions that started with it off are ended (PgBouncer and the
    workers open new ones)."""
    with psycopg.connect(os.environ["CLUSTER_PRIMARY_URL"], autocommit=True) as primary:
        primary.execute("ALTER DATABASE booking_status SET synchronous_commit = on")
        primary.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
    yield
    if not primary_answers():  # the test stopped between the kill and the start
        primary_ctl(cluster, "start")
    wait_for(primary_answers, 60, "the primary")
    with psycopg.connect(os.environ["CLUSTER_PRIMARY_URL"], autocommit=True) as primary:
        primary.execute("ALTER DATABASE booking_status RESET synchronous_commit")
        wait_for(
            lambda: primary.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
            ).fetchone()[0],
            60,
            "the standby to stream again",
        )
    for server in cluster.app_servers:
        wait_for(lambda server=server: ready(server), 60, server)


def ready(server: str) -> bool:
    try:
        return send(server, None, "GET", "/readyz")[0] == 200
    except OSError:
        return False


def primary_answers() -> bool:
    try:
        psycopg.connect(os.environ["CLUSTER_PRIMARY_URL"], connect_timeout=2).close()
        return True
    except psycopg.OperationalError:
        return False


def load(cluster, token: str, booking_ids: list[int], number: int, t0: float, stop, outcomes):
    rng = random.Random(number)
    statuses = itertools.islice(itertools.cycle(STATUSES), number, None)
    for count in itertools.count():
        if stop.is_set():
            return
        server = cluster.app_servers[(number + count) % 2]
        booking_id = rng.choice(booking_ids)
        if rng.random() < WRITE_SHARE:
            requested = next(statuses)
            request = ("POST", f"/v2/bookings/{booking_id}/change_status", {"status": requested})
        else:
            requested, request = None, ("GET", f"/v2/bookings/{booking_id}", None)
        action = "change_status" if requested else "retrieve"
        started = time.monotonic()
        outcome = Outcome(started - t0, 0.0, server, action, booking_id, requested)
        try:
            outcome.code, outcome.body, outcome.retry_after = send(server, token, *request)
        except (OSError, http.client.HTTPException) as error:
            outcome.body = repr(error)
        outcome.latency = time.monotonic() - started
        outcomes.append(outcome)  # list.append is atomic
        stop.wait(0.02)


def test_the_api_survives_the_primary_going_away_mid_traffic(cluster, tenant, durable_commits):
    for server in cluster.app_servers:
        wait_for(lambda server=server: ready(server), 30, server)
    booking_ids = []
    for number in range(BOOKINGS):
        server = cluster.app_servers[number % 2]
        for _ in range(10):  # a server connection PgBouncer held may have been ended
            code, body, _ = send(server, tenant.token, "POST", "/v2/bookings", {"name": "F"})
            if code != 503:
                break
            time.sleep(0.5)
        assert code == 201, body
        booking_ids.append(body["id"])

    outcomes: list[Outcome] = []
    stop = threading.Event()
    t0 = time.monotonic()
    clients = [
        threading.Thread(
            target=load, args=(cluster, tenant.token, booking_ids, n, t0, stop, outcomes)
        )
        for n in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    try:
        time.sleep(DOWN_AT)
        primary_ctl(cluster, "kill")
        time.sleep(DOWN_FOR)
        primary_ctl(cluster, "start")
        back = time.monotonic() - t0
        time.sleep(max(0.0, LOAD_SECONDS - back))
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=60)

    unavailable = [o for o in outcomes if o.code == 503]
    recovered = {  # seconds from the primary being back to each server's first 2xx
        server: min(
            (
                o.done - back
                for o in outcomes
                if o.server == server and o.code == 200 and o.sent > back
            ),
            default=None,
        )
        for server in cluster.app_servers
    }
    print(  # shown when the test fails
        f"{len(outcomes)} requests: {Counter(o.code for o in outcomes)}; 503 latencies "
        f"{sorted(round(o.latency, 2) for o in unavailable)}; recovered after {recovered}"
    )
    assert unavailable, "no 503: the outage was not observed"
    assert [o for o in outcomes if o.code not in (200, 503)] == []
    assert [o for o in unavailable if not (isinstance(o.body, dict) and o.body.get("detail"))] == []
    assert [o for o in unavailable if o.retry_after is None] == []
    assert max(o.latency for o in outcomes) <= MAX_LATENCY
    assert all(seconds is not None and seconds <= MAX_RECOVERY for seconds in recovered.values())
    assert check_history(booking_ids, outcomes) == []


def check_history(booking_ids: list[int], outcomes: list[Outcome]) -> list[str]:
    """Each booking against its history, and against what its clients were told."""
    acknowledged, unsure = defaultdict(list), Counter()
    for outcome in outcomes:
        if outcome.action != "change_status":
            continue
        if outcome.code == 200:
            moment = outcome.body.get(f"{outcome.requested}_at")
            moment = moment and dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
            acknowledged[outcome.booking_id].append((outcome.requested, moment))
        else:
            unsure[outcome.booking_id] += 1
    with psycopg.connect(os.environ["CLUSTER_PRIMARY_URL"], connect_timeout=5) as primary:
        bookings = primary.execute(
            "SELECT id, status, tentative_at, tentative_date, definite_at, definite_date, "
            "lost_at, lost_date FROM bookings_booking WHERE id = ANY(%s)",
            [booking_ids],
        ).fetchall()
        history = defaultdict(list)
        for booking_id, *entry in primary.execute(
            "SELECT booking_id, from_status, to_status, status_at FROM "
            "bookings_bookingstatuschange WHERE booking_id = ANY(%s) ORDER BY id",
            [booking_ids],
        ):
            history[booking_id].append(entry)

    violations = []
    for booking_id, status, *stamps in bookings:
        entries = history[booking_id]
        chain = ["lead"] + [to_status for _, to_status, _ in entries]
        if [from_status for from_status, _, _ in entries] != chain[:-1] or chain[-1] != status:
            violations.append(f"booking {booking_id}: broken chain {entries} ending in {status}")
        for number, stamped in enumerate(STAMPED):
            newest = next((e[2] for e in reversed(entries) if e[1] == stamped), None)
            if stamped == "lost" and status != "lost":
                newest = None  # leaving lost clears lost_*
            expected = (newest, newest and newest.astimezone(dt.UTC).date())
            if tuple(stamps[2 * number : 2 * number + 2]) != expected:
                violations.append(f"booking {booking_id}: {stamped} stamps {stamps}")
        told = acknowledged[booking_id]
        if not len(told) <= len(entries) <= len(told) + unsure[booking_id]:
            violations.append(f"booking {booking_id}: {len(entries)} entries for {len(told)} 200s")
        recorded = {(to_status, at) for _, to_status, at in entries}
        lost = [change for change in told if change[0] in STAMPED and change not in recorded]
        violations += [
            f"booking {booking_id}: acknowledged {change} not recorded" for change in lost
        ]
    return violations
