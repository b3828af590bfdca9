"""Issue 17's benchmark: the bulk status change, and change_status with If-Match.

    .venv/bin/python bench/bulk.py [--bookings 100000] [--businesses 20] [--runs 20]

Without DATABASE_URL it starts its own PostgreSQL with scripts/postgres.sh (a
temporary data directory, port --port, default 54369) and stops and removes it
whatever happens; with DATABASE_URL=postgres://.../NAME it uses that server and
(re)creates the database NAME_bulk there (dropped at the end). The database is
migrated and loaded with `generate_bookings` (--bookings over --businesses), then
everything runs in this process, with the settings gunicorn serves with
(DJANGO_PRODUCTION=1), against 127.0.0.1 only:

1. Bulk change of --size (500) bookings, --runs times. Each run draws --size random
   bookings of one business and a random stamped status, then times three sides on
   the same draw, in an order that rotates between runs:
   - `floor`: psycopg 3 by hand, in one transaction: lock the rows in id order
     (SELECT ... ORDER BY id FOR UPDATE), read the business's zone, one UPDATE, one
     history INSERT (unnest ... RETURNING id), one event INSERT of the same columns
     and the same `data` (the booking after, the entry; built with orjson);
   - `model`: `Booking.objects.change_statuses` (wall time around the call);
   - `http`: `POST /v2/bookings/change_status` through the WSGI app gunicorn serves
     (no socket: the request's parsing, authentication, rendering included).
   Prints median and p90 of each, and the ratios to the floor.
2. `POST /v2/bookings/{id}/change_status` with and without `If-Match: "<version>"`,
   through the same WSGI app: --rounds rounds of --requests requests per variant,
   alternating, random bookings of the business and a random status; the version
   sent is the one the previous response's ETag gave (both variants read it, so
   they differ only by the header). Prints CPU ms per request (process_time) and
   wall ms per request, best and median of the rounds.

Bounded: the load is the fixed counts above; at --bookings 100000 the whole run
takes a few minutes on two cores, most of it loading.
"""

import argparse
import datetime as dt
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zoneinfo
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg
from in_process import call, wsgi_environ
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
STAMPED = ("tentative", "definite", "lost")
# The booking as the API shows it (bookings/representation.py BOOKING_API_FIELDS).
BOOKING_COLUMNS = (
    "id",
    "name",
    "starts_at",
    "ends_at",
    "guest_count",
    "notes",
    "status",
    "tentative_date",
    "tentative_at",
    "definite_date",
    "definite_at",
    "lost_date",
    "lost_at",
    "created_at",
    "updated_at",
    "version",
)
TOKEN_NAME = "bench-bulk"


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def database_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


# --- The floor -----------------------------------------------------------------


def floor_sql(status: str) -> str:
    assignments = [
        "status = %(status)s",
        f"{status}_at = %(moment)s",
        f"{status}_date = %(day)s",
        "updated_at = %(now)s",
        "version = version + 1",
    ]
    if status != "lost":
        assignments += ["lost_at = NULL", "lost_date = NULL"]
    return (
        f"UPDATE bookings_booking SET {', '.join(assignments)} "
        "WHERE business_id = %(business)s AND id = ANY(%(ids)s)"
    )


SQL_LOCK = f"""
    SELECT {", ".join(BOOKING_COLUMNS)} FROM bookings_booking
    WHERE business_id = %s AND id = ANY(%s) ORDER BY id FOR UPDATE
"""
SQL_ZONE = "SELECT timezone FROM accounts_business WHERE id = %s"
SQL_HISTORY = """
    INSERT INTO bookings_bookingstatuschange
        (booking_id, business_id, from_status, to_status, status_at, recorded_at, changed_by,
         source)
    SELECT booking_id, %s, from_status, %s, %s, %s, %s, 'api'
    FROM unnest(%s::bigint[], %s::text[]) AS t(booking_id, from_status)
    ORDER BY booking_id
    RETURNING id
"""
SQL_EVENTS = """
    INSERT INTO events_event (business_id, type, data, created_at)
    SELECT %s, 'booking.status_changed', data, %s
    FROM unnest(%s::jsonb[]) WITH ORDINALITY AS t(data, n) ORDER BY n
"""


