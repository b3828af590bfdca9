"""HTTP benchmark: every API endpoint under Django against a raw floor, side by side.

    .venv/bin/python bench/http/run.py [--bookings 1000000] [--duration 10] [--repeats 3]
    .venv/bin/python bench/http/run.py --quick          # a development run: ~2 minutes
    .venv/bin/python bench/http/run.py --reuse          # keep the loaded data for next time

One command, on a fresh machine (run as root, or with Debian's wrk and postgresql
already installed):

1. Installs Debian's `wrk` if it is missing, and starts a throwaway PostgreSQL on
   127.0.0.1 (`scripts/postgres.sh start DATADIR --port`, default 54349).
2. Creates the database, migrates, and loads the dataset: `--businesses` businesses
   (1,000), every other one with its own fork of the shared status list
   (statuses.services.fork_shared_statuses), `--bookings` bookings (1,000,000) with
   their history (manage.py generate_bookings), and API tokens for a handful of
   businesses (bench/http/django_helper.py). Loading a million bookings takes minutes:
   with `--reuse` the data directory is kept (`--datadir`, default
   /var/tmp/booking-status-bench-http) and a database already loaded with the same
   parameters is used again (migrations are still applied).
3. Serves the project under gunicorn with production settings (DJANGO_PRODUCTION=1,
   2 sync workers) and the floor, bench/http/floor_app.py (raw WSGI, psycopg 3 with a
   psycopg_pool pool, orjson), under gunicorn the same way, on the same database.
4. Checks that the floor answers the benchmark's requests with the same JSON as Django
   (printing every mismatch), then counts Django's queries per request (test client +
   CaptureQueriesContext, same settings and database).
5. Drives each endpoint with wrk (`--threads` 2, `--connections` 8, `--latency`,
   the Lua scripts beside this file): a warm-up run, then `--repeats` runs of
   `--duration` seconds, Django and the floor back to back (alternating which goes
   first), and reports medians: requests/s, p50 and p99 latency, and the ratios
   Django/floor. Non-2xx responses and socket errors are totals over all measured runs.
6. Scaling: GET /v2/bookings/{id} and the filtered list page again on a second
   database of `--small-bookings` (10,000) bookings spread so that the token's business
   has as many bookings as in the big one (only the tables are smaller).
7. Prints a Markdown table and writes it to bench/results/http-<UTC timestamp>.md
   (beside it, http-<UTC timestamp>/ holds the raw wrk output and the server logs).
   gunicorn and PostgreSQL are stopped whatever happens.
8. With `--metrics` (issue 19), two more Django servers run beside the first, measured in
   the same rounds: one with /metrics on (METRICS_ENABLED=1, PROMETHEUS_MULTIPROC_DIR,
   `--config config/gunicorn.py`), one without the request log (DJANGO_LOG_LEVEL=WARNING);
   the report compares them with Django as always (request log on, metrics off).

Endpoints: POST /v2/bookings/{id}/change_status, GET /v2/bookings/{id},
GET /v2/bookings?status=tentative (one page), GET /status (a forked list and the
shared list), POST /status (a new subStatus per request, in a pre-forked business),
PUT /status (sortOrder alternating on the business's own statuses).

`--quick` (20,000 bookings over 50 businesses, 1 s warm-up, 3 s runs, 1 repeat) checks
the whole pipeline; its numbers are not measurements of record. All load goes to
127.0.0.1 and every wrk run is bounded by its duration.
"""

import argparse
import datetime as dt
import http.client
import importlib.metadata
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
FIRST_BUSINESS_ID = 100_001
DATASET_SEED = 6
REUSE_DATADIR = Path("/var/tmp/booking-status-bench-http")
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def log(message: str) -> None:
    print(f"[bench/http] {message}", file=sys.stderr, flush=True)


