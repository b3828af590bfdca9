"""Issue 24's benchmark: the appointment list, its `date=` filter and the conflict check,
flat from 10,000 to 1,000,000 appointments (p99 within 1.3x), with their EXPLAIN.

    DATABASE_URL=postgres://postgres@127.0.0.1:PORT/bench_appointments \\
        .venv/bin/python bench/appointments.py [--sizes 10000,100000,1000000] [--runs 300]

The database must be PostgreSQL and is the script's own: it is migrated, one business
(id 900024) gets 25 resources, and its appointments grow to each size in turn: a day
holds 8 a resource (09:00 to 17:00, 45 minutes each, every seventh cancelled), days
added after the last, so a day's appointments stay as many while the table grows.
Loading is one INSERT ... SELECT over generate_series per size (data, not the domain:
the measured requests go through the app).

At each size, --runs times each, through the WSGI app gunicorn serves (DJANGO_PRODUCTION
=1), called in this process:
  - list: GET /v2/appointments (the first page of 50);
  - date: GET /v2/appointments?date=<day 10> (a business-local day of 200);
  - conflict: POST /v2/appointments onto a taken slot: the check, answered 409 (nothing
    is written).
Prints p50 and p99 (ms) per size (the p99 the median of three rounds' p99s, each a third
of the runs, so that a burst of other work on the machine spoils one round, not the
figure) and each p99 against the smallest size's; then
EXPLAIN (ANALYZE, BUFFERS) of each request's statements at the largest size. The
machine's load average is printed with the figures: note it beside them.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_PRODUCTION", "1")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-" + "x" * 40)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
os.environ.setdefault("DJANGO_LOG_LEVEL", "ERROR")  # the 409s measured are not news
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")  # plain HTTP in this process

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from in_process import call, wsgi_environ  # noqa: E402

from accounts.models import ApiToken, Business, User  # noqa: E402
from appointments.actions import create_resource  # noqa: E402
from appointments.models import Appointment, Resource  # noqa: E402
from config.wsgi import application  # noqa: E402
from statuses.models import Status  # noqa: E402
from statuses.services import fork_shared_statuses  # noqa: E402

BUSINESS = 900_024
RESOURCES = 25
PER_RESOURCE_A_DAY = 8
FIRST_DAY = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
MEASURED_DAY = FIRST_DAY + dt.timedelta(days=10)
ROUNDS = 3
LOAD_SQL = """
INSERT INTO appointments_appointment (business_id, resource_id, starts_at, ends_at,
    client_name, client_email, notes, status, sub_status, status_id, status_at,
    created_at, updated_at, version)
SELECT %(business)s, r.id, t.starts_at, t.starts_at + interval '45 minutes', 'Client', '', '',
       CASE WHEN (d + h) %% 7 = 0 THEN 'CANCELLED' ELSE 'OPEN' END,
       CASE WHEN (d + h) %% 7 = 0 THEN 'CANCELLED' ELSE 'OPEN' END,
       CASE WHEN (d + h) %% 7 = 0 THEN %(cancelled)s ELSE %(open)s END,
       now(), now(), now(), 1
FROM generate_series(%(first)s::int, %(last)s::int) AS d, generate_series(9, 16) AS h,
     LATERAL (SELECT %(day0)s::timestamptz + d * interval '1 day' + h * interval '1 hour'
              AS starts_at) AS t,
     (SELECT id FROM appointments_resource WHERE business_id = %(business)s) AS r