def floor_change(conn: psycopg.Connection, business: int, ids: list[int], status: str) -> None:
    """What change_statuses does, by hand: 1 lock, 1 zone read, 1 UPDATE, 2 INSERTs."""
    with conn.transaction(), conn.cursor() as cursor:
        rows = cursor.execute(SQL_LOCK, (business, ids)).fetchall()
        if len(rows) != len(ids):
            raise SystemExit("floor: some ids are not the business's")
        [zone_name] = cursor.execute(SQL_ZONE, (business,)).fetchone()
        now = dt.datetime.now(dt.UTC)
        moment, day = now, now.astimezone(zoneinfo.ZoneInfo(zone_name)).date()
        cursor.execute(
            floor_sql(status),
            {"status": status, "moment": moment, "day": day, "now": now}
            | {"business": business, "ids": ids},
        )
        bookings = [dict(zip(BOOKING_COLUMNS, row, strict=True)) for row in rows]
        previous = [booking["status"] for booking in bookings]
        cursor.execute(
            SQL_HISTORY,
            (business, status, moment, now, "bench", [b["id"] for b in bookings], previous),
        )
        change_ids = [row[0] for row in cursor.fetchall()]
        events = []
        for booking, from_status, change_id in zip(bookings, previous, change_ids, strict=True):
            booking |= {"status": status, f"{status}_at": moment, f"{status}_date": day}
            booking |= {"updated_at": now, "version": booking["version"] + 1}
            if status != "lost":
                booking |= {"lost_at": None, "lost_date": None}
            change = {
                "id": change_id,
                "from_status": from_status,
                "to_status": status,
                "status_at": moment,
                "recorded_at": now,
                "changed_by": "bench",
                "source": "api",
            }
            events.append(
                orjson.dumps(
                    {"booking": booking, "change": change}, option=orjson.OPT_UTC_Z
                ).decode()
            )
        cursor.execute(SQL_EVENTS, (business, now, events))


# --- Django, in this process ----------------------------------------------------


def setup_django(url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_PRODUCTION": "1",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": url,
        }
    )
    sys.path.insert(0, str(ROOT))
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at")
    django.setup()


class App:
    """The WSGI app gunicorn serves, called directly; keeps the last ETag."""

    def __init__(self, key: str) -> None:
        from config.wsgi import application

        self.application = application
        self.key = key
        self.etag = None

    def post(self, path: str, body: dict, headers: dict | None = None) -> bytes:
        environ = wsgi_environ(
            "POST", path, body=json.dumps(body).encode(), key=self.key, headers=headers
        )
        status, answer_headers, answer = call(self.application, environ)
        if not status.startswith("200"):
            raise SystemExit(f"HTTP {status}")
        self.etag = next((value for name, value in answer_headers if name == "ETag"), None)
        return answer


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def bench_bulk(url: str, business: int, app: App, options) -> dict[str, list[float]]:
    from django.db import connection

    from bookings.models import Booking

    booking_ids = list(Booking.objects.for_business(business).values_list("id", flat=True))
    if len(booking_ids) < options.size:
        raise SystemExit(f"business {business} has fewer than {options.size} bookings")
    rng = random.Random(options.seed)
    sides = ("floor", "model", "http")
    times: dict[str, list[float]] = {side: [] for side in sides}
    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as floor_conn:

        def run(side: str, ids: list[int], status: str) -> float:
            started = time.perf_counter()
            if side == "floor":
                floor_change(floor_conn, business, ids, status)
            elif side == "model":
                Booking.objects.change_statuses(business, ids, status, by="bench")
            else:
                app.post("/v2/bookings/change_status", {"ids": ids, "status": status})
            return time.perf_counter() - started

        for warmup in range(2):
            for side in sides:
                run(side, rng.sample(booking_ids, options.size), STAMPED[warmup])
        check_same_events(floor_conn, business, booking_ids[:1], run)
        for trial in range(options.runs):
            ids = rng.sample(booking_ids, options.size)
            status = rng.choice(STAMPED)
            order = sides[trial % 3 :] + sides[: trial % 3]
            for side in order:
                times[side].append(run(side, ids, status))
            log(
                f"bulk run {trial + 1}: "
                + ", ".join(f"{side} {times[side][-1] * 1000:.0f} ms" for side in sides)
            )
    connection.close()
    return times