# --- Arguments --------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark every endpoint under Django against a raw WSGI floor.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See the module docstring (bench/http/run.py) for what each step does.",
    )
    parser.add_argument("--bookings", type=int, help="bookings in the main database (1000000)")
    parser.add_argument("--businesses", type=int, help="businesses in the main database (1000)")
    parser.add_argument(
        "--small-bookings", type=int, help="bookings in the scaling database (10000)"
    )
    parser.add_argument("--duration", type=int, help="seconds per measured run (10)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up per endpoint (3)")
    parser.add_argument("--repeats", type=int, help="measured runs per endpoint (3)")
    parser.add_argument("--quick", action="store_true", help="small, short development run")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data directory and reuse loaded data"
    )
    parser.add_argument("--datadir", type=Path, help=f"with --reuse (default {REUSE_DATADIR})")
    parser.add_argument("--port", type=int, default=54349, help="PostgreSQL port (54349)")
    parser.add_argument("--django-port", type=int, default=18431)
    parser.add_argument("--floor-port", type=int, default=18432)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--only", help="comma-separated endpoint names (for development)")
    parser.add_argument("--skip-scaling", action="store_true", help="no 10k-vs-1M comparison")
    parser.add_argument(
        "--webhook-endpoints",
        type=int,
        default=0,
        metavar="N",
        help="also measure change_status with N webhook endpoints subscribed for the "
        "token's business (issue 15: within 5%% of none)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="also serve Django with /metrics on (METRICS_ENABLED=1, PROMETHEUS_MULTIPROC_DIR, "
        "config/gunicorn.py) and Django without the request log, to measure both "
        "(issue 19: change_status within 5%% of Django without metrics)",
    )
    args = parser.parse_args(argv)
    defaults = (
        {"bookings": 20_000, "businesses": 50, "small_bookings": 10_000}
        | {"duration": 3, "warmup": 1, "repeats": 1}
        if args.quick
        else {"bookings": 1_000_000, "businesses": 1_000, "small_bookings": 10_000}
        | {"duration": 10, "warmup": 3, "repeats": 3}
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.businesses < 6:
        parser.error("--businesses must be at least 6")
    if args.datadir and not args.reuse:
        parser.error("--datadir goes with --reuse")
    return args


# --- Processes ---------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("installing Debian's wrk ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True)
    return shutil.which("wrk") or "wrk"


def port_is_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def processes() -> list[tuple[int, int, int, float]]:
    """(pid, parent pid, process group, CPU seconds used) of every process."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
        found.append((int(entry), int(fields[1]), int(fields[2]), cpu))
    return found


class PostgreSQL:
    """The server scripts/postgres.sh starts; stop() is safe to call at any time."""

    def __init__(self, datadir: Path, port: int) -> None:
        self.datadir, self.port, self.started = datadir, port, False

    def start(self) -> str:
        if port_is_open(self.port):
            raise SystemExit(
                f"port {self.port} is in use: pass another --port (or stop a PostgreSQL "
                f"left running: scripts/postgres.sh stop {self.datadir})"
            )
        result = subprocess.run(
            [str(ROOT / "scripts" / "postgres.sh"), "start", str(self.datadir), str(self.port)],
            check=True,
            capture_output=True,
            text=True,
        )
        self.started = True
        return result.stdout.strip().splitlines()[-1]

    def cpu_seconds(self) -> float:
        """CPU used so far by the postmaster and its children (backends, autovacuum);
        a child that exits takes its share along, which pooled backends do not do."""
        postmaster = int((self.datadir / "postmaster.pid").read_text().split()[0])
        return sum(cpu for pid, ppid, _, cpu in processes() if postmaster in (pid, ppid))

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                [str(ROOT / "scripts" / "postgres.sh"), "stop", str(self.datadir)],
                capture_output=True,
            )
            self.started = False


class Server:
    """A gunicorn in its own process group, so that stop() ends it and its workers."""

    def __init__(self, name: str, argv: list[str], env: dict, port: int, logfile: Path) -> None:
        self.name, self.argv, self.env, self.port, self.logfile = name, argv, env, port, logfile
        self.process: subprocess.Popen | None = None

    def start(self, key: str) -> None:
        if port_is_open(self.port):
            raise SystemExit(f"port {self.port} ({self.name}) is in use")
        with self.logfile.open("ab") as output:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited at start; see {self.logfile}")
            try:
                status, _ = http_json(self.port, "GET", "/status", key)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"{self.name} did not answer within 60 s; see {self.logfile}")

    def cpu_seconds(self) -> float:
        """CPU used so far by gunicorn's master and workers (its process group)."""
        return sum(cpu for _, _, group, cpu in processes() if group == self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def gunicorn(app: str, port: int, workers: int, chdir: Path) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        app,
        "--chdir",
        str(chdir),
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
    ]


def http_json(
    port: int, method: str, path: str, key: str | None, body: dict | None = None
) -> tuple[int, object]:
    """One request; the same Host header for both servers, so that URLs in the
    responses (the list's next link) compare equal."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": "127.0.0.1", "Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Token {key}"
    payload = json.dumps(body).encode() if body is not None else None
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError:
        return response.status, raw.decode(errors="replace")


# --- Data ---------------------------------------------------------------------


def database_url(base_url: str, name: str) -> str:
    return base_url.rsplit("/", 1)[0] + "/" + name


def manage(env: dict, *args: str, quiet: bool = False) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )


def helper(env: dict, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(HERE / "django_helper.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def ensure_dataset(
    admin_url: str, name: str, bookings: int, businesses: int, reuse: bool, env: dict
) -> None:
    """Create (or, with --reuse, find) database `name` loaded with the dataset."""
    marker = (
        f"bench/http dataset: {bookings} bookings, {businesses} businesses, "
        f"seed {DATASET_SEED}, complete"
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
        loaded = reuse and row is not None and row[0] == marker
        if not loaded:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"{name}: migrating")
    manage(env, "migrate", "--no-input", quiet=True)
    if loaded:
        log(f"{name}: reusing the loaded dataset ({bookings:,} bookings)")
        return
    log(f"{name}: generating {bookings:,} bookings over {businesses:,} businesses")
    started = time.monotonic()
    manage(
        env,
        "generate_bookings",
        "--count",
        str(bookings),
        "--businesses",
        str(businesses),
        "--first-business-id",
        str(FIRST_BUSINESS_ID),
        "--seed",
        str(DATASET_SEED),
    )
    forked = helper(env, "fork-half", "--first", str(FIRST_BUSINESS_ID), "--count", str(businesses))
    log(f"{name}: forked the status list into {forked['forked']} businesses")
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(marker)
            )
        )
    log(f"{name}: loaded in {time.monotonic() - started:.0f} s")


def subscribe_endpoints(url: str, business_id: int, count: int) -> None:
    """Make `count` active endpoints subscribed to every event type for the business
    (the benchmark's own, replacing earlier runs'). No worker runs: a write's cost
    must not depend on them (one event row whatever the number of endpoints)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM webhooks_webhookendpoint WHERE business_id = %s "
            "AND description = 'bench/http'",
            (business_id,),
        )
        for number in range(count):
            conn.execute(
                "INSERT INTO webhooks_webhookendpoint (business_id, url, event_types, "
                "description, active, disabled_reason, created_at, secret, previous_secrets) "
                "VALUES (%s, %s, '[\"*\"]', 'bench/http', true, '', now(), %s, '[]')",
                (business_id, f"https://hooks.example.com/bench/{number}", "whsec_" + "A" * 44),
            )


def delete_posted_statuses(url: str, business_id: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM statuses_status WHERE business_id = %s AND sub_status LIKE 'bench %%'",
            (business_id,),
        )


# --- Same JSON ----------------------------------------------------------------


def differences(django: object, floor: object, path: str = "$") -> list[str]:
    if isinstance(django, dict) and isinstance(floor, dict):
        if list(django) != list(floor):
            return [f"{path}: keys {list(django)} != floor's {list(floor)}"]
        found = []
        for key in django:
            found += differences(django[key], floor[key], f"{path}.{key}")
        return found
    if isinstance(django, list) and isinstance(floor, list):
        if len(django) != len(floor):
            return [f"{path}: {len(django)} items != floor's {len(floor)}"]
        found = []
        for index, (left, right) in enumerate(zip(django, floor, strict=True)):
            found += differences(left, right, f"{path}[{index}]")
        return found
    if type(django) is not type(floor) or django != floor:
        return [f"{path}: {django!r} != floor's {floor!r}"]
    return []


def both_or_neither(django: object, floor: object) -> bool:
    """Two `next` links: Django signs its cursors with a key the floor does not have, so
    only whether there is a next page can be compared."""
    return (django is None) == (floor is None)


def moments_close(django: object, floor: object) -> bool:
    """Two server-side "now" stamps: same format, taken within a minute of each other."""
    if isinstance(django, int) and isinstance(floor, int):
        return abs(django - floor) < 60_000
    if isinstance(django, str) and isinstance(floor, str):
        if not (ISO_UTC.match(django) and ISO_UTC.match(floor)):
            return False
        left = dt.datetime.fromisoformat(django.replace("Z", "+00:00"))
        right = dt.datetime.fromisoformat(floor.replace("Z", "+00:00"))
        return abs(left - right) < dt.timedelta(minutes=1)
    return False


@dataclass
class Check:
    name: str
    role: str
    method: str
    path: str
    body: dict | None = None
    floor_body: dict | None = None  # when the floor must get another body (a new name)
    # keys of the response whose values may differ, and how they must relate
    loose: dict[str, Callable[[object, object], bool]] = field(default_factory=dict)
    status_only: bool = False


def same_json_checks(context: dict) -> list[Check]:
    roles, ids = context["businesses"], context["booking_ids"]
    tag = secrets.token_hex(3)
    target = context["put_target"]
    put_body = json.loads(target["prefix"] + str(target["sort_order"] + 1) + "}")
    post = {"statusId": None, "businessId": roles["post"], "status": "OPEN"}
    now_stamps = {name: moments_close for name in ("tentative_at", "updated_at")}
    return [
        *(Check(f"booking_detail {pk}", "bookings", "GET", f"/v2/bookings/{pk}") for pk in ids),
        Check(
            "booking_list",
            "bookings",
            "GET",
            "/v2/bookings?status=tentative",
            loose={"next": both_or_neither},
        ),
        Check(
            "booking_list 2 statuses",
            "bookings",
            "GET",
            "/v2/bookings?status=definite,lost",
            loose={"next": both_or_neither},
        ),
        Check("status_get_forked", "bookings", "GET", "/status"),
        Check("status_get_shared", "shared", "GET", "/status"),
        Check("another business's booking", "shared", "GET", f"/v2/bookings/{ids[0]}", None),
        Check("no token", "", "GET", "/status", status_only=True),
        Check(
            "change_status",
            "bookings",
            "POST",
            f"/v2/bookings/{ids[1]}/change_status",
            {"status": "tentative"},
            loose={
                **now_stamps,
                # Django's request, then the floor's, on one booking: one write apart.
                "version": lambda left, right: right == left + 1,
                "tentative_date": lambda left, right: (
                    left == right or (moments_close(left + "T00:00:00Z", right + "T00:00:00Z"))
                ),
            },
        ),
        Check("booking_detail after change_status", "bookings", "GET", f"/v2/bookings/{ids[1]}"),
        Check(
            "status_post",
            "post",
            "POST",
            "/status",
            {**post, "subStatus": f"bench check {tag} django"},
            {**post, "subStatus": f"bench check {tag} floor"},
            loose={
                "statusId": lambda left, right: (
                    isinstance(left, int) and isinstance(right, int) and right > left
                ),
                "subStatus": lambda left, right: (
                    (left, right) == (f"bench check {tag} django", f"bench check {tag} floor")
                ),
                "sortOrder": lambda left, right: right == left + 1,
                "createdDate": moments_close,
            },
        ),
        Check("status_get after POSTs", "post", "GET", "/status"),
        Check(
            "status_put", "put", "PUT", "/status", put_body, loose={"modifiedDate": moments_close}
        ),
        Check("status_get after PUTs", "put", "GET", "/status"),
    ]


def check_same_json(context: dict, django_port: int, floor_port: int, url: str) -> list[str]:
    """Send each check's request to Django, then to the floor; return the mismatches
    (the change_status check's events included)."""
    mismatches = []
    for check in same_json_checks(context):
        key = context["keys"].get(check.role)
        django_status, django = http_json(django_port, check.method, check.path, key, check.body)
        floor_status, floor = http_json(
            floor_port, check.method, check.path, key, check.floor_body or check.body
        )
        if django_status != floor_status:
            mismatches.append(f"{check.name}: status {django_status} != floor's {floor_status}")
            continue
        if check.status_only or django_status >= 400:
            continue
        if check.loose and isinstance(django, dict) and isinstance(floor, dict):
            for name, related in check.loose.items():
                if not related(django.get(name), floor.get(name)):
                    mismatches.append(
                        f"{check.name}: $.{name}: {django.get(name)!r} vs floor's "
                        f"{floor.get(name)!r}"
                    )
            django = {k: "~" if k in check.loose else v for k, v in django.items()}
            floor = {k: "~" if k in check.loose else v for k, v in floor.items()}
        mismatches += [f"{check.name}: {found}" for found in differences(django, floor)]
    return mismatches + check_same_event(context, url)


def check_same_event(context: dict, url: str) -> list[str]:
    """The change_status check's two events (Django's, then the floor's, on one booking)
    carry the same `data`, up to the moments and the history id each write made."""
    booking_id = context["booking_ids"][1]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT data FROM events_event WHERE type = 'booking.status_changed' "
            "AND business_id = %s AND (data -> 'booking' ->> 'id')::bigint = %s "
            "ORDER BY id DESC LIMIT 2",
            (context["businesses"]["bookings"], booking_id),
        ).fetchall()
    if len(rows) != 2:
        return [f"change_status event: {len(rows)} events of booking {booking_id}, not 2"]
    floor, django = rows[0][0], rows[1][0]
    loose = {
        "booking": {
            "tentative_at": moments_close,
            "updated_at": moments_close,
            "version": lambda left, right: right == left + 1,
        },
        "change": {
            "id": lambda left, right: right > left,
            "from_status": lambda left, right: right == "tentative",  # Django's change first
            "status_at": moments_close,
            "recorded_at": moments_close,
        },
    }
    mismatches = []
    for part, related in loose.items():
        for name, close in related.items():
            left, right = django.get(part, {}).get(name), floor.get(part, {}).get(name)
            if not close(left, right):
                mismatches.append(
                    f"change_status event: $.data.{part}.{name}: {left!r} vs floor's {right!r}"
                )
            for data in (django, floor):
                if name in data.get(part, {}):
                    data[part][name] = "~"
    return mismatches + [f"change_status event: {found}" for found in differences(django, floor)]


