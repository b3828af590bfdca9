"""Issue 18's benchmark: the two pipeline reports at the HTTP benchmark's 1M bookings.

    flock /var/tmp/bench-http.lock .venv/bin/python bench/reports.py [--runs 300] [--busy-runs 30]

The HTTP benchmark's PostgreSQL data directory (/var/tmp/booking-status-bench-http,
port 54349) is shared: run this under `flock /var/tmp/bench-http.lock` as above. It
starts that server (scripts/postgres.sh), and stops it whatever happens.

1. The dataset: the HTTP benchmark's database of 1,000,000 bookings over 1,000
   businesses (`bench/http/run.py --reuse` loads it once) is left as it is; this
   script works on a copy, `bench_reports` (CREATE DATABASE ... TEMPLATE), migrated
   (so it has the reports' indexes), to which it adds one busy business (id 900001,
   --busy-bookings 100,000 bookings with their history, generate_bookings --seed 18).
   A copy already made with the same parameters is reused.
2. For a business of about 1,000 bookings (100500) and the busy one: each report
   over the default range (the last 12 whole months and the current one),
   --runs (--busy-runs for the busy one) times, alternating two sides:
   - `django`: GET /v2/reports/pipeline or /v2/reports/time_in_status through the
     WSGI app gunicorn serves (DJANGO_PRODUCTION=1), called in this process: token
     lookup, the business's zone, the report's statement, JSON rendering;
   - `raw`: the same statement (reports.queries.*_statement) with psycopg 3 on its
     own connection, rows fetched.
   Prints p50 and p99 of each side (ms) and the ratio django/raw of each; the goals
   are p99 ≤ 1.5× raw and, for the busy business, under 300 ms.
3. With --explain, EXPLAIN (ANALYZE, BUFFERS) of each statement for both businesses.

Bounded: the fixed counts above; generating the busy business takes a minute or two
the first time, copying the database about as long.
"""

import argparse
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from in_process import call, wsgi_environ
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
DATADIR = Path("/var/tmp/booking-status-bench-http")
SOURCE = "bench_http_1000000_1000"
SOURCE_MARKER = "bench/http dataset: 1000000 bookings, 1000 businesses, seed 6, complete"
TARGET = "bench_reports"
SMALL_BUSINESS = 100_500  # 100001 takes the HTTP benchmark's writes
BUSY_BUSINESS = 900_001
BUSY_SEED = 18
REPORTS = ("pipeline", "time_in_status")


def log(message: str) -> None:
    print(f"[bench/reports] {message}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="requests per side (300)")
    parser.add_argument("--busy-runs", type=int, default=30, help="for the busy business (30)")
    parser.add_argument("--busy-bookings", type=int, default=100_000)
    parser.add_argument("--datadir", type=Path, default=DATADIR, help=f"default {DATADIR}")
    parser.add_argument("--port", type=int, default=54349)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE")
    return parser.parse_args()


def with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def database_comment(admin_url: str, name: str) -> str | None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return row[0] if row else None


def ensure_copy(admin_url: str, busy_bookings: int, env: dict) -> None:
    """bench_reports: the 1M dataset plus the busy business, made once."""
    marker = f"bench/reports: {SOURCE} + business {BUSY_BUSINESS} with {busy_bookings} bookings"
    if database_comment(admin_url, SOURCE) != SOURCE_MARKER:
        raise SystemExit(f"{SOURCE} is not loaded: run bench/http/run.py --reuse first")
    if database_comment(admin_url, TARGET) == marker:
        log(f"{TARGET}: reusing the copy")
        manage(env, "migrate", "--no-input", "-v", "0")
        return
    log(f"{TARGET}: copying {SOURCE}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TARGET))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(TARGET), sql.Identifier(SOURCE)
            )
        )
    manage(env, "migrate", "--no-input", "-v", "0")
    log(f"{TARGET}: adding business {BUSY_BUSINESS} with {busy_bookings:,} bookings")
    manage(
        env,
        "generate_bookings",
        "--count",
        str(busy_bookings),
        "--businesses",
        "1",
        "--first-business-id",
        str(BUSY_BUSINESS),
        "--seed",
        str(BUSY_SEED),
        "--no-progress",
    )
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(TARGET), sql.Literal(marker)
            )
        )


def setup_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at")
    django.setup()