def check_same_events(conn: psycopg.Connection, business: int, ids: list[int], run) -> None:
    """The floor's event has the same keys and kinds of value as Django's: changed to
    the same status, the two `data` differ only in moments, ids and versions."""
    volatile = {"updated_at", "lost_at", "definite_at", "tentative_at", "version"}
    volatile |= {"lost_date", "definite_date", "tentative_date", "id", "status_at"}
    volatile |= {"recorded_at", "from_status", "changed_by"}
    data = {}
    for side in ("floor", "model"):
        run(side, ids, "definite")
        [data[side]] = conn.execute(
            "SELECT data FROM events_event WHERE business_id = %s ORDER BY id DESC LIMIT 1",
            (business,),
        ).fetchone()
    for part in ("booking", "change"):
        floor, django = data["floor"][part], data["model"][part]
        if floor.keys() != django.keys() or any(
            floor[k] != django[k] for k in floor.keys() - volatile
        ):
            raise SystemExit(f"the floor's event differs from Django's:\n{floor}\n{django}")
        for key in volatile & floor.keys():
            if (floor[key] is None) != (django[key] is None) or (
                key.endswith("_at") and floor[key] and len(floor[key]) != len(django[key])
            ):
                raise SystemExit(f"{part}.{key}: floor {floor[key]!r}, Django {django[key]!r}")


def bench_if_match(business: int, app: App, options) -> dict[str, dict[str, list[float]]]:
    from django.db import connection

    from bookings.models import Booking

    versions = dict(Booking.objects.for_business(business).values_list("id", "version"))
    booking_ids = list(versions)
    connection.close()
    rng = random.Random(options.seed + 1)

    def send(count: int, with_if_match: bool) -> None:
        for _ in range(count):
            pk = rng.choice(booking_ids)
            headers = {"HTTP_IF_MATCH": f'"{versions[pk]}"'} if with_if_match else {}
            app.post(f"/v2/bookings/{pk}/change_status", {"status": rng.choice(STAMPED)}, headers)
            versions[pk] = int(app.etag.strip('"'))

    variants = {"without If-Match": False, "with If-Match": True}
    results = {name: {"cpu": [], "wall": []} for name in variants}
    for with_if_match in variants.values():
        send(200, with_if_match)
    for round_ in range(options.rounds):
        names = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
        for name in names:
            cpu, wall = time.process_time(), time.perf_counter()
            send(options.requests, variants[name])
            results[name]["cpu"].append((time.process_time() - cpu) * 1000 / options.requests)
            results[name]["wall"].append((time.perf_counter() - wall) * 1000 / options.requests)
        log(
            f"If-Match round {round_ + 1}: "
            + ", ".join(f"{n} {results[n]['cpu'][-1]:.3f} ms CPU" for n in variants)
        )
    return results