# --- Load -------------------------------------------------------------------------


@dataclass
class Endpoint:
    name: str
    label: str
    role: str
    script: str
    path: str
    extra: Callable[[dict, str], list[str]] = lambda context, tag: []
    before_run: Callable[[dict, str], None] | None = None  # (context, database url)
    scaling: bool = False


ENDPOINTS = [
    Endpoint(
        "change_status",
        "`POST /v2/bookings/{id}/change_status`",
        "bookings",
        "change_status.lua",
        "/",
        extra=lambda context, tag: [context["booking_ids_file"]],
    ),
    Endpoint(
        "booking_detail",
        "`GET /v2/bookings/{id}`",
        "bookings",
        "booking_detail.lua",
        "/",
        extra=lambda context, tag: [context["booking_ids_file"]],
        scaling=True,
    ),
    Endpoint(
        "booking_list",
        "`GET /v2/bookings?status=tentative`",
        "bookings",
        "get_path.lua",
        "/v2/bookings?status=tentative",
        scaling=True,
    ),
    Endpoint(
        "status_get_forked", "`GET /status` (forked list)", "bookings", "get_path.lua", "/status"
    ),
    Endpoint(
        "status_get_shared", "`GET /status` (shared list)", "shared", "get_path.lua", "/status"
    ),
    Endpoint(
        "status_post",
        "`POST /status`",
        "post",
        "status_post.lua",
        "/",
        extra=lambda context, tag: [str(context["businesses"]["post"]), tag],
        before_run=lambda context, url: delete_posted_statuses(url, context["businesses"]["post"]),
    ),
    Endpoint(
        "status_put",
        "`PUT /status`",
        "put",
        "status_put.lua",
        "/",
        extra=lambda context, tag: [context["put_targets_file"]],
    ),
]
# Statements the floor runs per request, the token lookup included (BEGIN/COMMIT not).
FLOOR_QUERIES = {
    "change_status": 6,
    "change_status_subscribed": 6,
    "booking_detail": 2,
    "booking_list": 2,
    "status_get_forked": 2,
    "status_get_shared": 2,
    "status_post": 3,
    "status_put": 2,
}


