"""Issue 24: the appointment list, its `date=` filter and the conflict check (a POST onto
a taken slot, 409) through the WSGI app in-process, flat from 10,000 to 1,000,000
appointments (p99, the median of three rounds', within 1.3× of the smallest size's), and
EXPLAIN (ANALYZE, BUFFERS) at the largest. The database is the script's own.

    DATABASE_URL=postgres://postgres@127.0.0.1:PORT/bench_appointments \\
        .venv/bin/python bench/appointments.py [--sizes 10000,100000,1000000] [--runs 300]
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time

import common

application = common.django_app(**common.PRODUCTION, DJANGO_LOG_LEVEL="ERROR")  # 409s: no news

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import ApiToken, Business, User  # noqa: E402
from appointments.actions import create_resource  # noqa: E402
from appointments.models import Appointment, Resource  # noqa: E402
from statuses.models import Status  # noqa: E402
from statuses.services import fork_shared_statuses  # noqa: E402

BUSINESS = 900_024
RESOURCES = 25
PER_RESOURCE_A_DAY = 8
FIRST_DAY = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
MEASURED_DAY = FIRST_DAY + dt.timedelta(days=10)
ROUNDS = 3
log = common.logger("appointments")
# Data, not the domain (the measured requests go through the app): one statement a size.
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


def requests() -> dict[str, tuple]:
    chair = Resource.objects.filter(business_id=BUSINESS).order_by("pk").first()
    taken = MEASURED_DAY + dt.timedelta(hours=10, minutes=15)
    body = {
        "resource_id": chair.pk,
        "starts_at": taken.isoformat(),
        "ends_at": (taken + dt.timedelta(minutes=30)).isoformat(),
        "client_name": "Late comer",
    }
    return {
        "list": ("GET", "/v2/appointments", None, "200"),
        "date": ("GET", f"/v2/appointments?date={MEASURED_DAY:%Y-%m-%d}", None, "200"),
        "conflict": ("POST", "/v2/appointments", body, "409"),
    }


def measure(key: str, runs: int) -> dict[str, list[float]]:
    timings = {name: [] for name in requests()}
    for _ in range(runs):
        for name, (method, path, body, expected) in requests().items():
            started = time.perf_counter()
            status, content = common.wsgi_call(application, method, path, key, body)
            timings[name].append((time.perf_counter() - started) * 1000)
            assert status.startswith(expected), (name, status, content[:300])
    return timings


def explain(key: str) -> None:
    for name, (method, path, body, _expected) in requests().items():
        with CaptureQueriesContext(connection) as captured:
            common.wsgi_call(application, method, path, key, body)
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
