"""Benchmark the data-fix commands against hand-written SQL, on PostgreSQL.

    .venv/bin/python bench/commands.py [--sizes 100000,1000000] [--repeat 5]

Without DATABASE_URL it starts its own PostgreSQL with scripts/postgres.sh (a
temporary data directory, port --port) and removes it at the end; with
DATABASE_URL=postgres://.../NAME it uses that server and names its databases
NAME_tpl_<size> and NAME_work (dropped at the end; the templates are kept for
--reuse-templates).

For each size it builds a template database `<db>_tpl_<size>` once (migrate,
then generate_bookings with --broken-fraction), so every run starts from the
same broken rows: before each run the working database is re-created from the
template (CREATE DATABASE ... TEMPLATE, then CHECKPOINT). Then, per command,
`--repeat` times, the two sides in alternating order:

- the SQL floor: the same fix as plain SQL statements (below), timed from the
  first statement to the commit;
- the command: bench/run_command.py in a subprocess, timed around call_command
  (start-up, imports and connecting excluded, as for the SQL), its peak RSS
  read with os.wait4;
- once per size, a check that both leave the same bookings and history behind.

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
RUNNER = ROOT / "bench" / "run_command.py"

# The same fixes as the commands, as one would write them by hand in psql.
SQL_FLOORS = {
    "backfill_status_datetimes": [
        """
        UPDATE bookings_booking SET
          tentative_at = COALESCE(tentative_at, tentative_date::timestamp AT TIME ZONE 'UTC'),
          definite_at = COALESCE(definite_at, definite_date::timestamp AT TIME ZONE 'UTC'),
          lost_at = COALESCE(lost_at, lost_date::timestamp AT TIME ZONE 'UTC')
        WHERE (tentative_at IS NULL AND tentative_date IS NOT NULL)
           OR (definite_at IS NULL AND definite_date IS NOT NULL)
           OR (lost_at IS NULL AND lost_date IS NOT NULL)
        """,
    ],
    "repair_booking_status_dates": [
        # Missing own dates and stray lost dates, with one history entry per booking.
        """
        WITH targets AS MATERIALIZED (
          SELECT b.id, b.status,
            CASE WHEN (b.status = 'tentative' AND b.tentative_at IS NULL
                       AND b.tentative_date IS NULL)
                   OR (b.status = 'definite' AND b.definite_at IS NULL
                       AND b.definite_date IS NULL)
                   OR (b.status = 'lost' AND b.lost_at IS NULL AND b.lost_date IS NULL)
              THEN COALESCE((SELECT h.status_at FROM bookings_bookingstatuschange h
                             WHERE h.booking_id = b.id AND h.to_status = b.status
                             ORDER BY h.id DESC LIMIT 1), b.updated_at)
            END AS moment
          FROM bookings_booking b
          WHERE (b.status = 'tentative' AND b.tentative_at IS NULL AND b.tentative_date IS NULL)
             OR (b.status = 'definite' AND b.definite_at IS NULL AND b.definite_date IS NULL)
             OR (b.status = 'lost' AND b.lost_at IS NULL AND b.lost_date IS NULL)
             OR (b.status <> 'lost' AND (b.lost_at IS NOT NULL OR b.lost_date IS NOT NULL))
        ), fixed AS (
          UPDATE bookings_booking b SET
            tentative_at = CASE WHEN t.moment IS NOT NULL AND t.status = 'tentative'
                                THEN t.moment ELSE b.tentative_at END,
            tentative_date = CASE WHEN t.moment IS NOT NULL AND t.status = 'tentative'
                                  THEN (t.moment AT TIME ZONE 'UTC')::date
                                  ELSE b.tentative_date END,
            definite_at = CASE WHEN t.moment IS NOT NULL AND t.status = 'definite'
                               THEN t.moment ELSE b.definite_at END,
            definite_date = CASE WHEN t.moment IS NOT NULL AND t.status = 'definite'
                                 THEN (t.moment AT TIME ZONE 'UTC')::date
                                 ELSE b.definite_date END,
            lost_at = CASE WHEN t.status <> 'lost' THEN NULL
                           WHEN t.moment IS NOT NULL THEN t.moment ELSE b.lost_at END,
            lost_date = CASE WHEN t.status <> 'lost' THEN NULL
                             WHEN t.moment IS NOT NULL THEN (t.moment AT TIME ZONE 'UTC')::date
                             ELSE b.lost_date END
          FROM targets t
          WHERE b.id = t.id
          RETURNING b.id, b.status, CASE b.status
            WHEN 'tentative' THEN COALESCE(b.tentative_at,
                                           b.tentative_date::timestamp AT TIME ZONE 'UTC')
            WHEN 'definite' THEN COALESCE(b.definite_at,
                                          b.definite_date::timestamp AT TIME ZONE 'UTC')
            WHEN 'lost' THEN b.lost_at
          END AS own_moment
        )
        INSERT INTO bookings_bookingstatuschange
          (booking_id, from_status, to_status, status_at, recorded_at, changed_by, source)
        SELECT id, status, status, COALESCE(own_moment, now()), now(), NULL, 'command'
        FROM fixed
        """,
        # Dates that are not the UTC date of their datetime.
        """
        UPDATE bookings_booking SET
          tentative_date = COALESCE((tentative_at AT TIME ZONE 'UTC')::date, tentative_date),
          definite_date = COALESCE((definite_at AT TIME ZONE 'UTC')::date, definite_date),
          lost_date = COALESCE((lost_at AT TIME ZONE 'UTC')::date, lost_date)
        WHERE (tentative_at IS NOT NULL
               AND tentative_date IS DISTINCT FROM (tentative_at AT TIME ZONE 'UTC')::date)
           OR (definite_at IS NOT NULL
               AND definite_date IS DISTINCT FROM (definite_at AT TIME ZONE 'UTC')::date)
           OR (status = 'lost' AND lost_at IS NOT NULL
               AND lost_date IS DISTINCT FROM (lost_at AT TIME ZONE 'UTC')::date)
        """,
    ],
}

# What a fix leaves behind, to compare the command with the SQL floor.
CHECKSUMS = [
    """
    SELECT md5(string_agg(concat_ws('|', id, status, tentative_date, tentative_at, definite_date,
                                    definite_at, lost_date, lost_at, updated_at), ',' ORDER BY id))
    FROM bookings_booking
    """,
    """
    SELECT md5(string_agg(concat_ws('|', booking_id, from_status, to_status,
                                    -- a lead has no moment: its repair entry is stamped "now"
                                    CASE WHEN source = 'command' AND to_status = 'lead'
                                         THEN NULL ELSE status_at END,
                                    changed_by, source), ',' ORDER BY booking_id, id))
    FROM bookings_bookingstatuschange
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
        default=54359,
        help="port of the PostgreSQL started when DATABASE_URL is not set (default 54359)",
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
