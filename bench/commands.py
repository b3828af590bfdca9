"""Benchmark the data-fix commands against hand-written SQL, on PostgreSQL.

    .venv/bin/python bench/commands.py [--sizes 100000,1000000] [--repeat 5]

Without DATABASE_URL it starts its own PostgreSQL with scripts/postgres.sh (a
temporary data directory, port --port) and removes it at the end; with
DATABASE_URL=postgres://.../NAME it uses that server and names its databases
NAME_tpl_<size> and NAME_work (dropped at the end; the templates are kept for
--reuse-templates).

For each size it builds a template database `<db>_tpl_<size>` once (migrate,
then generate_bookings with --broken-fraction, businesses on --timezones), so
every run starts from the same broken rows: before each run the working database
is re-created from the template (CREATE DATABASE ... TEMPLATE, then CHECKPOINT). Then, per command,
`--repeat` times, the two sides in alternating order:

- the SQL floor: the same fix as plain SQL statements (below), timed from the
  first statement to the commit;
- the command: bench/run_command.py in a subprocess, timed around call_command
  (start-up, imports and connecting excluded, as for the SQL), its peak RSS
  read with os.wait4;
- once per size, a check that both leave the same bookings, history and events
  behind.

It prints a Markdown table: median and best times over the trials (the machine
may be shared: the best run is the one least disturbed), the command / SQL
ratios, peak memory, and peak memory at the largest size over the smallest.
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
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The API's field lists (plain data), so that the floors' JSON cannot drift from it.
from bookings.representation import BOOKING_API_FIELDS, STATUS_CHANGE_API_FIELDS  # noqa: E402

# Businesses in several zones, on both sides of UTC: the commands then work per zone.
TIMEZONES = "UTC,America/New_York,Europe/Berlin,Asia/Kolkata,Australia/Sydney"
RUNNER = ROOT / "bench" / "run_command.py"

# The same fixes as the commands, as one would write them by hand in psql: dates in
# each business's zone (AT TIME ZONE its `timezone`), the version bumped once per
# booking changed, and the same events with the same JSON (jsonb_build_object).


def _iso(moment: str) -> str:
    """A datetime as the API writes it: ISO 8601 in UTC, `Z`, no `.000000`."""
    return (
        f"(replace(to_char({moment} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "
        f"'.000000', '') || 'Z')"
    )


def _json(row: str, fields: tuple[tuple[str, bool], ...]) -> str:
    pairs = (
        f"'{name}', {_iso(f'{row}.{name}') if is_moment else f'{row}.{name}'}"
        for name, is_moment in fields
    )
    return f"jsonb_build_object({', '.join(pairs)})"


def _names_where(conditions: dict[str, str]) -> str:
    """A JSON array of the names whose condition holds, in the order given."""
    cases = ", ".join(
        f"CASE WHEN {condition} THEN '{name}' END" for name, condition in conditions.items()
    )
    return f"to_jsonb(array_remove(ARRAY[{cases}]::text[], NULL))"


STATUSES = ("tentative", "definite", "lost")


def _missing(status: str) -> str:
    return f"(b.status = '{status}' AND b.{status}_at IS NULL AND b.{status}_date IS NULL)"


MISSING = " OR ".join(_missing(status) for status in STATUSES)
STRAY = "(b.status <> 'lost' AND (b.lost_at IS NOT NULL OR b.lost_date IS NOT NULL))"
# Lost dates are judged on lost bookings only (elsewhere they are stray).
MISMATCHED = " OR ".join(
    f"({'b.status = ' + repr(status) + ' AND ' if status == 'lost' else ''}"
    f"b.{status}_at IS NOT NULL "
    f"AND b.{status}_date IS DISTINCT FROM (b.{status}_at AT TIME ZONE z.timezone)::date)"
    for status in STATUSES
)
NEEDS_BACKFILL = " OR ".join(
    f"(b.{status}_at IS NULL AND b.{status}_date IS NOT NULL)" for status in STATUSES
)

SQL_FLOORS = {
    "backfill_status_datetimes": [
        # One booking.updated per booking backfilled, naming the datetimes set.
        f"""
        WITH targets AS MATERIALIZED (
          SELECT b.id, z.timezone AS tz,
            {
            ", ".join(f"b.{s}_at IS NULL AND b.{s}_date IS NOT NULL AS fill_{s}" for s in STATUSES)
        }
          FROM bookings_booking b JOIN accounts_business z ON z.id = b.business_id
          WHERE {NEEDS_BACKFILL}
        ), fixed AS (
          UPDATE bookings_booking b SET
            {
            ", ".join(
                f"{s}_at = COALESCE(b.{s}_at, b.{s}_date::timestamp AT TIME ZONE t.tz)"
                for s in STATUSES
            )
        },
            version = b.version + 1
          FROM targets t
          WHERE b.id = t.id
          RETURNING b.*, {", ".join(f"t.fill_{s}" for s in STATUSES)}
        )
        INSERT INTO events_event (business_id, type, data, created_at)
        SELECT f.business_id, 'booking.updated',
          jsonb_build_object(
            'booking', {_json("f", BOOKING_API_FIELDS)},
            'changed_fields', {_names_where({f"{s}_at": f"f.fill_{s}" for s in STATUSES})}),
          now()
        FROM fixed f
        """,
    ],
    "repair_booking_status_dates": [
        # All three kinds in one UPDATE (one version bump per booking), the history
        # entries of the re-stamps, a booking.updated per booking repaired without an
        # entry and a booking.status_changed per entry, as the repair left the booking.
        f"""
        WITH targets AS MATERIALIZED (
          SELECT b.id, b.business_id, b.status, r.restamped,
            {", ".join(f"b.{s}_at AS old_{s}_at, b.{s}_date AS old_{s}_date" for s in STATUSES)},
            {", ".join(f"n.{s}_at, d.{s}_date" for s in STATUSES)}
          FROM bookings_booking b
          JOIN accounts_business z ON z.id = b.business_id
          CROSS JOIN LATERAL (
            SELECT {MISSING} AS missing, {STRAY} AS stray, ({MISSING}) OR {STRAY} AS restamped
          ) r
          CROSS JOIN LATERAL (
            SELECT CASE WHEN r.missing
              THEN COALESCE((SELECT h.status_at FROM bookings_bookingstatuschange h
                             WHERE h.booking_id = b.id AND h.to_status = b.status
                             ORDER BY h.id DESC LIMIT 1), b.updated_at)
            END AS moment
          ) m
          CROSS JOIN LATERAL (
            SELECT
              CASE WHEN r.missing AND b.status = 'tentative' THEN m.moment
                   ELSE b.tentative_at END AS tentative_at,
              CASE WHEN r.missing AND b.status = 'definite' THEN m.moment
                   ELSE b.definite_at END AS definite_at,
              CASE WHEN r.missing AND b.status = 'lost' THEN m.moment
                   WHEN r.stray THEN NULL ELSE b.lost_at END AS lost_at
          ) n
          CROSS JOIN LATERAL (
            SELECT
              COALESCE((n.tentative_at AT TIME ZONE z.timezone)::date, b.tentative_date)
                AS tentative_date,
              COALESCE((n.definite_at AT TIME ZONE z.timezone)::date, b.definite_date)
                AS definite_date,
              COALESCE((n.lost_at AT TIME ZONE z.timezone)::date,
                       CASE WHEN r.stray THEN NULL ELSE b.lost_date END) AS lost_date
          ) d
          WHERE {MISSING} OR {STRAY} OR {MISMATCHED}
        ), fixed AS (
          UPDATE bookings_booking b SET
            {", ".join(f"{s}_at = t.{s}_at, {s}_date = t.{s}_date" for s in STATUSES)},
            version = b.version + 1
          FROM targets t
          WHERE b.id = t.id
          RETURNING b.*
        ), history AS (
          INSERT INTO bookings_bookingstatuschange
            (booking_id, business_id, from_status, to_status, status_at, recorded_at,
             changed_by, source)
          SELECT t.id, t.business_id, t.status, t.status,
            COALESCE(CASE t.status {" ".join(f"WHEN '{s}' THEN t.{s}_at" for s in STATUSES)} END,
                     now()),
            now(), NULL, 'command'
          FROM targets t
          WHERE t.restamped
          ORDER BY t.id
          RETURNING *
        ), updated AS (
          INSERT INTO events_event (business_id, type, data, created_at)
          SELECT f.business_id, 'booking.updated',
            jsonb_build_object(
              'booking', {_json("f", BOOKING_API_FIELDS)},
              'changed_fields', {
            _names_where(
                {
                    f"{s}_{part}": f"t.old_{s}_{part} IS DISTINCT FROM t.{s}_{part}"
                    for s in STATUSES
                    for part in ("date", "at")
                }
            )
        }),
            now()
          FROM fixed f JOIN targets t ON t.id = f.id
          WHERE NOT t.restamped
          ORDER BY f.id
        )
        INSERT INTO events_event (business_id, type, data, created_at)
        SELECT f.business_id, 'booking.status_changed',
          jsonb_build_object(
            'booking', {_json("f", BOOKING_API_FIELDS)},
            'change', {_json("h", STATUS_CHANGE_API_FIELDS)}),
          now()
        FROM history h JOIN fixed f ON f.id = h.booking_id
        ORDER BY h.id
        """,
    ],
}

# What a fix leaves behind, to compare the command with the SQL floor.
CHECKSUMS = [
    """
    SELECT md5(string_agg(concat_ws('|', id, status, tentative_date, tentative_at, definite_date,
                                    definite_at, lost_date, lost_at, updated_at, version),
                          ',' ORDER BY id))
    FROM bookings_booking
    """,
    """
    SELECT md5(string_agg(concat_ws('|', booking_id, business_id, from_status, to_status,
                                    -- a lead has no moment: its repair entry is stamped "now"
                                    CASE WHEN source = 'command' AND to_status = 'lead'
                                         THEN NULL ELSE status_at END,
                                    changed_by, source), ',' ORDER BY booking_id, id))
    FROM bookings_bookingstatuschange
    """,
    # The events, in no order (the two sides write them in different orders), without
    # what differs by nature: the entry's id, its recorded_at, a lead's status_at.
    """
    SELECT md5(string_agg(event, ',' ORDER BY event)) FROM (
      SELECT concat_ws('|', business_id, type,
                       (data #- '{change,id}' #- '{change,recorded_at}'
                        #- CASE WHEN data #>> '{change,to_status}' = 'lead'
                                THEN '{change,status_at}' ELSE '{}' END::text[])::text) AS event
      FROM events_event
    ) events
    """,
]


def database_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class Server:
    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = psycopg.connect(database_url(url, "postgres"), autocommit=True)

    def exists(self, name: str) -> bool:
        row = self.admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        return row is not None

    def drop(self, name: str) -> None:
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def clone(self, template: str, name: str) -> None:
        """`name` afresh as a copy of `template`, then a checkpoint: every timed run
        starts with no dirty buffers left by the one before."""
        self.drop(name)
        self.admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
        self.admin.execute("CHECKPOINT")


def manage(url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**os.environ, "DATABASE_URL": url},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def build_template(server: Server, name: str, size: int, options: argparse.Namespace) -> None:
    if options.reuse_templates and server.exists(name):
        print(f"# reusing template {name}", flush=True)
        return
    server.drop(name)
    server.admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(server.url, name)
    manage(url, "migrate", "-v0")
    output = manage(
        url,
        "generate_bookings",
        f"--count={size}",
        f"--businesses={options.businesses}",
        f"--seed={options.seed}",
        f"--broken-fraction={options.broken_fraction}",
        f"--timezones={options.timezones}",
        "--no-progress",
    )
    print("# " + output.strip().replace("\n", "\n# "), flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        # Autovacuum would start at random moments during the timed runs.
        for table in ("bookings_booking", "bookings_bookingstatuschange"):
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        conn.execute("VACUUM ANALYZE")


def run_sql(url: str, statements: list[str]) -> float:
    with psycopg.connect(url) as conn:
        # JIT compilation costs seconds here (PostgreSQL overestimates these
        # statements) and buys nothing: a hand-tuned run would turn it off.
        conn.execute("SET jit = off")
        started = time.perf_counter()
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        return time.perf_counter() - started


def run_command(url: str, command: str, *args: str) -> tuple[float, int, str]:
    """(seconds inside call_command, peak RSS in KiB, output) of one run."""
    process = subprocess.Popen(
        [sys.executable, str(RUNNER), command, "--no-progress", *args],
        env={**os.environ, "DATABASE_URL": url},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{command} failed ({process.returncode}):\n{output}")
    lines = output.strip().splitlines()
    return json.loads(lines[-1])["seconds"], usage.ru_maxrss, "\n".join(lines[:-1])


def checksums(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [conn.execute(query).fetchone()[0] for query in CHECKSUMS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--businesses", type=int, default=1000)
    parser.add_argument("--broken-fraction", type=float, default=0.2)
    parser.add_argument(
        "--timezones",
        default=TIMEZONES,
        help=f"zones given in turn to the businesses (default {TIMEZONES})",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--commands", default=",".join(SQL_FLOORS))
    parser.add_argument("--batch-size", type=int, help="passed on to the commands")
    parser.add_argument(
        "--reuse-templates", action="store_true", help="keep existing template databases"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=54379,
        help="port of the PostgreSQL started when DATABASE_URL is not set (default 54379)",
    )
    options = parser.parse_args()

    if os.environ.get("DATABASE_URL"):
        measure(os.environ["DATABASE_URL"], options)
        return
    datadir = Path(tempfile.mkdtemp(prefix="bench-commands-pg-"))
    started = False
    try:
        print(f"# starting PostgreSQL in {datadir} on port {options.port}", flush=True)
        result = subprocess.run(
            [str(ROOT / "scripts" / "postgres.sh"), "start", str(datadir), str(options.port)],
            check=True,
            capture_output=True,
            text=True,
        )
        started = True
        measure(database_url(result.stdout.strip().splitlines()[-1], "cmds_bench"), options)
    finally:
        if started:
            subprocess.run(
                [str(ROOT / "scripts" / "postgres.sh"), "stop", str(datadir)], capture_output=True
            )
        shutil.rmtree(datadir, ignore_errors=True)


def measure(base_url: str, options: argparse.Namespace) -> None:
    """Build the templates and run every measurement on the server of `base_url`;
    the databases it makes are named after that URL's database."""
    base = urlsplit(base_url).path.lstrip("/")
    server = Server(base_url)
    work = f"{base}_work"
    work_url = database_url(base_url, work)
    sizes = [int(size) for size in options.sizes.split(",")]
    commands = options.commands.split(",")
    extra = [f"--batch-size={options.batch_size}"] if options.batch_size else []

    results = {}
    for size in sizes:
        template = f"{base}_tpl_{size}"
        build_template(server, template, size, options)
        for command in commands:
            sql_times, command_times, peaks = [], [], []
            for trial in range(options.repeat):
                # Alternate which side goes first, so neither always inherits the
                # other's after-effects.
                states = {}
                for side in ("sql", "command") if trial % 2 == 0 else ("command", "sql"):
                    server.clone(template, work)
                    if side == "sql":
                        sql_times.append(run_sql(work_url, SQL_FLOORS[command]))
                    else:
                        seconds, peak, output = run_command(work_url, command, *extra)
                        command_times.append(seconds)
                        peaks.append(peak)
                    if trial == 0:
                        states[side] = checksums(work_url)
                if trial == 0:
                    print(f"# {size} {command}: {output}", flush=True)
                    if states["sql"] != states["command"]:
                        raise SystemExit(f"{command} and its SQL floor disagree at {size}")
                print(
                    f"# {size} {command} trial {trial + 1}: sql {sql_times[-1]:.2f}s, "
                    f"command {command_times[-1]:.2f}s, peak {peaks[-1] / 1024:.1f} MiB",
                    flush=True,
                )
            results[size, command] = (sql_times, command_times, max(peaks))
        server.drop(work)
    server.admin.close()

    print()
    print(
        "| command | bookings | SQL floor (median / best) | command (median / best) "
        "| command / SQL (median / best) | peak RSS |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for (size, command), (sql_times, command_times, peak) in results.items():
        sql_median, command_median = map(statistics.median, (sql_times, command_times))
        sql_best, command_best = min(sql_times), min(command_times)
        print(
            f"| `{command}` | {size:,} | {sql_median:.2f} s / {sql_best:.2f} s "
            f"| {command_median:.2f} s / {command_best:.2f} s "
            f"| {command_median / sql_median:.2f}× / {command_best / sql_best:.2f}× "
            f"| {peak / 1024:.1f} MiB |"
        )
    if len(sizes) > 1:
        print()
        print(f"| command | peak RSS at {sizes[-1]:,} / at {sizes[0]:,} |")
        print("|---|---:|")
        for command in commands:
            ratio = results[sizes[-1], command][2] / results[sizes[0], command][2]
            print(f"| `{command}` | {ratio:.3f} |")


if __name__ == "__main__":
    main()