class Load:
    """wrk runs; the raw output of each goes to one log file."""

    def __init__(
        self, args: argparse.Namespace, wrk: str, logfile: Path, postgres: PostgreSQL
    ) -> None:
        self.args, self.wrk, self.logfile, self.postgres = args, wrk, logfile, postgres
        self.runs = 0

    def run(self, endpoint: Endpoint, server: Server, context: dict, seconds: int) -> dict:
        """One wrk run against `server`; with the CPU time the server and PostgreSQL
        used per request (steadier than throughput on a machine others use too)."""
        port = server.port
        self.runs += 1
        tag = f"{secrets.token_hex(3)}{self.runs}"
        argv = [
            self.wrk,
            "--threads",
            str(self.args.threads),
            "--connections",
            str(self.args.connections),
            "--duration",
            f"{seconds}s",
            "--latency",
            "--script",
            str(HERE / endpoint.script),
            f"http://127.0.0.1:{port}{endpoint.path}",
            "--",
            context["keys"][endpoint.role],
            *endpoint.extra(context, tag),
        ]
        app_cpu, db_cpu = server.cpu_seconds(), self.postgres.cpu_seconds()
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        app_cpu = server.cpu_seconds() - app_cpu
        db_cpu = self.postgres.cpu_seconds() - db_cpu
        with self.logfile.open("a") as output:
            output.write(f"$ {' '.join(argv[:-1])} <key> ...\n{result.stdout}{result.stderr}\n")
        line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
        if result.returncode != 0 or line is None:
            raise SystemExit(f"wrk failed on {endpoint.name}: {result.stderr.strip()}")
        raw = json.loads(line.split(" ", 1)[1])
        return {
            "rps": raw["requests"] / (raw["duration_us"] / 1e6),
            "p50": raw["p50_us"] / 1000,
            "p99": raw["p99_us"] / 1000,
            "non_2xx": raw["non_2xx"],
            "socket_errors": raw["connect_errors"]
            + raw["read_errors"]
            + raw["write_errors"]
            + raw["timeouts"],
            "requests": raw["requests"],
            "app_cpu": app_cpu * 1000 / max(raw["requests"], 1),
            "db_cpu": db_cpu * 1000 / max(raw["requests"], 1),
        }

    def compare(
        self, endpoint: Endpoint, servers: dict[str, Server], context: dict, url: str
    ) -> dict[str, dict]:
        """Warm-up, then the repeats, Django and floor back to back; the medians."""
        args = self.args
        for name, server in servers.items():
            if endpoint.before_run:
                endpoint.before_run(context, url)
            log(f"  {endpoint.name}: warm-up {name}")
            self.run(endpoint, server, context, args.warmup)
        runs: dict[str, list[dict]] = {name: [] for name in servers}
        order = list(servers)
        for repeat in range(args.repeats):
            for name in order if repeat % 2 == 0 else order[::-1]:
                if endpoint.before_run:
                    endpoint.before_run(context, url)
                measured = self.run(endpoint, servers[name], context, args.duration)
                log(
                    f"  {endpoint.name} {name} #{repeat + 1}: {measured['rps']:.0f} req/s, "
                    f"p50 {measured['p50']:.2f} ms, p99 {measured['p99']:.2f} ms, "
                    f"CPU/req {measured['app_cpu']:.2f} ms + PostgreSQL "
                    f"{measured['db_cpu']:.2f} ms, non-2xx {measured['non_2xx']}"
                )
                runs[name].append(measured)
        return {name: summarize(measured) for name, measured in runs.items()}


