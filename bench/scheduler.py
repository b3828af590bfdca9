"""Issue 25's benchmark: the scheduler's hold expiry against one hand-written statement.

    .venv/bin/python bench/scheduler.py [--bookings 1000000] [--due 100000]

Starts its own PostgreSQL (scripts/postgres.sh, port 54395, stopped at the end) and
builds a template once: --bookings bookings of 1,000 businesses (generate_bookings), --due
tentative ones held until a moment past, as many held 2-30 days ahead. Each side runs
on a copy: `scheduler`, the expiry pass of run_schedules in a child process (batches of
500, locked, re-checked, through apply_status_change); `sql`, one statement making the
same writes (booking, history entry, event). Prints the seconds, the ratio (goal ≤ 2×),
the child's peak RSS at --due and at a tenth of it (flat memory), the time of two
schedulers started together (they share the due holds), and EXPLAIN (ANALYZE, BUFFERS)
of the due-hold and due-reminder lookups (their partial indexes).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
# Run in a child process on a copy: the expiry pass (its time and the process's peak
# RSS), or EXPLAIN of the runner's lookups.
CHILD = """
import json, resource, sys, time, django
django.setup()
from django.db import transaction; from django.utils import timezone
from scheduler.jobs import JOBS, HoldExpiry; from scheduler.runner import Scheduler
if sys.argv[1] == "explain":
    with transaction.atomic():
        for job in [job for job in JOBS if job.name.startswith("hold_")]:
            due = job.due(timezone.now()).select_for_update(skip_locked=True, of=("self",))
            print(f"-- {job.name}:", due[:500].explain(analyze=True, buffers=True), sep="\\n")
        transaction.set_rollback(True)
    sys.exit()
started = time.monotonic()
moved = Scheduler(jobs=(HoldExpiry(),)).run_pass(timezone.now())["hold_expiry"]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": time.monotonic() - started, "moved": moved, "peak_rss_mb": peak}))
"""
HOLDS = """
WITH held AS (
  SELECT id, row_number() OVER (ORDER BY id) AS n FROM bookings_booking
  WHERE status = 'tentative' ORDER BY id LIMIT %(due)s * 2)
UPDATE bookings_booking b SET hold_until = CASE WHEN held.n <= %(due)s
    THEN now() - (held.n || ' seconds')::interval
    ELSE now() + interval '2 days' + ((held.n %% 2419200) || ' seconds')::interval END
FROM held WHERE b.id = held.id
"""
# The floor: what the scheduler writes, as one statement (the event's payload built by
# PostgreSQL: the same content, in its own key order).
EXPIRE_IN_SQL = """
WITH reason AS (
  SELECT z.id AS business_id, COALESCE(own.id, shared.id) AS id,
    COALESCE(own.label, shared.label) AS label
  FROM accounts_business z CROSS JOIN bookings_lostreason shared
  LEFT JOIN bookings_lostreason own ON own.business_id = z.id AND own.code = 'hold_expired'
  WHERE shared.business_id IS NULL AND shared.code = 'hold_expired'),
moved AS (
  UPDATE bookings_booking b SET status = 'lost', lost_at = b.hold_until,
    lost_date = (b.hold_until AT TIME ZONE z.timezone)::date,
    lost_reason = json_build_object('id', r.id, 'code', 'hold_expired', 'label', r.label)::text,
    lost_note = NULL, hold_until = NULL, hold_reminded_at = NULL,
    updated_at = now(), version = b.version + 1
  FROM accounts_business z, reason r
  WHERE b.status = 'tentative' AND b.hold_until <= now()
    AND z.id = b.business_id AND r.business_id = b.business_id
  RETURNING b.*),
entries AS (
  INSERT INTO bookings_bookingstatuschange (booking_id, business_id, from_status, to_status,
    status_at, recorded_at, changed_by, source, lost_reason, lost_note)
  SELECT id, business_id, 'tentative', 'lost', lost_at, now(), NULL, 'system', lost_reason, NULL
  FROM moved RETURNING *)
INSERT INTO events_event (business_id, type, data, created_at)
SELECT m.business_id, 'booking.status_changed',
  json_build_object('booking', row_to_json(m), 'change', row_to_json(e))::text, now()
