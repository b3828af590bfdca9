"""Issue 18's budget: the busy business's two pipeline reports under 300 ms at p99, with
1M bookings in the table: GET /v2/reports/pipeline and /time_in_status through the WSGI
app gunicorn serves (production settings), in-process, --runs times each after a warm-up,
on a PostgreSQL of its own. --explain adds EXPLAIN (ANALYZE, BUFFERS) of each statement.

    .venv/bin/python bench/reports.py [--bookings 1000000] [--busy-bookings 100000] [--explain]
"""

import argparse
import os
import statistics
import time

import common
import psycopg

BUSY_BUSINESS = 900_001
REPORTS = ("pipeline", "time_in_status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--businesses", type=int, default=1000)
    parser.add_argument("--busy-bookings", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--port", type=int, default=54363)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    with common.postgres(args.port) as (url, _):
        os.environ.update(common.PRODUCTION, DATABASE_URL=url)
        common.manage("migrate", "--no-input")
        load = ["generate_bookings", "--no-progress", "--count"]
        common.manage(*load, f"{args.bookings}", f"--businesses={args.businesses}", "--seed=18")
        common.manage(*load, f"{args.busy_bookings}", "--businesses=1", "--seed=19",
                      f"--first-business-id={BUSY_BUSINESS}")  # fmt: skip
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        application = common.django_app()
        from accounts.models import Business
        from accounts.services import issue_api_token
        from reports import queries

        _, key = issue_api_token(
            business_id=BUSY_BUSINESS, username="bench-reports", business_name=None
        )
        print(f"commit {common.commit()}, load average {common.load_average()} (start); ", end="")
        print(f"business {BUSY_BUSINESS}: {args.busy_bookings:,} bookings; {args.runs} runs\n")
        print("| report | p50 | p99 | budget |\n|---|---:|---:|---|")
        for report in REPORTS:
            times = []
            for _ in range(25 + args.runs):  # the first 25 warm the pool and the caches
                started = time.perf_counter()
                status, body = common.wsgi_call(application, "GET", f"/v2/reports/{report}", key)
                times.append((time.perf_counter() - started) * 1000)
                if not status.startswith("200"):
                    raise SystemExit(f"{report}: {status} {body[:300]!r}")
            p99 = common.percentile(times[25:], 0.99)
            verdict = "met" if p99 < 300 else "**missed**"
            print(f"| {report} | {statistics.median(times[25:]):.1f} ms | {p99:.1f} ms ", end="")
            print(f"| < 300 ms: {verdict} |", flush=True)
        print(f"\nload average {common.load_average()} (end)")
        business = Business.objects.get(pk=BUSY_BUSINESS)
        window = queries.ReportWindow.from_params({}, business.zone)
        with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as raw:
            for report in REPORTS if args.explain else ():
                statement = getattr(queries, f"{report}_statement")
                query, params = statement(business, window, "default")
                plan = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall()
                print(f"\n#### {report}\n\n" + "\n".join(row for (row,) in plan))


if __name__ == "__main__":
    main()
