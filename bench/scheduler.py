"""Issue 25: the scheduler's hold expiry against one statement making the same writes
(goal ≤ 2×) at --due holds among --bookings, its peak RSS at --due and at a tenth of it
(flat), two schedulers together, and EXPLAIN of the due lookups. The template is built
once in a PostgreSQL of its own (--datadir, kept); each side runs on a copy.

    .venv/bin/python bench/scheduler.py [--bookings 1000000] [--due 100000]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import common
import psycopg
from psycopg import sql

ROOT = common.ROOT
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


log = common.logger("scheduler")


def drop(conn: psycopg.Connection, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def copy(admin_url: str, template: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        drop(conn, name)
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        conn.execute(create.format(sql.Identifier(name), sql.Identifier(template)))
    return common.in_database(admin_url, name)


def build_template(admin_url: str, template: str, options, env: dict) -> None:
    building = template + "_building"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone()
        if found:  # reused, migrated to this code's schema
            env = {**env, "DATABASE_URL": common.in_database(admin_url, template)}
            common.manage("migrate", "--no-input", env=env)
            return log(f"{template}: reused")
        drop(conn, building)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
    url = common.in_database(admin_url, building)
    env = {**env, "DATABASE_URL": url}
    log(f"generating {options.bookings:,} bookings (a few minutes)")
    common.manage("migrate", "--no-input", env=env)
    generate = f"generate_bookings --count {options.bookings} --businesses 1000 --seed 25"
    common.manage(*generate.split(), "--no-progress", env=env)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(HOLDS, {"due": options.due})
        conn.execute("VACUUM ANALYZE bookings_booking")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rename = sql.SQL("ALTER DATABASE {} RENAME TO {}")
        conn.execute(rename.format(sql.Identifier(building), sql.Identifier(template)))


def scheduler_side(
    admin_url: str, template: str, env: dict, limit: int | None = None, processes: int = 1
) -> dict:
    """The expiry pass in `processes` schedulers started together (they share the due
    holds by SKIP LOCKED): the slowest one's seconds, the holds moved, the peak RSS."""
    url = copy(admin_url, template, "bench_scheduler_run")
    if limit is not None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(POSTPONE, (limit,))
    argv = [sys.executable, "-c", CHILD, "expire"]
    run = {"cwd": ROOT, "env": {**env, "DATABASE_URL": url}, "stdout": subprocess.PIPE}
    children = [subprocess.Popen(argv, text=True, **run) for _ in range(processes)]
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
    template = f"bench_scheduler_{options.bookings}_{options.due}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "config.settings"}
    with common.postgres(options.port, options.datadir) as (admin_url, _):
        try:
            build_template(admin_url, template, options, env)
            url = copy(admin_url, template, "bench_scheduler_explain")
            explain = [sys.executable, "-c", CHILD, "explain"]
            run = {"cwd": ROOT, "check": True, "capture_output": True, "text": True}
            print(subprocess.run(explain, env={**env, "DATABASE_URL": url}, **run).stdout)
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
                f"  peak RSS with {tenth['moved']:,} due: {tenth['peak_rss_mb']:.0f} MB (flat "
                f"memory: {ours['peak_rss_mb'] / tenth['peak_rss_mb']:.2f}x)"
            )
        finally:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                for name in ("bench_scheduler_run", "bench_scheduler_explain"):
                    drop(conn, name)


if __name__ == "__main__":
    main()