def summarize(runs: list[dict]) -> dict:
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50": statistics.median(r["p50"] for r in runs),
        "p99": statistics.median(r["p99"] for r in runs),
        "app_cpu": statistics.median(r["app_cpu"] for r in runs),
        "db_cpu": statistics.median(r["db_cpu"] for r in runs),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "socket_errors": sum(r["socket_errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "runs": len(runs),
    }


# --- Report -------------------------------------------------------------------------


def machine_facts(admin_url: str, wrk: str) -> list[str]:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal"):
                memory_kib = int(line.split()[1])
    with psycopg.connect(admin_url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("django", "djangorestframework", "gunicorn", "psycopg", "orjson")
    )
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return [
        f"{cpu}, {os.cpu_count()} cores, {memory_kib / 2**20:.0f} GiB, Linux {platform.release()}",
        f"PostgreSQL {server} on 127.0.0.1 (scripts/postgres.sh: fsync and synchronous_commit "
        f"off); Python {platform.python_version()}; {versions}; "
        f"{(wrk_version.stdout or wrk_version.stderr).split(' [')[0].strip()}",
        f"commit {commit}" + (" with uncommitted changes in tracked files" if dirty else ""),
    ]


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}×" if denominator else "–"


def results_table(
    results: dict[str, dict[str, dict]], queries: dict[str, dict], endpoints: list[Endpoint]
) -> list[str]:
    lines = [
        "| endpoint | queries Django / floor | req/s Django | req/s floor | req/s ratio "
        "| p50 Django | p50 floor | p99 Django | p99 floor | p99 ratio "
        "| app CPU/req Django / floor | PostgreSQL CPU/req Django / floor "
        "| non-2xx Django / floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for endpoint in endpoints:
        if endpoint.name not in results:
            continue
        django, floor = results[endpoint.name]["django"], results[endpoint.name]["floor"]
        counted = queries.get(endpoint.name, {}).get("queries", "?")
        errors = django["socket_errors"] + floor["socket_errors"]
        lines.append(
            f"| {endpoint.label} | {counted} / {FLOOR_QUERIES[endpoint.name]} "
            f"| {django['rps']:,.0f} | {floor['rps']:,.0f} | {ratio(django['rps'], floor['rps'])} "
            f"| {django['p50']:.2f} ms | {floor['p50']:.2f} ms "
            f"| {django['p99']:.2f} ms | {floor['p99']:.2f} ms "
            f"| {ratio(django['p99'], floor['p99'])} "
            f"| {django['app_cpu']:.2f} / {floor['app_cpu']:.2f} ms "
            f"| {django['db_cpu']:.2f} / {floor['db_cpu']:.2f} ms "
            f"| {django['non_2xx']} / {floor['non_2xx']}"
            + (f" ({errors} socket errors)" if errors else "")
            + " |"
        )
    return lines


def scaling_table(
    small: dict[str, dict[str, dict]],
    big: dict[str, dict[str, dict]],
    small_size: int,
    big_size: int,
) -> list[str]:
    s, b = f"{small_size:,}", f"{big_size:,}"
    lines = [
        f"| endpoint | server | p50 @{s} | p50 @{b} | p50 ratio | p99 @{s} | p99 @{b} "
        f"| p99 ratio | req/s @{s} | req/s @{b} |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for endpoint in ENDPOINTS:
        if endpoint.name not in small or endpoint.name not in big:
            continue
        for server in ("django", "floor"):
            little, large = small[endpoint.name][server], big[endpoint.name][server]
            lines.append(
                f"| {endpoint.label} | {server} | {little['p50']:.2f} ms | {large['p50']:.2f} ms "
                f"| {ratio(large['p50'], little['p50'])} | {little['p99']:.2f} ms "
                f"| {large['p99']:.2f} ms | {ratio(large['p99'], little['p99'])} "
                f"| {little['rps']:,.0f} | {large['rps']:,.0f} |"
            )
    return lines


# With --metrics (issue 19): Django with /metrics on (and the request log, as the
# production default), and Django without the request log (DJANGO_LOG_LEVEL=WARNING),
# beside Django as always (the request log on, metrics off).
METRICS_ON = "django+metrics"
REQUEST_LOG_OFF = "django-no-request-log"


def observability_table(
    results: dict[str, dict[str, dict]], endpoints: list[Endpoint]
) -> list[str]:
    lines = [
        "| endpoint | server | req/s | p50 | p99 | app CPU/req | req/s ratio to Django "
        "(metrics off, request log on) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for endpoint in endpoints:
        measured = results.get(endpoint.name, {})
        if METRICS_ON not in measured:
            continue
        django = measured["django"]
        for name in (REQUEST_LOG_OFF, "django", METRICS_ON):
            server = measured[name]
            lines.append(
                f"| {endpoint.label} | {name} | {server['rps']:,.0f} | {server['p50']:.2f} ms "
                f"| {server['p99']:.2f} ms | {server['app_cpu']:.2f} ms "
                f"| {ratio(server['rps'], django['rps'])} |"
            )
    return lines


def goals(
    results: dict[str, dict[str, dict]],
    queries: dict[str, dict],
    small: dict[str, dict[str, dict]],
) -> list[str]:
    """The goals of issue 6, judged on this run."""

    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = []
    minimum_ratios = {
        "change_status": 0.6,
        "status_get_forked": 0.5,
        "status_get_shared": 0.5,
        "booking_detail": 0.5,
    }
    for name, minimum in minimum_ratios.items():
        if name in results:
            got = results[name]["django"]["rps"] / results[name]["floor"]["rps"]
            lines.append(
                f"- `{name}` req/s ≥ {minimum}× floor: {got:.2f}× — {mark(got >= minimum)}"
            )
    worst = [
        (results[name]["django"]["p99"] / results[name]["floor"]["p99"], name) for name in results
    ]
    if worst:
        got, name = max(worst)
        lines.append(
            f"- p99 ≤ 2× floor's, every endpoint: worst {got:.2f}× (`{name}`) — {mark(got <= 2)}"
        )
    failures = sum(r["django"]["non_2xx"] + r["django"]["socket_errors"] for r in results.values())
    lines.append(
        f"- zero non-2xx and socket errors under load (Django): {failures} — {mark(failures == 0)}"
    )
    # change_status: auth, lock, the business's zone (issue 16), update, history, event
    # (issue 15).
    budgets = {"status_get_forked": 2, "status_get_shared": 2, "change_status": 6}
    for name, budget in budgets.items():
        if name in queries:
            got = queries[name]["queries"]
            lines.append(
                f"- `{name}` queries ≤ {budget} (token lookup included): {got} — "
                f"{mark(got <= budget)}"
            )
    if "change_status" in results and "change_status_subscribed" in results:
        got = (
            results["change_status_subscribed"]["django"]["rps"]
            / results["change_status"]["django"]["rps"]
        )
        lines.append(
            f"- `change_status` req/s with webhook endpoints subscribed within 5% of none "
            f"(issue 15): {got:.2f}× — {mark(got >= 0.95)}"
        )
    if METRICS_ON in results.get("change_status", {}):
        measured = results["change_status"]
        got = measured[METRICS_ON]["rps"] / measured["django"]["rps"]
        lines.append(
            f"- `change_status` req/s with metrics on within 5% of off (issue 19): "
            f"{got:.2f}× — {mark(got >= 0.95)}"
        )
    for name in ("booking_detail", "booking_list"):
        if name in small and name in results:
            got = results[name]["django"]["p50"] / small[name]["django"]["p50"]
            lines.append(
                f"- `{name}` p50 at the big size ≤ 1.2× the small's: {got:.2f}× — "
                f"{mark(got <= 1.2)}"
            )
    return lines


def report(
    args: argparse.Namespace,
    facts: list[str],
    results: dict,
    queries: dict,
    small: dict,
    mismatches: list[str],
    context: dict,
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
    started: dt.datetime,
) -> str:
    endpoints = [e for e in ENDPOINTS if e.name in results]
    command = "bench/http/run.py " + " ".join(sys.argv[1:])
    kind = "Quick development run (not a measurement of record)" if args.quick else "Run"
    lines = [
        f"# HTTP benchmark, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"{kind}: `{command.strip()}`",
        "",
        *(f"- {fact}" for fact in facts),
        f"- load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}, "
        f"after {', '.join(f'{x:.2f}' for x in load_after)}",
        f"- dataset: {args.bookings:,} bookings over {args.businesses:,} businesses (every "
        f"other one with its own status list); the token's business has "
        f"{context['bookings_of_business']:,} bookings",
        f"- gunicorn {args.workers} sync workers each (Django: production settings); wrk "
        f"{args.threads} threads, {args.connections} connections; {args.warmup} s warm-up, "
        f"then {args.repeats} × {args.duration} s per server, back to back; medians",
        "",
        "## Django vs the raw floor",
        "",
        *results_table(results, queries, endpoints),
        "",
        "Ratios are Django / floor: req/s higher is better (1.00× = as fast as the floor), "
        "p99 lower is better. Queries: Django's as counted by CaptureQueriesContext, the "
        "floor's by construction; the token lookup and savepoints included, BEGIN/COMMIT "
        "and the pool's connection check (one round trip, only for a connection idle over "
        "DB_POOL_CHECK_IDLE seconds) not. "
        "CPU/req: CPU time used by the server's gunicorn (master and workers) and by "
        "PostgreSQL during a run, over the requests served (medians); unlike req/s it "
        "hardly depends on what else the machine runs. Non-2xx: totals over the measured "
        "runs.",
        "",
    ]
    if small:
        lines += [
            f"## Scaling: {args.small_bookings:,} vs {args.bookings:,} bookings",
            "",
            *scaling_table(small, results, args.small_bookings, args.bookings),
            "",
            "Both databases give the token's business about the same number of bookings; "
            "only the tables differ in size. Ratio = big / small (1.00× = no growth).",
            "",
        ]
    if args.metrics:
        lines += [
            "## Metrics and the request log (issue 19)",
            "",
            *observability_table(results, endpoints),
            "",
            f"`django`: production settings, so the JSON request log on (to the server's log "
            f"file) and metrics off. `{METRICS_ON}`: the same with METRICS_ENABLED=1 in "
            f"prometheus-client's multiprocess mode (config/gunicorn.py). `{REQUEST_LOG_OFF}`: "
            f"metrics off and DJANGO_LOG_LEVEL=WARNING, so no request log line.",
            "",
        ]
    lines += ["## Goals (issue 6)", "", *goals(results, queries, small), ""]
    lines += ["## Same JSON check", ""]
    if mismatches:
        lines += [f"- {m}" for m in mismatches]
    else:
        lines += ["Every checked request got the same JSON from Django and the floor."]
    lines += ["", "## Django's SQL per request", ""]
    for name, counted in queries.items():
        lines += [f"### {name} ({counted['queries']} queries, HTTP {counted['status']})", ""]
        lines += ["```sql", *counted["sql"], "```", ""]
    return "\n".join(lines)


# --- Main ---------------------------------------------------------------------------


def random_secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(50))


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    selected = [e for e in ENDPOINTS if not args.only or e.name in args.only.split(",")]
    if not selected:
        raise SystemExit(f"--only: choose from {', '.join(e.name for e in ENDPOINTS)}")
    if args.webhook_endpoints and any(e.name == "change_status" for e in selected):
        # Measured right after change_status, on the same data, so the two compare.
        selected.insert(
            [e.name for e in selected].index("change_status") + 1,
            Endpoint(
                "change_status_subscribed",
                f"`POST /v2/bookings/{{id}}/change_status` ({args.webhook_endpoints} "
                "webhook endpoints subscribed)",
                "bookings",
                "change_status.lua",
                "/",
                extra=lambda context, tag: [context["booking_ids_file"]],
                before_run=lambda context, url: subscribe_endpoints(
                    url, context["businesses"]["bookings"], args.webhook_endpoints
                ),
            ),
        )
    run_dir = RESULTS / f"http-{started:%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    if args.reuse:
        datadir = args.datadir or REUSE_DATADIR
    else:
        datadir = Path(tempfile.mkdtemp(prefix="bench-http-pg-"))
    postgres = PostgreSQL(datadir, args.port)
    servers: list[Server] = []
    try:
        log(f"starting PostgreSQL in {datadir} on port {args.port}")
        admin_url = database_url(postgres.start(), "postgres")
        facts = machine_facts(admin_url, wrk)
        secret_key = random_secret_key()

        def django_env(url: str, allowed_hosts: str = "127.0.0.1") -> dict:
            return {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DJANGO_PRODUCTION": "1",
                "DJANGO_SECRET_KEY": secret_key,
                "DJANGO_ALLOWED_HOSTS": allowed_hosts,
                "DJANGO_SECURE_SSL_REDIRECT": "0",
                "DATABASE_URL": url,
            }

        def prepare(name: str, bookings: int, businesses: int) -> tuple[str, dict]:
            url = database_url(admin_url, name)
            ensure_dataset(admin_url, name, bookings, businesses, args.reuse, django_env(url))
            context = helper(
                django_env(url), "prepare", "--first", str(FIRST_BUSINESS_ID), "--out", str(workdir)
            )
            return url, context

        def start_servers(url: str, context: dict) -> dict[str, Server]:
            servers.clear()
            servers.append(
                Server(
                    "django",
                    gunicorn("config.wsgi", args.django_port, args.workers, ROOT),
                    django_env(url),
                    args.django_port,
                    run_dir / "django.log",
                )
            )
            servers.append(
                Server(
                    "floor",
                    gunicorn("floor_app:application", args.floor_port, args.workers, HERE),
                    {**os.environ, "FLOOR_DATABASE_URL": url},
                    args.floor_port,
                    run_dir / "floor.log",
                )
            )
            if args.metrics:
                servers.append(
                    Server(
                        METRICS_ON,
                        [*gunicorn("config.wsgi", args.django_port + 2, args.workers, ROOT)]
                        + ["--config", "config/gunicorn.py"],
                        {
                            **django_env(url),
                            "METRICS_ENABLED": "1",
                            # Emptied by config/gunicorn.py at each start.
                            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
                        },
                        args.django_port + 2,
                        run_dir / "django-metrics.log",
                    )
                )
                servers.append(
                    Server(
                        REQUEST_LOG_OFF,
                        gunicorn("config.wsgi", args.django_port + 3, args.workers, ROOT),
                        {**django_env(url), "DJANGO_LOG_LEVEL": "WARNING"},
                        args.django_port + 3,
                        run_dir / "django-no-request-log.log",
                    )
                )
            for server in servers:
                server.start(context["keys"]["bookings"])
            return {server.name: server for server in servers}

        def stop_servers() -> None:
            for server in servers:
                server.stop()

        big_name = f"bench_http_{args.bookings}_{args.businesses}"
        url, context = prepare(big_name, args.bookings, args.businesses)
        (workdir / "context.json").write_text(json.dumps(context))
        running = start_servers(url, context)

        log("checking that the floor answers with Django's JSON")
        mismatches = check_same_json(context, args.django_port, args.floor_port, url)
        for mismatch in mismatches:
            log(f"MISMATCH {mismatch}")
        if not mismatches:
            log("same JSON: every check passed")

        log("counting Django's queries per request")
        queries = helper(
            django_env(url, "127.0.0.1,testserver"),
            "queries",
            "--context",
            str(workdir / "context.json"),
        )
        queries = {name: queries[name] for name in queries if any(e.name == name for e in selected)}
        if "change_status_subscribed" in (e.name for e in selected):
            queries["change_status_subscribed"] = queries.get("change_status", {})

        load = Load(args, wrk, run_dir / "wrk.log", postgres)
        results = {}
        for endpoint in selected:
            log(f"measuring {endpoint.name}")
            results[endpoint.name] = load.compare(endpoint, running, context, url)
        stop_servers()

        small = {}
        scaled = [e for e in selected if e.scaling]
        if scaled and not args.skip_scaling:
            # As many bookings per business as in the big database.
            small_businesses = max(6, round(args.businesses * args.small_bookings / args.bookings))
            small_name = f"bench_http_{args.small_bookings}_{small_businesses}"
            small_url, small_context = prepare(small_name, args.small_bookings, small_businesses)
            running = start_servers(small_url, small_context)
            for endpoint in scaled:
                log(f"measuring {endpoint.name} at {args.small_bookings:,} bookings")
                small[endpoint.name] = load.compare(endpoint, running, small_context, small_url)
            stop_servers()

        markdown = report(
            args,
            facts,
            results,
            queries,
            small,
            mismatches,
            context,
            load_before,
            os.getloadavg(),
            started,
        )
        output = RESULTS / f"{run_dir.name}.md"
        output.write_text(markdown + "\n")
        print(markdown)
        log(f"written to {output.relative_to(ROOT)}; wrk output and logs in {run_dir.name}/")
        return 1 if mismatches else 0
    finally:
        for server in servers:
            server.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.reuse:
            shutil.rmtree(datadir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
