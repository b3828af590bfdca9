"""The data-fix commands against their SQL floor (the same fix as one statement, FLOORS),
each trial on a fresh copy of the size's template (generate_bookings --broken-fraction),
in alternating order, checked to leave the same rows; the command's peak RSS. Budget
(issue 23): ≤ 1.5× the floor at 1M bookings, flat memory. On a PostgreSQL of its own
unless DATABASE_URL names one.

    .venv/bin/python bench/commands.py [--sizes 100000,1000000] [--repeat 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from urllib.parse import urlsplit

import common
import psycopg

ROOT = common.ROOT
TIMEZONES = "UTC,America/New_York,Europe/Berlin,Asia/Kolkata,Australia/Sydney"

# The events' payloads as the API renders them (bookings/representation.py), so that the
# floor pays for what the commands write; made on the floor's connection before its
# clock starts. Only their cost matters: the check compares rows, not payloads.
PAYLOAD_FUNCTIONS = [
    """CREATE FUNCTION pg_temp.api_time(moment timestamptz) RETURNS text STABLE LANGUAGE sql
       AS $$ SELECT replace(to_char(moment AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                            '.000000', '') || 'Z' $$""",
    """CREATE FUNCTION pg_temp.api_booking(b bookings_booking) RETURNS jsonb STABLE LANGUAGE sql
       AS $$ SELECT jsonb_build_object('id', b.id, 'name', b.name,
         'starts_at', pg_temp.api_time(b.starts_at), 'ends_at', pg_temp.api_time(b.ends_at),
         'guest_count', b.guest_count, 'notes', b.notes, 'status', b.status,
         'tentative_date', b.tentative_date, 'tentative_at', pg_temp.api_time(b.tentative_at),
         'definite_date', b.definite_date, 'definite_at', pg_temp.api_time(b.definite_at),
         'lost_date', b.lost_date, 'lost_at', pg_temp.api_time(b.lost_at),
         'created_at', pg_temp.api_time(b.created_at),
         'updated_at', pg_temp.api_time(b.updated_at), 'version', b.version) $$""",
    """CREATE FUNCTION pg_temp.api_change(h bookings_bookingstatuschange) RETURNS jsonb STABLE
       LANGUAGE sql AS $$ SELECT jsonb_build_object('id', h.id, 'from_status', h.from_status,
         'to_status', h.to_status, 'status_at', pg_temp.api_time(h.status_at),
         'recorded_at', pg_temp.api_time(h.recorded_at), 'changed_by', h.changed_by,
         'source', h.source) $$""",
]

# Each fix as one would write it by hand in psql: the rows that break the rule, one
# update (the version bumped once), the history entries and the events.
BACKFILL_FLOOR = """
WITH targets AS MATERIALIZED (
  SELECT b.id, z.timezone AS tz,
    b.tentative_at IS NULL AND b.tentative_date IS NOT NULL AS fill_tentative,
    b.definite_at IS NULL AND b.definite_date IS NOT NULL AS fill_definite,
    b.lost_at IS NULL AND b.lost_date IS NOT NULL AS fill_lost
  FROM bookings_booking b JOIN accounts_business z ON z.id = b.business_id
  WHERE b.tentative_at IS NULL AND b.tentative_date IS NOT NULL
     OR b.definite_at IS NULL AND b.definite_date IS NOT NULL
     OR b.lost_at IS NULL AND b.lost_date IS NOT NULL
), fixed AS (
  UPDATE bookings_booking b SET
    tentative_at = COALESCE(b.tentative_at, b.tentative_date::timestamp AT TIME ZONE t.tz),
    definite_at = COALESCE(b.definite_at, b.definite_date::timestamp AT TIME ZONE t.tz),
    lost_at = COALESCE(b.lost_at, b.lost_date::timestamp AT TIME ZONE t.tz),
    version = b.version + 1
  FROM targets t
  WHERE b.id = t.id
  RETURNING b.business_id, b AS booking, t.fill_tentative, t.fill_definite, t.fill_lost
)
INSERT INTO events_event (business_id, type, data, created_at)
SELECT business_id, 'booking.updated', jsonb_build_object(
    'booking', pg_temp.api_booking(booking),
    'changed_fields', to_jsonb(array_remove(ARRAY[
      CASE WHEN fill_tentative THEN 'tentative_at' END,
      CASE WHEN fill_definite THEN 'definite_at' END,
      CASE WHEN fill_lost THEN 'lost_at' END], NULL))),
  now()
FROM fixed
"""
REPAIR_FLOOR = """
WITH found AS MATERIALIZED (
  SELECT b.id, b.business_id, b.status, z.timezone AS tz, r.missing, r.stray,
    b.tentative_at, b.tentative_date, b.definite_at, b.definite_date, b.lost_at,
    b.lost_date,
    CASE WHEN r.missing THEN COALESCE(
      (SELECT h.status_at FROM bookings_bookingstatuschange h
       WHERE h.booking_id = b.id AND h.to_status = b.status ORDER BY h.id DESC LIMIT 1),
      b.updated_at) END AS moment
  FROM bookings_booking b
  JOIN accounts_business z ON z.id = b.business_id
  CROSS JOIN LATERAL (SELECT
    b.status = 'tentative' AND b.tentative_at IS NULL AND b.tentative_date IS NULL
      OR b.status = 'definite' AND b.definite_at IS NULL AND b.definite_date IS NULL
      OR b.status = 'lost' AND b.lost_at IS NULL AND b.lost_date IS NULL AS missing,
    b.status <> 'lost' AND (b.lost_at IS NOT NULL OR b.lost_date IS NOT NULL) AS stray
  ) r
  WHERE r.missing OR r.stray
    OR b.tentative_at IS NOT NULL
       AND b.tentative_date IS DISTINCT FROM (b.tentative_at AT TIME ZONE z.timezone)::date
    OR b.definite_at IS NOT NULL
       AND b.definite_date IS DISTINCT FROM (b.definite_at AT TIME ZONE z.timezone)::date
    OR b.status = 'lost' AND b.lost_at IS NOT NULL
       AND b.lost_date IS DISTINCT FROM (b.lost_at AT TIME ZONE z.timezone)::date
), new_at AS (
  SELECT f.*, f.missing OR f.stray AS restamped,
    CASE WHEN f.missing AND f.status = 'tentative' THEN f.moment ELSE f.tentative_at END
      AS new_tentative_at,
    CASE WHEN f.missing AND f.status = 'definite' THEN f.moment ELSE f.definite_at END
      AS new_definite_at,
    CASE WHEN f.missing AND f.status = 'lost' THEN f.moment
         WHEN f.stray THEN NULL ELSE f.lost_at END AS new_lost_at
  FROM found f
), targets AS (
  SELECT n.*,
    COALESCE((n.new_tentative_at AT TIME ZONE n.tz)::date, n.tentative_date)
      AS new_tentative_date,
    COALESCE((n.new_definite_at AT TIME ZONE n.tz)::date, n.definite_date)
      AS new_definite_date,
    COALESCE((n.new_lost_at AT TIME ZONE n.tz)::date,
             CASE WHEN n.stray THEN NULL ELSE n.lost_date END) AS new_lost_date
  FROM new_at n
), fixed AS (
  UPDATE bookings_booking b SET
    tentative_at = t.new_tentative_at, tentative_date = t.new_tentative_date,
    definite_at = t.new_definite_at, definite_date = t.new_definite_date,
    lost_at = t.new_lost_at, lost_date = t.new_lost_date, version = b.version + 1
  FROM targets t
  WHERE b.id = t.id
  RETURNING b.id, b AS booking
), history AS (
  INSERT INTO bookings_bookingstatuschange AS h
    (booking_id, business_id, from_status, to_status, status_at, recorded_at, source)
  SELECT id, business_id, status, status,
    COALESCE(CASE status WHEN 'tentative' THEN new_tentative_at
                         WHEN 'definite' THEN new_definite_at
                         WHEN 'lost' THEN new_lost_at END, now()),
    now(), 'command'
  FROM targets WHERE restamped ORDER BY id
  RETURNING h.id, h.booking_id, h.business_id, h AS change
), updated AS (
  INSERT INTO events_event (business_id, type, data, created_at)
  SELECT t.business_id, 'booking.updated', jsonb_build_object(
      'booking', pg_temp.api_booking(f.booking),
      'changed_fields', to_jsonb(array_remove(ARRAY[
        CASE WHEN t.new_tentative_date IS DISTINCT FROM t.tentative_date
             THEN 'tentative_date' END,
        CASE WHEN t.new_tentative_at IS DISTINCT FROM t.tentative_at
             THEN 'tentative_at' END,
        CASE WHEN t.new_definite_date IS DISTINCT FROM t.definite_date
             THEN 'definite_date' END,
        CASE WHEN t.new_definite_at IS DISTINCT FROM t.definite_at
             THEN 'definite_at' END,
        CASE WHEN t.new_lost_date IS DISTINCT FROM t.lost_date THEN 'lost_date' END,
        CASE WHEN t.new_lost_at IS DISTINCT FROM t.lost_at THEN 'lost_at' END], NULL))),
    now()
  FROM fixed f JOIN targets t ON t.id = f.id WHERE NOT t.restamped ORDER BY f.id
)
INSERT INTO events_event (business_id, type, data, created_at)
SELECT h.business_id, 'booking.status_changed', jsonb_build_object(
    'booking', pg_temp.api_booking(f.booking), 'change', pg_temp.api_change(h.change)),
  now()
FROM history h JOIN fixed f ON f.id = h.booking_id ORDER BY h.id
"""
FLOORS = {
    "backfill_status_datetimes": BACKFILL_FLOOR,
    "repair_booking_status_dates": REPAIR_FLOOR,
}

# What a fix leaves behind, to compare the command with its floor.
CHECKSUMS = [
    """SELECT md5(string_agg(concat_ws('|', id, status, tentative_date, tentative_at,
         definite_date, definite_at, lost_date, lost_at, updated_at, version), ',' ORDER BY id))
       FROM bookings_booking""",
    # A lead has no moment: its repair entry is stamped "now" on each side.
    """SELECT md5(string_agg(concat_ws('|', booking_id, business_id, from_status, to_status,
         CASE WHEN source = 'command' AND to_status = 'lead' THEN NULL ELSE status_at END,
         changed_by, source), ',' ORDER BY booking_id, id))
       FROM bookings_bookingstatuschange""",
    "SELECT string_agg(type || ' ' || n, ', ' ORDER BY type) FROM "
    "(SELECT type, count(*) AS n FROM events_event GROUP BY type) counted",
]


def manage(url: str, *args: str) -> str:
    return common.manage(*args, env={**os.environ, "DATABASE_URL": url})


def run_floor(url: str, statement: str) -> float:
    with psycopg.connect(url) as conn:
        # PostgreSQL overestimates these statements and would spend seconds compiling
        # them; a hand-tuned run turns JIT off.
        conn.execute("SET jit = off")
        for function in PAYLOAD_FUNCTIONS:
            conn.execute(function)
        started = time.perf_counter()
        conn.execute(statement)
        conn.commit()
        return time.perf_counter() - started


def run_command(url: str, command: str, *args: str) -> tuple[float, int, str]:
    """(seconds inside call_command, peak RSS in KiB, output) of a run in a child."""
    argv = [sys.executable, __file__, "--child", command, "--no-progress", *args]
    env = {**os.environ, "DATABASE_URL": url}
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{command} failed:\n{output}")
    *lines, last = output.strip().splitlines()
    return json.loads(last)["seconds"], usage.ru_maxrss, "\n".join(lines)


def child(command: str, *args: str) -> None:
    """Runs in the child: the command is imported and the connection opened before the
    clock starts, as the floor's connection is."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command, get_commands, load_command_class
    from django.db import connection

    loaded = load_command_class(get_commands()[command], command)
    connection.ensure_connection()
    started = time.perf_counter()
    call_command(loaded, *args)
    print(json.dumps({"seconds": time.perf_counter() - started}))


def measure(base_url: str, options: argparse.Namespace) -> None:
    base = urlsplit(base_url).path.lstrip("/")
    admin = psycopg.connect(common.in_database(base_url, "postgres"), autocommit=True)
    work_url = common.in_database(base_url, f"{base}_work")
    sizes = [int(size) for size in options.sizes.split(",")]
    commands = options.commands.split(",")
    extra = [f"--batch-size={options.batch_size}"] if options.batch_size else []

    def fresh(name: str, template: str = "template0") -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        admin.execute("CHECKPOINT")  # no dirty buffers left by the trial before

    results = {}
    for size in sizes:
        template = f"{base}_tpl_{size}"
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
        if not (options.reuse_templates and exists.fetchone()):
            fresh(template)
            url = common.in_database(base_url, template)
            manage(url, "migrate", "-v0")
            generated = manage(
                url, "generate_bookings", f"--count={size}", f"--businesses={options.businesses}",
                f"--seed={options.seed}", f"--broken-fraction={options.broken_fraction}",
                f"--timezones={options.timezones}", "--no-progress",
            )  # fmt: skip
            print("# " + generated.strip().replace("\n", "\n# "), flush=True)
            with psycopg.connect(url, autocommit=True) as conn:
                for table in ("bookings_booking", "bookings_bookingstatuschange"):
                    # Autovacuum would start at random moments during the timed runs.
                    conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
                conn.execute("VACUUM ANALYZE")
        for command in commands:
            floor_times, command_times, peaks = [], [], []
            for trial in range(options.repeat):
                states = {}
                for side in ("floor", "command") if trial % 2 == 0 else ("command", "floor"):
                    fresh(f"{base}_work", template)
                    if side == "floor":
                        floor_times.append(run_floor(work_url, FLOORS[command]))
                    else:
                        seconds, peak, output = run_command(work_url, command, *extra)
                        command_times.append(seconds)
                        peaks.append(peak)
                    if trial == 0:
                        with psycopg.connect(work_url) as conn:
                            states[side] = [conn.execute(q).fetchone()[0] for q in CHECKSUMS]
                if trial == 0:
                    print(f"# {size} {command}: {output}", flush=True)
                    kinds = ("bookings", "history", "events")
                    for name, floor, ours in zip(kinds, *states.values(), strict=True):
                        if floor != ours:
                            raise SystemExit(f"{command} and its floor left other {name} at {size}")
                print(
                    f"# {size} {command} trial {trial + 1}: floor {floor_times[-1]:.2f} s, "
                    f"command {command_times[-1]:.2f} s, peak {peaks[-1] / 1024:.1f} MiB",
                    flush=True,
                )
            results[size, command] = (floor_times, command_times, max(peaks))
        admin.execute(f'DROP DATABASE IF EXISTS "{base}_work" WITH (FORCE)')
    admin.close()

    print(f"\nload average {common.load_average()} (end)\n")
    print("| command | bookings | floor (median / best) | command (median / best) "
          "| command / floor (median / best) | peak RSS |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for (size, command), (floor_times, command_times, peak) in results.items():
        floor, ours = statistics.median(floor_times), statistics.median(command_times)
        print(
            f"| `{command}` | {size:,} | {floor:.2f} s / {min(floor_times):.2f} s "
            f"| {ours:.2f} s / {min(command_times):.2f} s "
            f"| {ours / floor:.2f}× / {min(command_times) / min(floor_times):.2f}× "
            f"| {peak / 1024:.1f} MiB |"
        )
    if len(sizes) > 1:
        print(f"\n| command | peak RSS at {sizes[-1]:,} / at {sizes[0]:,} |\n|---|---:|")
        for command in commands:
            ratio = results[sizes[-1], command][2] / results[sizes[0], command][2]
            print(f"| `{command}` | {ratio:.3f} |")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--businesses", type=int, default=1000)
    parser.add_argument("--broken-fraction", type=float, default=0.2)
    parser.add_argument("--timezones", default=TIMEZONES, help="given in turn to the businesses")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--commands", default=",".join(FLOORS))
    parser.add_argument("--batch-size", type=int, help="passed on to the commands")
    parser.add_argument("--reuse-templates", action="store_true", help="keep existing templates")
    parser.add_argument("--port", type=int, default=54362)
    options = parser.parse_args()
    print(f"# load average {common.load_average()} (start)", flush=True)
    if os.environ.get("DATABASE_URL"):
        return measure(os.environ["DATABASE_URL"], options)
    with common.postgres(options.port) as (url, _):
        measure(common.in_database(url, "cmds_bench"), options)


if __name__ == "__main__":
    main()
