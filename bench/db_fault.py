"""Prove that the API survives PostgreSQL going away mid-traffic.

    .venv/bin/python bench/db_fault.py [--port 54339] [--duration 25] [--down-at 6] [--down-for 6]

It starts its own throwaway PostgreSQL (scripts/postgres.sh, loopback only), migrates a
fresh database, issues an API token, creates bookings through the API and serves the
app with gunicorn (two sync workers, the default pool settings). A few client threads
then change statuses and read bookings on 127.0.0.1 while PostgreSQL is stopped
abruptly (`pg_ctl stop -m immediate`: every backend killed, nothing flushed politely)
and, some seconds later, started again on the same data directory and port.

It then checks, and exits non-zero if any rule is broken:

- every answer is 200 or 503; a 503 has a JSON body and Retry-After; no other 5xx, no
  error body that is not JSON, no request without an answer (client timeout 15 s);
- requests during the outage fail fast (max latency bounded, see --max-outage-latency);
- the service recovers by itself: a 2xx soon after the database is back;
- no change is half-written: per booking, the history is an unbroken chain that ends
  in the booking's status, every stamped `*_at`/`*_date` is the one of the newest
  history entry to that status (`lost_*` cleared unless lost), the number of history
  rows lies between the 200 answers and the 200 + 503 answers for that booking, and
  every acknowledged (200) stamped change is found in the history.

Everything it starts is stopped and its temporary directory removed, even on failure.
"""

import argparse
import datetime as dt
import glob
import http.client
import itertools
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
POSTGRES_SH = ROOT / "scripts" / "postgres.sh"
BUSINESS_ID = 43111
STATUSES = ("lead", "tentative", "definite", "lost")
STAMPED_STATUSES = ("tentative", "definite", "lost")
# Left unset for gunicorn so that the settings' defaults are what gets tested.
POOL_SETTINGS = (
    "DB_POOL_MIN_SIZE",
    "DB_POOL_MAX_SIZE",
    "DB_POOL_TIMEOUT",
    "DB_POOL_CHECK",
    "DB_CONNECT_TIMEOUT",
)


class SetupError(Exception):
    """The experiment could not be set up; nothing was proven either way."""


@dataclass
class Outcome:
    """One request as the client saw it. Times are seconds since the load started."""

    sent: float
    latency: float
    action: str  # "change_status" or "retrieve"
    booking_id: int
    requested: str | None
    code: int | None  # None: no HTTP answer (timeout, connection error)
    json_body: bool
    retry_after: str | None
    body: Any
    error: str = ""

    @property
    def done(self) -> float:
        return self.sent + self.latency


# --- Processes ----------------------------------------------------------------


