"""The two pipeline reports through Django against their own statement run raw (issue 18).

    .venv/bin/python bench/reports.py [--bookings 1000000] [--busy-bookings 100000]
        [--runs 300] [--busy-runs 30] [--explain]

Starts its own PostgreSQL on 127.0.0.1 (scripts/postgres.sh, --port, a data directory
under /var/tmp, removed at the end), migrates it and loads --bookings bookings over
--businesses businesses plus one busy business (id 900001) of --busy-bookings, with
their history (manage.py generate_bookings). Then, in this process, for a business of
about a thousand bookings (100500) and for the busy one, each report over its default
range, --runs times (--busy-runs for the busy one), two sides in turn:

- `django`: GET /v2/reports/pipeline or /v2/reports/time_in_status through the WSGI app
  gunicorn serves, with production settings (bench/app_cpu.py's wsgi_call): the token,
  the business's zone, the statement, the JSON;
- `raw`: the same statement (reports.queries.*_statement) with psycopg on a connection
  of its own, rows fetched.

Prints p50 and p99 of each side and their ratio. Budgets: p99 ≤ 1.5× raw, and under
300 ms for the busy business. --explain adds EXPLAIN (ANALYZE, BUFFERS) of each statement.
"""

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from app_cpu import load_application, wsgi_call

ROOT = Path(__file__).resolve().parent.parent
SMALL_BUSINESS, BUSY_BUSINESS = 100_500, 900_001
REPORTS = ("pipeline", "time_in_status")


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def statement(report: str, business_id: int) -> tuple[str, list]:
    from accounts.models import Business
    from reports import queries

    business = Business.objects.get(pk=business_id)
    window = queries.ReportWindow.from_params({}, business.zone)
    build = {
        "pipeline": queries.pipeline_statement,
        "time_in_status": queries.time_in_status_statement,
    }
    return build[report](business, window, "default")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(application, raw: psycopg.Connection, report: str, business_id: int, runs: int) -> dict:
    from accounts.services import issue_api_token

    _, key = issue_api_token(
        business_id=business_id, username=f"bench-reports-{business_id}", business_name=None
    )
    query, params = statement(report, business_id)

    def django() -> None:
        status, body = wsgi_call(application, "GET", f"/v2/reports/{report}", key)
        if not status.startswith("200"):
            raise SystemExit(f"{report}: {status} {body[:300]!r}")

    sides = {"django": django, "raw": lambda: raw.execute(query, params).fetchall()}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for side in sides.values():  # warm-up: connections, caches, prepared statements
        for _ in range(25):
            side()
    for run in range(runs):
        for name in list(sides) if run % 2 == 0 else list(sides)[::-1]:
            started = time.perf_counter()
            sides[name]()
            times[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {"p50": statistics.median(values), "p99": percentile(values, 0.99)}
        for name, values in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--businesses", type=int, default=1000)
    parser.add_argument("--busy-bookings", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=300, help="requests per side (300)")
    parser.add_argument("--busy-runs", type=int, default=30, help="for the busy business (30)")
    parser.add_argument("--port", type=int, default=54363, help="PostgreSQL's port (54363)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE")
    args = parser.parse_args()
    datadir = tempfile.mkdtemp(prefix="bench-reports-pg-", dir="/var/tmp")
    postgres = [str(ROOT / "scripts" / "postgres.sh")]
    try:
        out = subprocess.run(
            [*postgres, "start", datadir, str(args.port)],
            capture_output=True,
            text=True,
            check=True,
        )
        url = out.stdout.strip().splitlines()[-1]
        os.environ.update(
            DATABASE_URL=url,
            DJANGO_PRODUCTION="1",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_SECURE_SSL_REDIRECT="0",
        )
        manage("migrate", "--no-input", "-v", "0")
        load = ["generate_bookings", "--no-progress", "--seed", "18"]
        manage(*load, "--count", str(args.bookings), "--businesses", str(args.businesses))
        manage(*load[:-1], "19", "--count", str(args.busy_bookings), "--businesses", "1",
               "--first-business-id", str(BUSY_BUSINESS))  # fmt: skip
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        application = load_application()
        commit = subprocess.run(
            ["git", "log", "-1", "--format=%h"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        print(f"commit {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, ", end="")
        print(f"load average {os.getloadavg()[0]:.2f} (start)\n")
        print(
            "| business | bookings | report | django p50 | django p99 | raw p50 | raw p99 "
            "| p99 ratio |"
        )
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as raw:
            for business_id, runs in ((SMALL_BUSINESS, args.runs), (BUSY_BUSINESS, args.busy_runs)):
                count = raw.execute(
                    "SELECT count(*) FROM bookings_booking WHERE business_id = %s", (business_id,)
                ).fetchone()[0]
                for report in REPORTS:
                    found = measure(application, raw, report, business_id, runs)
                    django, floor = found["django"], found["raw"]
                    print(
                        f"| {business_id} | {count:,} | {report} | {django['p50']:.1f} ms "
                        f"| {django['p99']:.1f} ms | {floor['p50']:.1f} ms | {floor['p99']:.1f} ms "
                        f"| {django['p99'] / floor['p99']:.2f}× |",
                        flush=True,
                    )
            print(f"\nload average {os.getloadavg()[0]:.2f} (end)")
            for business_id in (SMALL_BUSINESS, BUSY_BUSINESS) if args.explain else ():
                for report in REPORTS:
                    query, params = statement(report, business_id)
                    plan = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall()
                    print(f"\n#### {report}, business {business_id}\n")
                    print("\n".join(row for (row,) in plan))
    finally:
        if "django.db" in sys.modules:  # Django's pool, before its server stops
            sys.modules["django.db"].connections.close_all()
        subprocess.run([*postgres, "stop", datadir], capture_output=True)
        shutil.rmtree(datadir, ignore_errors=True)


if __name__ == "__main__":
    main()