FROM moved m JOIN entries e ON e.booking_id = m.id
"""
# Fewer due holds, for the memory at a tenth: those past `limit` moved a year ahead.
POSTPONE = """UPDATE bookings_booking SET hold_until = hold_until + interval '1 year' WHERE id IN
(SELECT id FROM bookings_booking WHERE hold_until <= now() ORDER BY id OFFSET %s)"""


def log(message: str) -> None:
    print(f"[bench/scheduler] {message}", file=sys.stderr, flush=True)


def in_database(url: str, name: str) -> str:
    return f"{url.rsplit('/', 1)[0]}/{name}"


def run(env: dict, *args: str) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return done.stdout


def drop(conn: psycopg.Connection, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def copy(admin_url: str, template: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        drop(conn, name)
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        conn.execute(create.format(sql.Identifier(name), sql.Identifier(template)))
    return in_database(admin_url, name)


def build_template(admin_url: str, template: str, options, env: dict) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone()
        if found:  # reused, migrated to this code's schema
            env = {**env, "DATABASE_URL": in_database(admin_url, template)}
            migrated = run(env, sys.executable, "manage.py", "migrate", "--no-input", "-v", "0")
            return log(f"{template}: reused {migrated}".strip())
        drop(conn, template + "_building")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template + "_building")))
    url = in_database(admin_url, template + "_building")
    env = {**env, "DATABASE_URL": url}
    log(f"generating {options.bookings:,} bookings (a few minutes)")
    run(env, sys.executable, "manage.py", "migrate", "--no-input", "-v", "0")
    generate = f"generate_bookings --count {options.bookings} --businesses 1000 --seed 25"
    run(env, sys.executable, "manage.py", *generate.split(), "--no-progress")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(HOLDS, {"due": options.due})
        conn.execute("VACUUM ANALYZE bookings_booking")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(template + "_building"), sql.Identifier(template)
            )
        )


def scheduler_side(
    admin_url: str, template: str, env: dict, limit: int | None = None, processes: int = 1
) -> dict:
    """The expiry pass in `processes` schedulers started together (they share the due
    holds by SKIP LOCKED): the slowest one's seconds, the holds moved, the peak RSS."""
    url = copy(admin_url, template, "bench_scheduler_run")
    if limit is not None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(POSTPONE, (limit,))
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, "expire"],
            cwd=ROOT,
            env={**env, "DATABASE_URL": url},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    found = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
    return {
        "seconds": max(one["seconds"] for one in found),
        "moved": sum(one["moved"] for one in found),
        "peak_rss_mb": max(one["peak_rss_mb"] for one in found),
    }


def sql_side(admin_url: str, template: str) -> dict:
    url = copy(admin_url, template, "bench_scheduler_run")
    with psycopg.connect(url) as conn:
        started = time.monotonic()
        moved = conn.execute(EXPIRE_IN_SQL).rowcount
        conn.commit()
    return {"seconds": time.monotonic() - started, "moved": moved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--datadir", type=Path, default=Path("/var/tmp/bench-scheduler"))
    parser.add_argument("--port", type=int, default=54395)
    options = parser.parse_args()
    postgres = [str(ROOT / "scripts" / "postgres.sh")]
    admin_url = run(
        os.environ, *postgres, "start", str(options.datadir), str(options.port)
    ).split()[-1]
    template = f"bench_scheduler_{options.bookings}_{options.due}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "config.settings"}
    try:
        build_template(admin_url, template, options, env)
        explained = copy(admin_url, template, "bench_scheduler_explain")
        print(run({**env, "DATABASE_URL": explained}, sys.executable, "-c", CHILD, "explain"))
        log("the sql side, then the scheduler's at --due and at a tenth of it")
        floor = sql_side(admin_url, template)
        ours = scheduler_side(admin_url, template, env)
        tenth = scheduler_side(admin_url, template, env, limit=options.due // 10)
        two = scheduler_side(admin_url, template, env, processes=2)
        print(f"bookings {options.bookings:,}, due holds {options.due:,}")
        print(f"  sql        {floor['seconds']:8.2f} s   moved {floor['moved']:,}")
        print(
            f"  scheduler  {ours['seconds']:8.2f} s   moved {ours['moved']:,}   peak RSS "
            f"{ours['peak_rss_mb']:.0f} MB"
        )
        print(f"  ratio scheduler/sql {ours['seconds'] / floor['seconds']:.2f}x (goal <= 2x)")
        print(
            f"  two schedulers {two['seconds']:.2f} s   moved {two['moved']:,}   ratio "
            f"{two['seconds'] / floor['seconds']:.2f}x"
        )
        print(
            f"  peak RSS with {tenth['moved']:,} due: {tenth['peak_rss_mb']:.0f} MB (flat memory: "
            f"{ours['peak_rss_mb'] / tenth['peak_rss_mb']:.2f}x)"
        )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for name in ("bench_scheduler_run", "bench_scheduler_explain"):
                drop(conn, name)
        subprocess.run([*postgres, "stop", str(options.datadir)], capture_output=True)


if __name__ == "__main__":
    main()