def run(command: list[str], *, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run a command to completion; its stdout, or SetupError with its output."""
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise SetupError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def postgres_bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path)],
    )
    if not found:
        raise SetupError("no PostgreSQL binaries under /usr/lib/postgresql")
    return Path(found[-1])


def as_postgres(command: list[str]) -> list[str]:
    # The same rule as scripts/postgres.sh: the server runs as `postgres` when we are root.
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Postgres:
    """A throwaway server started with scripts/postgres.sh, and its abrupt stop."""

    def __init__(self, datadir: Path, port: int):
        self.datadir = datadir
        self.port = port
        self.started = False

    def start(self) -> str:
        """Start (or restart) the server; returns its DATABASE_URL (database booking_status)."""
        output = run(["bash", str(POSTGRES_SH), "start", str(self.datadir), str(self.port)])
        self.started = True
        return output.strip().splitlines()[-1]

    def kill(self) -> None:
        """`pg_ctl stop -m immediate`: the postmaster SIGQUITs every backend; no checkpoint,
        and the next start runs crash recovery."""
        pg_ctl = str(postgres_bindir() / "pg_ctl")
        run(as_postgres([pg_ctl, "-D", str(self.datadir), "-m", "immediate", "-w", "stop"]))

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                ["bash", str(POSTGRES_SH), "stop", str(self.datadir)],
                cwd=ROOT,
                capture_output=True,
                timeout=60,
            )


# --- HTTP -----------------------------------------------------------------------


def call(
    port: int, token: str, method: str, path: str, body: Any = None, timeout: float = 15
) -> tuple[int, str | None, str | None, bytes]:
    """One request on a fresh connection (gunicorn's sync workers close it anyway)."""
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return (
            response.status,
            response.getheader("Content-Type"),
            response.getheader("Retry-After"),
            response.read(),
        )
    finally:
        connection.close()


def parse_json(content_type: str | None, raw: bytes) -> tuple[bool, Any]:
    if not (content_type or "").startswith("application/json"):
        return False, None
    try:
        return True, json.loads(raw)
    except ValueError:
        return False, None


def wait_until_serving(port: int, token: str, server: subprocess.Popen, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SetupError(f"gunicorn exited with {server.returncode} before answering")
        try:
            if call(port, token, "GET", "/v2/bookings", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SetupError(f"gunicorn did not answer within {limit:.0f} s")


# --- Load -------------------------------------------------------------------------


def client(
    number: int,
    port: int,
    token: str,
    booking_ids: list[int],
    t0: float,
    stop: threading.Event,
    args: argparse.Namespace,
    outcomes: list[Outcome],
) -> None:
    rng = random.Random(args.seed * 1000 + number)
    # Each client cycles through the statuses, starting at a different one.
    statuses = itertools.islice(itertools.cycle(STATUSES), number, None)
    while not stop.is_set():
        booking_id = rng.choice(booking_ids)
        if rng.random() < args.write_share:
            action, requested = "change_status", next(statuses)
            method, path = "POST", f"/v2/bookings/{booking_id}/change_status"
            body = {"status": requested}
        else:
            action, requested, method, path, body = (
                "retrieve",
                None,
                "GET",
                f"/v2/bookings/{booking_id}",
                None,
            )
        started = time.monotonic()
        try:
            code, content_type, retry_after, raw = call(
                port, token, method, path, body, timeout=args.client_timeout
            )
            json_body, parsed = parse_json(content_type, raw)
            outcome = Outcome(
                sent=started - t0,
                latency=time.monotonic() - started,
                action=action,
                booking_id=booking_id,
                requested=requested,
                code=code,
                json_body=json_body,
                retry_after=retry_after,
                # Kept for acknowledged changes (their stamps) and for errors.
                body=parsed if code >= 400 or action == "change_status" else None,
                error="" if json_body else raw[:200].decode("utf-8", "replace"),
            )
        except (OSError, http.client.HTTPException) as error:
            outcome = Outcome(
                sent=started - t0,
                latency=time.monotonic() - started,
                action=action,
                booking_id=booking_id,
                requested=requested,
                code=None,
                json_body=False,
                retry_after=None,
                body=None,
                error=repr(error),
            )
        outcomes.append(outcome)  # list.append is atomic under the GIL
        stop.wait(args.think)


# --- Consistency --------------------------------------------------------------------


def parse_moment(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_bookings(database_url: str, outcomes: list[Outcome]) -> tuple[int, int, list[str]]:
    """Every booking against its history and against what clients were told.

    Returns (bookings checked, history rows checked, violations)."""
    ok = Counter()  # 200 answers to change_status, per booking
    unsure = Counter()  # 503s and unanswered change_status requests, per booking
    acknowledged = defaultdict(list)  # per booking: (status, moment) of each 200 stamped change
    for outcome in outcomes:
        if outcome.action != "change_status":
            continue
        if outcome.code == 200:
            ok[outcome.booking_id] += 1
            if outcome.requested in STAMPED_STATUSES:
                moment = parse_moment(outcome.body.get(f"{outcome.requested}_at"))
                acknowledged[outcome.booking_id].append((outcome.requested, moment))
        elif outcome.code is None or outcome.code >= 500:
            unsure[outcome.booking_id] += 1

    with psycopg.connect(database_url, connect_timeout=5) as connection:
        bookings = connection.execute(
            "SELECT id, status, tentative_at, tentative_date, definite_at, definite_date,"
            " lost_at, lost_date FROM bookings_booking ORDER BY id"
        ).fetchall()
        history = defaultdict(list)
        rows = connection.execute(
            "SELECT booking_id, id, from_status, to_status, status_at"
            " FROM bookings_bookingstatuschange ORDER BY id"
        ).fetchall()
    for booking_id, *entry in rows:
        history[booking_id].append(entry)

    violations = []
    for booking_id, status, *stamps in bookings:
        entries = history[booking_id]
        fields = dict(
            zip(
                [f"{s}_{part}" for s in STAMPED_STATUSES for part in ("at", "date")],
                stamps,
                strict=True,
            )
        )
        where = f"booking {booking_id}"
        previous = "lead"  # bookings are created as lead, without a history entry
        for entry_id, from_status, to_status, _ in entries:
            if from_status != previous:
                violations.append(
                    f"{where}: history entry {entry_id} starts from {from_status!r}, "
                    f"but the entry before ended in {previous!r}"
                )
            previous = to_status
        if status != previous:
            violations.append(f"{where}: status {status!r}, last history entry {previous!r}")
        for stamped in STAMPED_STATUSES:
            newest = next((e for e in reversed(entries) if e[2] == stamped), None)
            expected_at = newest[3] if newest else None
            if stamped == "lost" and status != "lost":
                expected_at = None  # leaving lost clears lost_*
            expected_date = expected_at.astimezone(dt.UTC).date() if expected_at else None
            at, date = fields[f"{stamped}_at"], fields[f"{stamped}_date"]
            if at != expected_at or date != expected_date:
                violations.append(
                    f"{where}: {stamped}_at/{stamped}_date = {at}/{date}, "
                    f"expected {expected_at}/{expected_date} from the history"
                )
        low, high = ok[booking_id], ok[booking_id] + unsure[booking_id]
        if not low <= len(entries) <= high:
            violations.append(
                f"{where}: {len(entries)} history rows, expected between {low} (200s) "
                f"and {high} (200s + 503s/unanswered)"
            )
        recorded = {(e[2], e[3]) for e in entries}
        for change in acknowledged[booking_id]:
            if change not in recorded:
                violations.append(
                    f"{where}: a 200 answered {change[0]} at {change[1]}, not in the history"
                )
    return len(bookings), len(rows), violations


# --- Report -----------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def scan_server_log(path: Path) -> dict[str, Any]:
    text = path.read_text(errors="replace") if path.exists() else ""
    lines = text.splitlines()
    tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    return {
        "tracebacks": len(tracebacks),
        "traceback_tails": [
            next(
                (lines[j] for j in range(i + 1, len(lines)) if not lines[j].startswith(" ")),
                "?",
            )
            for i in tracebacks[:5]
        ],
        "unavailable_warnings": sum("database unavailable" in line for line in lines),
        "pool_connect_errors": sum("error connecting in" in line for line in lines),
    }


def report(
    args: argparse.Namespace,
    outcomes: list[Outcome],
    events: dict[str, float],
    consistency: tuple[int, int, list[str]],
    server_log: dict[str, Any],
) -> list[str]:
    """Print the summary; returns the broken rules."""
    codes = Counter(o.code for o in outcomes)
    by_action = Counter((o.action, o.code) for o in outcomes)
    unavailable = [o for o in outcomes if o.code == 503]
    other_5xx = [o for o in outcomes if o.code is not None and o.code >= 500 and o.code != 503]
    unexpected = [o for o in outcomes if o.code not in (200, 503, None)]
    unanswered = [o for o in outcomes if o.code is None]
    non_json_errors = [
        o for o in outcomes if o.code is not None and o.code >= 400 and not o.json_body
    ]
    no_retry_after = [o for o in unavailable if not o.retry_after]
    down, up = events["down"], events["up"]
    recovered = min((o.done for o in outcomes if o.code == 200 and o.done >= up), default=None)
    outage_end = recovered if recovered is not None else events["load_end"]
    affected = [o for o in outcomes if o.sent < outage_end and o.done > events["stop_begin"]]
    affected_latency = [o.latency for o in affected]
    ok_during = [o for o in outcomes if o.code == 200 and down <= o.done < up]

    print()
    print("== Timeline (seconds since the load started) ==")
    print(f"  PostgreSQL stopped (-m immediate):  {events['stop_begin']:.2f} -> down at {down:.2f}")
    print(
        f"  PostgreSQL restarted:               {events['restart_begin']:.2f} -> ready at {up:.2f}"
    )
    print(f"  database down for:                  {up - down:.2f} s")
    print(f"  load stopped:                       {events['load_end']:.2f}")
    if unavailable:
        first, last = min(o.done for o in unavailable), max(o.done for o in unavailable)
        print(f"  503 answers between:                {first:.2f} and {last:.2f}")

    print()
    print("== Requests ==")
    print(f"  sent: {len(outcomes)} from {args.clients} clients")
    for code, count in sorted(codes.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        label = "no answer" if code is None else str(code)
        detail = ", ".join(
            f"{action} {n}" for (action, c), n in sorted(by_action.items()) if c == code
        )
        print(f"  {label}: {count} ({detail})")
    print(
        f"  503s: {len(unavailable)}, with a JSON body: "
        f"{sum(o.json_body for o in unavailable)}, with Retry-After: "
        f"{len(unavailable) - len(no_retry_after)}"
    )
    bodies = Counter(json.dumps(o.body, sort_keys=True) for o in unavailable if o.json_body)
    for body, count in bodies.most_common(3):
        print(f"  503 body ({count}x): {body}")
    print(f"  5xx other than 503: {len(other_5xx)}")
    print(f"  error answers without a JSON body: {len(non_json_errors)}")
    print(f"  answers other than 200/503: {len(unexpected)}")
    print(f"  requests without an answer (timeout, reset): {len(unanswered)}")
    print(f"  2xx completed while the database was down: {len(ok_during)}")
    in_flight = [o for o in outcomes if o.sent < events["stop_begin"] < o.done]
    in_flight_writes = [o for o in in_flight if o.action == "change_status"]
    print(
        f"  in flight when PostgreSQL was killed: {len(in_flight)} "
        f"(change_status {len(in_flight_writes)}: "
        + (", ".join(f"{o.code} in {o.latency * 1000:.0f} ms" for o in in_flight_writes) or "-")
        + ")"
    )

    print()
    print("== Latency ==")
    normal = [o.latency for o in outcomes if o.done < events["stop_begin"] and o.code == 200]
    if normal:
        print(
            f"  before the outage: p50 {percentile(normal, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(normal, 0.99) * 1000:.0f} ms"
        )
    if affected_latency:
        print(
            f"  during the outage ({len(affected)} requests in flight between the stop and "
            f"the first 2xx after the restart): max {max(affected_latency):.2f} s, "
            f"p99 {percentile(affected_latency, 0.99):.2f} s, "
            f"p50 {percentile(affected_latency, 0.5):.2f} s"
        )
    if unavailable:
        latencies = sorted(o.latency for o in unavailable)
        print(
            f"  503s: max {latencies[-1]:.2f} s, p99 {percentile(latencies, 0.99):.2f} s, "
            f"min {latencies[0]:.3f} s; each: " + " ".join(f"{x:.2f}" for x in latencies[:40])
        )
    if recovered is not None:
        print(
            f"  recovery: first 2xx {recovered - up:.2f} s after the database was ready "
            f"({recovered - events['restart_begin']:.2f} s after its restart began)"
        )
    else:
        print("  recovery: NO 2xx after the database came back")

    print()
    print("== Server log (gunicorn) ==")
    print(f"  'database unavailable' warnings: {server_log['unavailable_warnings']}")
    print(f"  pool reconnection attempts that failed: {server_log['pool_connect_errors']}")
    print(f"  tracebacks: {server_log['tracebacks']}")
    for tail in server_log["traceback_tails"]:
        print(f"    {tail}")

    checked, history_rows, violations = consistency
    print()
    print("== Consistency ==")
    print(f"  bookings checked: {checked}, history rows checked: {history_rows}")
    acknowledged = sum(o.action == "change_status" and o.code == 200 for o in outcomes)
    unsure = sum(
        o.action == "change_status" and (o.code is None or o.code >= 500) for o in outcomes
    )
    print(
        f"  history rows written under load: {history_rows} = {acknowledged} acknowledged (200) "
        f"+ {history_rows - acknowledged} of the {unsure} change_status 503s/unanswered"
    )
    print(f"  violations: {len(violations)}")
    for violation in violations[:20]:
        print(f"    {violation}")
    print(
        "  Bounds: a booking has at least one history row per 200 (an acknowledged change\n"
        "  must have been committed) and at most one per 200 or 503: a 503 may come after\n"
        "  a commit the client never heard of (the server died between COMMIT and its\n"
        "  acknowledgement, or the answer was lost on the way back), so it may or may not\n"
        "  have left a row, but never half of one: the row and the booking change commit\n"
        "  together or not at all."
    )

    rules = [
        (not unavailable, "no 503 at all: the outage was not observed"),
        (other_5xx, f"{len(other_5xx)} 5xx answers other than 503"),
        (non_json_errors, f"{len(non_json_errors)} error answers without a JSON body"),
        (no_retry_after, f"{len(no_retry_after)} 503s without Retry-After"),
        (unexpected, f"{len(unexpected)} answers other than 200/503"),
        (unanswered, f"{len(unanswered)} requests without an answer"),
        (
            affected_latency and max(affected_latency) > args.max_outage_latency,
            f"a request took {max(affected_latency or [0]):.2f} s during the outage "
            f"(limit {args.max_outage_latency} s)",
        ),
        (recovered is None, "no 2xx after the database came back"),
        (
            recovered is not None and recovered - up > args.max_recovery,
            f"recovery took {(recovered or up) - up:.2f} s (limit {args.max_recovery} s)",
        ),
        (server_log["tracebacks"], f"{server_log['tracebacks']} tracebacks in the server log"),
        (violations, f"{len(violations)} consistency violations"),
    ]
    broken = [message for failed, message in rules if failed]
    print()
    if broken:
        print("FAILED:")
        for message in broken:
            print(f"  - {message}")
    else:
        print(
            "PASSED: 503 JSON answers, bounded latency and self-recovery during the outage; "
            "no half-written change."
        )
    return broken


# --- Main ---------------------------------------------------------------------------------


def app_env(database_url: str, overrides: list[str]) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in POOL_SETTINGS and not name.startswith("DJANGO_")
    }
    env.update(
        DATABASE_URL=database_url,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.update(override.split("=", 1) for override in overrides)
    return env


def experiment(args: argparse.Namespace, workdir: Path, cleanup: list) -> list[str]:
    if port_in_use(args.port):
        raise SetupError(f"port {args.port} is in use; pick another with --port")
    postgres = Postgres(workdir / "pgdata", args.port)
    cleanup.append(postgres.stop)
    started = time.monotonic()
    server_url = postgres.start()
    database_url = server_url.rsplit("/", 1)[0] + f"/{args.database}"
    with psycopg.connect(server_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{args.database}"')
        if args.synchronous_commit:
            # scripts/postgres.sh runs with synchronous_commit=off, which acknowledges a
            # commit before its WAL leaves shared memory: an immediate stop then loses the
            # last few hundred ms of acknowledged commits. That is the throwaway server
            # trading durability for speed, not the service; production runs with the
            # default (on), so this database does too. --async-commit shows the loss.
            admin.execute(f'ALTER DATABASE "{args.database}" SET synchronous_commit = on')
    env = app_env(database_url, args.app_env)
    python = str(VENV_BIN / "python")
    run([python, "manage.py", "migrate", "--no-input"], env=env)
    token = (
        run(
            [
                python,
                "manage.py",
                "create_api_token",
                "--business",
                str(BUSINESS_ID),
                "--username",
                "fault",
            ],
            env=env,
        )
        .strip()
        .splitlines()[-1]
    )

    http_port = args.http_port or free_port()
    server_log_path = workdir / "gunicorn.log"
    with open(server_log_path, "wb") as server_log:
        server = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{http_port}",
            ],
            cwd=ROOT,
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )

    def stop_server() -> None:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    cleanup.append(stop_server)
    wait_until_serving(http_port, token, server, limit=30)

    booking_ids = []
    for number in range(args.bookings):
        code, content_type, _, raw = call(
            http_port, token, "POST", "/v2/bookings", {"name": f"fault {number}"}
        )
        if code != 201:
            raise SetupError(f"creating a booking answered {code}: {raw[:200]!r}")
        booking_ids.append(json.loads(raw)["id"])
    print(
        f"setup: PostgreSQL on 127.0.0.1:{args.port}, gunicorn on 127.0.0.1:{http_port}, "
        f"{len(booking_ids)} bookings, {time.monotonic() - started:.1f} s"
    )
    if args.app_env:
        print(f"app environment: {' '.join(args.app_env)}")
    print(
        f"load: {args.clients} clients for {args.duration:.0f} s "
        f"({args.write_share:.0%} change_status); PostgreSQL stops at {args.down_at:.0f} s "
        f"for {args.down_for:.0f} s"
    )
    sys.stdout.flush()

    outcomes: list[Outcome] = []
    events: dict[str, float] = {}
    stop = threading.Event()
    t0 = time.monotonic()
    clients = [
        threading.Thread(
            target=client,
            args=(number, http_port, token, booking_ids, t0, stop, args, outcomes),
            daemon=True,
        )
        for number in range(args.clients)
    ]
    for thread in clients:
        thread.start()
    try:
        time.sleep(max(0.0, t0 + args.down_at - time.monotonic()))
        events["stop_begin"] = time.monotonic() - t0
        postgres.kill()
        events["down"] = time.monotonic() - t0
        time.sleep(max(0.0, t0 + events["down"] + args.down_for - time.monotonic()))
        events["restart_begin"] = time.monotonic() - t0
        postgres.start()
        events["up"] = time.monotonic() - t0
        time.sleep(max(0.0, t0 + args.duration - time.monotonic()))
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=args.client_timeout + 5)
    events["load_end"] = time.monotonic() - t0

    consistency = check_bookings(database_url, outcomes)
    stop_server()
    return report(args, outcomes, events, consistency, scan_server_log(server_log_path))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Stop PostgreSQL abruptly under API load and prove 503 JSON answers, bounded "
            "latency, self-recovery and no half-written status change."
        )
    )
    parser.add_argument("--port", type=int, default=54339, help="PostgreSQL port (54339)")
    parser.add_argument("--http-port", type=int, help="gunicorn port (default: a free one)")
    parser.add_argument("--database", default="db_fault", help="database name (db_fault)")
    parser.add_argument("--bookings", type=int, default=50, help="bookings to create (50)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (4)")
    parser.add_argument("--duration", type=float, default=25, help="load seconds (25)")
    parser.add_argument(
        "--down-at", type=float, default=6, help="seconds into the load to stop PostgreSQL (6)"
    )
    parser.add_argument(
        "--down-for", type=float, default=6, help="seconds PostgreSQL stays down (6)"
    )
    parser.add_argument(
        "--write-share", type=float, default=0.6, help="share of change_status requests (0.6)"
    )
    parser.add_argument(
        "--think", type=float, default=0.02, help="pause after each request, s (0.02)"
    )
    parser.add_argument(
        "--client-timeout", type=float, default=15, help="per-request timeout, s (15)"
    )
    parser.add_argument(
        "--max-outage-latency",
        type=float,
        default=10,
        help="limit on any request's latency during the outage, s (10)",
    )
    parser.add_argument(
        "--max-recovery",
        type=float,
        default=10,
        help="limit from the database being ready to the first 2xx, s (10)",
    )
    parser.add_argument(
        "--async-commit",
        dest="synchronous_commit",
        action="store_false",
        help="keep scripts/postgres.sh's synchronous_commit=off for the database "
        "(acknowledged commits can then be lost by the immediate stop)",
    )
    parser.add_argument(
        "--app-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the app, e.g. DB_POOL_TIMEOUT=1 (repeatable); "
        "without it the pool settings are the defaults of config/settings.py",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs, data)"
    )
    args = parser.parse_args()
    if not 0 < args.down_at < args.down_at + args.down_for < args.duration:
        parser.error("need 0 < --down-at < --down-at + --down-for < --duration")
    if any("=" not in override for override in args.app_env):
        parser.error("--app-env takes NAME=VALUE")
    return args


def main() -> int:
    args = parse_args()
    # A SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C so that cleanup runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="db-fault-"))
    workdir.chmod(0o755)  # the server runs as `postgres` and must reach its datadir
    cleanup: list = []
    try:
        broken = experiment(args, workdir, cleanup)
    except SetupError as error:
        print(f"setup failed: {error}", file=sys.stderr)
        return 2
    finally:
        for step in reversed(cleanup):
            try:
                step()
            except Exception as error:  # noqa: BLE001 - cleanup must go on
                print(f"cleanup: {error!r}", file=sys.stderr)
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
