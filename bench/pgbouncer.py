"""What PgBouncer (transaction mode) costs a request, and what /readyz costs.

    .venv/bin/python bench/pgbouncer.py [--requests 1000] [--rounds 5] [--port 54379]

Starts its own PostgreSQL (scripts/postgres.sh: a temporary data directory, --port) and
PgBouncer in transaction mode in front of it (scripts/pgbouncer.sh, port --port + 1),
and stops and removes both whatever happens. Migrates (directly), creates one business,
token and booking, then runs --rounds rounds; each round runs one child process per
side, in an order that is reversed every other round:

- `direct`: DATABASE_URL is PostgreSQL itself, the default settings;
- `direct, unprepared`: the same with PgBouncer's settings (DB_PREPARE_THRESHOLD empty,
  DISABLE_SERVER_SIDE_CURSORS=1), to tell the hop's cost from theirs;
- `pgbouncer`: DATABASE_URL is PgBouncer, with those settings, Django's pool kept.

Each child times --requests requests per endpoint through the WSGI app
(django.test.Client: no socket between client and app, the real one between app and
database): GET /v2/bookings/{id}, POST /v2/bookings/{id}/change_status, GET /healthz,
GET /readyz, and GET /readyz with the migration plan built on every call (its
"no migration pending" memory reset before each). Prints wall and CPU ms per request,
medians of the rounds, their ratios to `direct`, and /readyz planned every call
against cached.
Bounded: a few thousand requests per child; a minute or two on two cores.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = ("detail", "change_status", "healthz", "readyz", "readyz uncached")
STATUSES = ("tentative", "definite", "lost", "lead")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def child(requests: int) -> None:
    """One side's measurement, in a process of its own: prints a JSON line."""
    sys.path.insert(0, str(ROOT))
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.test import Client

    from core.health import Migrations

    booking_id, key = os.environ["BENCH_BOOKING"], os.environ["BENCH_TOKEN"]
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    detail = f"/v2/bookings/{booking_id}"

    def call(endpoint: str, number: int):
        if endpoint == "detail":
            return client.get(detail)
        if endpoint == "change_status":
            body = {"status": STATUSES[number % len(STATUSES)]}
            return client.post(f"{detail}/change_status", body, content_type="application/json")
        if endpoint == "readyz uncached":
            Migrations.all_applied = False
            return client.get("/readyz")
        return client.get(f"/{endpoint}")

    figures = {}
    for endpoint in ENDPOINTS:
        for number in range(20):  # warm-up: the pool, the caches
            assert call(endpoint, number).status_code == 200
        wall, cpu = time.perf_counter(), time.process_time()
        for number in range(requests):
            response = call(endpoint, number)
            if response.status_code != 200:
                raise SystemExit(f"{endpoint}: {response.status_code} {response.content[:200]}")
        figures[endpoint] = {
            "wall": (time.perf_counter() - wall) * 1000 / requests,
            "cpu": (time.process_time() - cpu) * 1000 / requests,
        }
    print(json.dumps(figures))


def run(*command, **kwargs) -> str:
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, **kwargs
    )
    if result.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=54379)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.requests)
        return

    work = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-"))
    os.chmod(work, 0o755)
    data, bouncer = work / "data", work / "pgbouncer"
    try:
        direct_url = run(ROOT / "scripts/postgres.sh", "start", data, arguments.port)
        bouncer_url = run(
            ROOT / "scripts/pgbouncer.sh", "start", bouncer, arguments.port + 1, arguments.port
        )
        log(f"PostgreSQL {direct_url}, PgBouncer {bouncer_url}")
        base = {**os.environ, "DATABASE_URL": direct_url}
        base.pop("DATABASE_DIRECT_URL", None)
        run(sys.executable, "manage.py", "migrate", "-v", "0", cwd=ROOT, env=base)
        seeded = run(
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from accounts.models import ApiToken, Business, User\n"
            "from bookings.models import Booking\n"
            "business = Business.objects.create(id=1, name='Bench')\n"
            "user = User.objects.create_user(username='bench', business=business)\n"
            "print(Booking.objects.create(business=business, name='Bench').pk,"
            " ApiToken.objects.issue(user)[1])",
            cwd=ROOT,
            env=base,
        )
        booking_id, key = seeded.splitlines()[-1].split()
        sides = {
            "direct": base,
            # PgBouncer's settings without PgBouncer: what its hop costs apart from them.
            "direct, unprepared": {
                **base,
                "DB_PREPARE_THRESHOLD": "",
                "DISABLE_SERVER_SIDE_CURSORS": "1",
            },
            "pgbouncer": {
                **base,
                "DATABASE_URL": bouncer_url,
                "DATABASE_DIRECT_URL": direct_url,
                "DB_PREPARE_THRESHOLD": "",
                "DISABLE_SERVER_SIDE_CURSORS": "1",
            },
        }
        results = {side: [] for side in sides}
        for round_number in range(arguments.rounds):
            order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
            for side in order:
                environment = {**sides[side], "BENCH_BOOKING": booking_id, "BENCH_TOKEN": key}
                output = run(
                    sys.executable,
                    __file__,
                    "--child",
                    "--requests",
                    arguments.requests,
                    cwd=ROOT,
                    env=environment,
                    timeout=600,
                )
                results[side].append(json.loads(output.splitlines()[-1]))
            log(f"round {round_number + 1}/{arguments.rounds} done")
        report(results, arguments)
    finally:
        subprocess.run([ROOT / "scripts/pgbouncer.sh", "stop", bouncer], capture_output=True)
        subprocess.run([ROOT / "scripts/postgres.sh", "stop", data], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def report(results: dict, arguments) -> None:
    def median(side: str, endpoint: str, measure: str) -> float:
        return statistics.median(run[endpoint][measure] for run in results[side])

    print(
        f"{arguments.rounds} rounds x {arguments.requests} requests per endpoint and side, "
        f"medians; load average {os.getloadavg()[0]:.2f}"
    )
    for measure in ("wall", "cpu"):
        print(f"\n{measure} ms per request (ratio to direct)")
        print("| endpoint | " + " | ".join(results) + " |")
        print("|---|" + "---:|" * len(results))
        for endpoint in ENDPOINTS:
            direct = median("direct", endpoint, measure)
            cells = [
                f"{median(side, endpoint, measure):.3f} "
                f"({median(side, endpoint, measure) / direct:.2f}x)"
                for side in results
            ]
            print(f"| {endpoint} | " + " | ".join(cells) + " |")
    print()
    for side in results:
        cached, uncached = (median(side, e, "wall") for e in ("readyz", "readyz uncached"))
        print(f"/readyz planned every call / cached ({side}): {uncached / cached:.1f}x")


if __name__ == "__main__":
    main()