def issue_token(business_id: int) -> str:
    from accounts.models import ApiToken, User

    user, _ = User.objects.get_or_create(
        username=f"bench-reports-{business_id}", defaults={"business_id": business_id}
    )
    return ApiToken.objects.issue(user)[1]


class App:
    """The WSGI app gunicorn serves, called directly."""

    def __init__(self) -> None:
        from config.wsgi import application

        self.application = application

    def get(self, path: str, key: str) -> bytes:
        status, _headers, body = call(self.application, wsgi_environ("GET", path, key=key))
        if not status.startswith("200"):
            raise SystemExit(f"{path}: HTTP {status}: {body[:300]!r}")
        return body


def statement(report: str, business_id: int) -> tuple[str, list]:
    from accounts.models import Business
    from reports import queries

    business = Business.objects.get(pk=business_id)
    window = queries.ReportWindow.from_params({}, business.zone)
    build = {
        "pipeline": queries.pipeline_statement,
        "time_in_status": queries.time_in_status_statement,
    }[report]
    return build(business, window, "default")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(app: App, raw: psycopg.Connection, report: str, business_id: int, runs: int) -> dict:
    key = issue_token(business_id)
    query, params = statement(report, business_id)
    path = f"/v2/reports/{report}"
    times = {"django": [], "raw": []}

    def django_side() -> None:
        app.get(path, key)

    def raw_side() -> None:
        raw.execute(query, params).fetchall()

    sides = {"django": django_side, "raw": raw_side}
    for side in sides.values():  # warm-up: connections, caches, prepared statements
        for _ in range(25):
            side()
    for run in range(runs):
        for name in ("django", "raw") if run % 2 == 0 else ("raw", "django"):
            started = time.perf_counter()
            sides[name]()
            times[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {"p50": statistics.median(values), "p99": percentile(values, 0.99)}
        for name, values in times.items()
    }


def sizes(raw: psycopg.Connection, business_id: int) -> tuple[int, int]:
    bookings = raw.execute(
        "SELECT count(*) FROM bookings_booking WHERE business_id = %s", (business_id,)
    ).fetchone()[0]
    history = raw.execute(
        "SELECT count(*) FROM bookings_bookingstatuschange h JOIN bookings_booking b"
        " ON b.id = h.booking_id WHERE b.business_id = %s",
        (business_id,),
    ).fetchone()[0]
    return bookings, history


def main() -> int:
    args = parse_args()
    started = subprocess.run(
        ["scripts/postgres.sh", "start", str(args.datadir), str(args.port)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    admin_url = with_database(started.stdout.strip(), "postgres")
    url = with_database(admin_url, TARGET)
    try:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_PRODUCTION": "1",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": url,
        }
        ensure_copy(admin_url, args.busy_bookings, env)
        setup_django(env)
        app = App()
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        print(f"commit {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, ", end="")
        print(f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f} (start)")
        print()
        print(
            "| business | bookings | history | report | django p50 | django p99 | raw p50 "
            "| raw p99 | p99 ratio |"
        )
        print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
        with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as raw:
            for business_id, runs in ((SMALL_BUSINESS, args.runs), (BUSY_BUSINESS, args.busy_runs)):
                bookings, history = sizes(raw, business_id)
                for report in REPORTS:
                    figures = measure(app, raw, report, business_id, runs)
                    django, floor = figures["django"], figures["raw"]
                    print(
                        f"| {business_id} | {bookings:,} | {history:,} | {report} "
                        f"| {django['p50']:.1f} | {django['p99']:.1f} "
                        f"| {floor['p50']:.1f} | {floor['p99']:.1f} "
                        f"| {django['p99'] / floor['p99']:.2f}× |",
                        flush=True,
                    )
            print(f"\nload average {os.getloadavg()[0]:.2f} (end)")
            if args.explain:
                for business_id in (SMALL_BUSINESS, BUSY_BUSINESS):
                    for report in REPORTS:
                        query, params = statement(report, business_id)
                        plan = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall()
                        print(f"\n#### {report}, business {business_id}\n")
                        print("\n".join(line for (line,) in plan))
    finally:
        if "django.db" in sys.modules:  # Django's pool, before its server stops
            sys.modules["django.db"].connections.close_all()
        subprocess.run(["scripts/postgres.sh", "stop", str(args.datadir)], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