"""


def log(message: str) -> None:
    print(f"[bench/appointments] {message}", file=sys.stderr, flush=True)


def prepare() -> str:
    """Migrate, and make the business, its resources, its list and a token (once)."""
    call_command("migrate", verbosity=0)
    business, created = Business.objects.get_or_create(id=BUSINESS, defaults={"name": "Bench"})
    if created:
        fork_shared_statuses(business)
        for n in range(RESOURCES):
            create_resource(business.pk, name=f"Chair {n + 1:02d}")
    user, _ = User.objects.get_or_create(username="bench-appointments", business=business)
    return ApiToken.objects.issue(user)[1]


def grow_to(size: int) -> None:
    stored = Appointment.objects.filter(business_id=BUSINESS).count()
    if stored >= size:
        return
    per_day = RESOURCES * PER_RESOURCE_A_DAY
    first, last = stored // per_day, size // per_day - 1
    own = Status.objects.for_business(BUSINESS)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            LOAD_SQL,
            {
                "business": BUSINESS,
                "first": first,
                "last": last,
                "day0": FIRST_DAY,
                "open": own.get(status="OPEN", sub_status="OPEN").pk,
                "cancelled": own.get(status="CANCELLED", sub_status="CANCELLED").pk,
            },
        )
    # Outside a transaction; the load's own background work (hint bits, autovacuum, the
    # checkpoint) done before the measuring starts rather than in the middle of it.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) appointments_appointment")
        cursor.execute("CHECKPOINT")
    log(f"{size:,} appointments ({time.perf_counter() - started:.0f} s to load)")


def requests(key: str) -> dict[str, dict]:
    chair = Resource.objects.filter(business_id=BUSINESS).order_by("pk").first()
    taken = MEASURED_DAY + dt.timedelta(hours=10, minutes=15)
    body = json.dumps(
        {
            "resource_id": chair.pk,
            "starts_at": taken.isoformat(),
            "ends_at": (taken + dt.timedelta(minutes=30)).isoformat(),
            "client_name": "Late comer",
        }
    ).encode()
    return {
        "list": ("GET", "/v2/appointments", b"", "200"),
        "date": ("GET", f"/v2/appointments?date={MEASURED_DAY:%Y-%m-%d}", b"", "200"),
        "conflict": ("POST", "/v2/appointments", body, "409"),
    }


def measure(key: str, runs: int) -> dict[str, list[float]]:
    timings = {name: [] for name in requests(key)}
    for _ in range(runs):
        for name, (method, path, body, expected) in requests(key).items():
            environ = wsgi_environ(method, path, body=body, key=key)
            started = time.perf_counter()
            status, _headers, _body = call(application, environ)
            timings[name].append((time.perf_counter() - started) * 1000)
            assert status.startswith(expected), (name, status, _body[:300])
    return timings


def explain(key: str) -> None:
    for name, (method, path, body, _expected) in requests(key).items():
        with CaptureQueriesContext(connection) as captured:
            call(application, wsgi_environ(method, path, body=body, key=key))
        for query in captured.captured_queries:
            sql = query["sql"]
            if "appointments_appointment" not in sql or not sql.lstrip().startswith("SELECT"):
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"\n--- {name}: {sql[:160]}...\n{plan}")


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("DATABASE_URL must name a PostgreSQL database of this benchmark's own.")
    key = prepare()
    results, loads = {}, []
    for size in sorted(int(size) for size in args.sizes.split(",")):
        grow_to(size)
        measure(key, 20)  # warm: the pool, prepared statements, caches
        # In ROUNDS rounds, each's p99 on its own: a burst of the machine's other work
        # spoils one round, and the median round is the figure.
        rounds = [measure(key, args.runs // ROUNDS) for _ in range(ROUNDS)]
        results[size] = {
            name: (
                statistics.median(v for r in rounds for v in r[name]),
                statistics.median(p99(r[name]) for r in rounds),
            )
            for name in rounds[0]
        }
        loads.append(os.getloadavg()[0])
    print(
        f"load average {', '.join(f'{load:.2f}' for load in loads)} (by size) on "
        f"{os.cpu_count()} CPUs; {args.runs} runs each, p99 the median of {ROUNDS} rounds'"
    )
    print(f"{'size':>10} {'request':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99 / smallest':>15}")
    smallest = min(results)
    for size, figures in results.items():
        for name, (p50, p99_ms) in figures.items():
            ratio = p99_ms / results[smallest][name][1]
            print(f"{size:>10,} {name:>9} {p50:8.2f} {p99_ms:8.2f} {ratio:15.2f}")
    explain(key)


if __name__ == "__main__":
    main()