def report(bulk: dict[str, list[float]], if_match: dict, options) -> None:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    floor_median = statistics.median(bulk["floor"])
    floor_p90 = percentile(bulk["floor"], 0.9)
    print(
        f"\nBulk change of {options.size} bookings ({options.bookings:,} bookings over "
        f"{options.businesses} businesses, {options.runs} runs; load average {load}):\n"
    )
    print("| side | median | p90 | median / floor | p90 / floor |")
    print("|---|---:|---:|---:|---:|")
    for side, label in (
        ("floor", "SQL floor (psycopg)"),
        ("model", "`Booking.objects.change_statuses`"),
        ("http", "`POST /v2/bookings/change_status` (WSGI, in-process)"),
    ):
        median, p90 = statistics.median(bulk[side]), percentile(bulk[side], 0.9)
        print(
            f"| {label} | {median * 1000:.0f} ms | {p90 * 1000:.0f} ms "
            f"| {median / floor_median:.2f}× | {p90 / floor_p90:.2f}× |"
        )
    print(
        f"\nchange_status with and without If-Match ({options.rounds} rounds × "
        f"{options.requests} requests each, alternating):\n"
    )
    print("| variant | CPU ms/request (best / median) | wall ms/request (best / median) |")
    print("|---|---:|---:|")
    for name, figures in if_match.items():
        cpu, wall = figures["cpu"], figures["wall"]
        print(
            f"| {name} | {min(cpu):.3f} / {statistics.median(cpu):.3f} "
            f"| {min(wall):.3f} / {statistics.median(wall):.3f} |"
        )
    without, with_ = if_match["without If-Match"], if_match["with If-Match"]
    print(
        "\nwith / without: CPU "
        f"{min(with_['cpu']) / min(without['cpu']):.3f}× best, "
        f"{statistics.median(with_['cpu']) / statistics.median(without['cpu']):.3f}× median; "
        f"wall {min(with_['wall']) / min(without['wall']):.3f}× best, "
        f"{statistics.median(with_['wall']) / statistics.median(without['wall']):.3f}× median"
    )


def measure(server_url: str, options) -> None:
    name = f"{urlsplit(server_url).path.lstrip('/') or 'bench'}_bulk"
    url = database_url(server_url, name)
    with psycopg.connect(database_url(server_url, "postgres"), autocommit=True) as admin:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        admin.execute(drop)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"}
        log(f"migrating and loading {options.bookings:,} bookings into {name}")
        manage(env, "migrate", "-v0")
        output = manage(
            env,
            "generate_bookings",
            f"--count={options.bookings}",
            f"--businesses={options.businesses}",
            f"--seed={options.seed}",
            "--no-progress",
        )
        log(output.strip().replace("\n", "\n# "))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            business = conn.execute(
                "SELECT business_id FROM bookings_booking GROUP BY business_id "
                "ORDER BY count(*) DESC, business_id LIMIT 1"
            ).fetchone()[0]
        setup_django(url)
        from accounts.models import ApiToken, User

        user = User.objects.create(username="bench-bulk", business_id=business)
        _, key = ApiToken.objects.issue(user, name=TOKEN_NAME)
        app = App(key)
        bulk = bench_bulk(url, business, app, options)
        if_match = bench_if_match(business, app, options)
        report(bulk, if_match, options)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(database_url(server_url, "postgres"), autocommit=True) as admin:
            admin.execute(drop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=100_000)
    parser.add_argument("--businesses", type=int, default=20)
    parser.add_argument("--size", type=int, default=500, help="bookings per bulk change (500)")
    parser.add_argument("--runs", type=int, default=20, help="bulk changes per side (20)")
    parser.add_argument("--rounds", type=int, default=20, help="If-Match rounds per variant (20)")
    parser.add_argument("--requests", type=int, default=300, help="requests per round (300)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--port", type=int, default=54369, help="PostgreSQL port (54369)")
    options = parser.parse_args()

    if os.environ.get("DATABASE_URL"):
        measure(os.environ["DATABASE_URL"], options)
        return
    datadir = Path(tempfile.mkdtemp(prefix="bench-bulk-pg-"))
    postgres = str(ROOT / "scripts" / "postgres.sh")
    try:
        log(f"starting PostgreSQL in {datadir} on port {options.port}")
        result = subprocess.run(
            [postgres, "start", str(datadir), str(options.port)],
            check=True,
            capture_output=True,
            text=True,
        )
        measure(result.stdout.strip().splitlines()[-1], options)
    finally:
        subprocess.run([postgres, "stop", str(datadir)], capture_output=True)
        shutil.rmtree(datadir, ignore_errors=True)


if __name__ == "__main__":
    main()
