"""The HTTP benchmark: the project against a typical DRF implementation of the same
contract (../shared/peer-typical-drf), both under gunicorn on a PostgreSQL of its own,
seeded alike, each endpoint of ENDPOINTS driven by wrk (bench/requests.lua); then
bench/app_cpu.py. Budgets (issue 23): ≥ 2× the peer's req/s and a lower p99; an endpoint
the peer lacks against its `baseline`, by `min_ratio`. The report goes to bench/results/.

    .venv/bin/python bench/peer.py [--quick] [--only change_status] [--variants no-check]
"""

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import common
import psycopg

ROOT = common.ROOT
PEER = ROOT.parent / "shared" / "peer-typical-drf"
RESULTS = ROOT / "bench" / "results"
PEER_PACKAGES = ["django>=5.2,<5.3", "djangorestframework", "django-filter", "gunicorn"]
PEER_PACKAGES += ["psycopg[binary,pool]", "dj-database-url", "drf-spectacular"]
STATUSES = ("lead", "tentative", "definite", "lost")
STAMPED = STATUSES[1:]
BUSINESSES = {"main": 43111, "post": 43112}
NEW_SUB_STATUS = {"statusId": None, "businessId": BUSINESSES["post"], "status": "OPEN"}
NEW_SUB_STATUS["subStatus"] = "bench @N@"
# The project again, on the same database, with other settings: env, what it shows.
VARIANTS = {
    "no-check": (
        {"DB_POOL_CHECK": "0"},
        "the pool hands out connections without checking them",
    ),
    "stock-backend": (
        {"DJANGO_SETTINGS_MODULE": "bench.stock_backend"},
        "Django's own backend: Django's timestamp loader",
    ),
    "metrics": (
        {"METRICS_ENABLED": "1", "PROMETHEUS_MULTIPROC_DIR": "{workdir}/metrics"},
        "/metrics on, prometheus-client's multiprocess mode (issue 19: within 5%)",
    ),
}


log = common.logger("peer")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Side:
    """One server under test, and what seeding made on it."""

    name: str
    port: int = field(default_factory=free_port)
    keys: dict[str, str] = field(default_factory=dict)  # API key per business role
    bookings: list[int] = field(default_factory=list)  # index i: the same booking everywhere
    made: dict = field(default_factory=dict)  # what endpoints' seed functions made
    process: subprocess.Popen | None = None

    def call(self, method: str, path: str, body: object = None, role: str = "main"):
        status, answer = common.api(self.port, method, path, self.keys[role], body)
        if status >= 300:
            raise SystemExit(f"{self.name}: {method} {path} answered {status}: {answer}")
        return answer

    def start(self, argv: list[str], env: dict, cwd: Path, logfile: Path) -> None:
        argv += ["--workers", str(ARGS.workers), "--worker-class", "sync"]
        argv += ["--bind", f"127.0.0.1:{self.port}"]
        run = {"env": env, "cwd": cwd, "start_new_session": True}  # stop() ends the workers too
        with logfile.open("ab") as output:
            self.process = subprocess.Popen(argv, stdout=output, stderr=output, **run)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited at start; see {logfile}")
            with contextlib.suppress(OSError):
                if common.api(self.port, "GET", "/status", self.keys["main"])[0] == 200:
                    return
            time.sleep(0.3)
        raise SystemExit(f"{self.name} did not answer within 60 s; see {logfile}")

    def cpu_seconds(self) -> float:
        """CPU used so far by gunicorn's master and workers (its process group)."""
        return cpu_seconds(lambda pid, parent, group: group == self.process.pid)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def cpu_seconds(belongs: Callable[[int, int, int], bool]) -> float:
    """CPU used so far by the processes for which belongs(pid, parent pid, group), and
    by their children that exited (a backend that ends takes its share to the postmaster)."""
    total = 0.0
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if belongs(int(entry), int(fields[1]), int(fields[2])):
            total += sum(map(int, fields[11:15])) / os.sysconf("SC_CLK_TCK")
    return total


def postgres_cpu_seconds(datadir: Path) -> float:
    """CPU used so far by PostgreSQL's postmaster and its children (the backends); one
    side is driven at a time, so a run's share is that side's."""
    postmaster = int((datadir / "postmaster.pid").read_text().split()[0])
    return cpu_seconds(lambda pid, parent, group: postmaster in (pid, parent))


def line(method: str, path: str, body: object = None) -> str:
    """One request for bench/requests.lua."""
    return f"{method}\t{path}\t" + (json.dumps(body, separators=(",", ":")) if body else "")


def some_bookings(side: Side, rng: random.Random, count: int = 2000) -> list[int]:
    return [side.bookings[rng.randrange(len(side.bookings))] for _ in range(count)]


@dataclass
class Endpoint:
    name: str
    label: str
    # The requests wrk sends in turn (line()); called with a Random seeded by the name,
    # so that every side gets the same sequence.
    requests: Callable[[Side, random.Random], list[str]]
    role: str = "main"  # whose API key
    peer: bool = True  # the peer serves it: measured against the peer
    baseline: str | None = None  # else against this endpoint of the project, same run
    min_ratio: float = 2.0  # budget: req/s ≥ min_ratio × the peer's (or the baseline's)
    seed: Callable[[Side], None] | None = None  # makes what the requests need, once a side


ENDPOINTS = [
    Endpoint("status_get", "GET /status", lambda side, rng: [line("GET", "/status")]),
    Endpoint(
        "booking_detail",
        "GET /v2/bookings/{id}",
        lambda side, rng: [line("GET", f"/v2/bookings/{pk}") for pk in some_bookings(side, rng)],
    ),
    Endpoint(
        "change_status",
        "POST /v2/bookings/{id}/change_status",
        lambda side, rng: [
            line("POST", f"/v2/bookings/{pk}/change_status", {"status": rng.choice(STAMPED)})
            for pk in some_bookings(side, rng)
        ],
    ),
    Endpoint(
        "booking_list",
        "GET /v2/bookings?status=tentative (a page)",
        lambda side, rng: [line("GET", "/v2/bookings?status=tentative")],
    ),
    Endpoint(
        "status_post",
        "POST /status (a new subStatus each)",
        lambda side, rng: [line("POST", "/status", NEW_SUB_STATUS)],
        role="post",
    ),
]
# Endpoints the peer lacks, each against an endpoint of the project in the same run.


def seed_appointments(side: Side) -> None:
    """A chair and 200 appointments on it, in slots one after another (each move checks
    the chair's time), all OPEN."""
    chair = side.call("POST", "/v2/resources", {"name": f"Bench chair {secrets.token_hex(3)}"})
    start = dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)
    slots = [(start + dt.timedelta(minutes=30 * n)).isoformat() for n in range(201)]
    side.made["appointments"] = []
    for n in range(200):
        body = {"resource_id": chair["id"], "client_name": f"Bench {n}"}
        body |= {"starts_at": slots[n], "ends_at": slots[n + 1]}
        side.made["appointments"].append(side.call("POST", "/v2/appointments", body)["id"])


def seed_reason(side: Side) -> None:
    reasons = side.call("GET", "/v2/lost_reasons")["results"]
    side.made["reason"] = next(r["id"] for r in reasons if r["code"] == "budget")


def to_lost(side: Side, rng: random.Random, **extra) -> list[str]:
    return [
        line("POST", f"/v2/bookings/{pk}/change_status", {"status": "lost", **extra})
        for pk in some_bookings(side, rng)
    ]


APPOINTMENT_TIMES = {"starts_at": "2026-02-02T10:00:00Z", "ends_at": "2026-02-02T10:30:00Z"}
ENDPOINTS += [
    Endpoint(
        "appointment_create",
        "POST /v2/appointments",
        lambda side, rng: [
            line("POST", "/v2/appointments", {"client_name": "Bench @N@", **APPOINTMENT_TIMES})
        ],
        peer=False,
        baseline="change_status",
        min_ratio=1 / 1.25,
    ),
    Endpoint(
        "appointment_change_status",
        "POST /v2/appointments/{id}/change_status",
        lambda side, rng: [
            line(
                "POST",
                f"/v2/appointments/{pk}/change_status",
                {"status": "OPEN", "sub_status": rng.choice(["RUNNING_LATE", "CONFIRMED"])},
            )
            for pk in rng.choices(side.made["appointments"], k=2000)
        ],
        peer=False,
        baseline="change_status",
        min_ratio=1 / 1.25,
        seed=seed_appointments,
    ),
    # A change to lost with a reason, against the same change without one (issue 25:
    # within 5%).
    Endpoint(
        "lost_without_reason",
        "POST …/change_status to lost",
        lambda side, rng: to_lost(side, rng),
        peer=False,
    ),
    Endpoint(
        "lost_with_reason",
        "POST …/change_status to lost with a reason and a note",
        lambda side, rng: to_lost(
            side, rng, lost_reason_id=side.made["reason"], lost_note="Went elsewhere"
        ),
        peer=False,
        baseline="lost_without_reason",
        min_ratio=0.95,
        seed=seed_reason,
    ),
]


def seed(sides: list[Side], bookings: int) -> None:
    """The same status lists and bookings on every side, through its API."""
    for side in sides:
        for role, business in BUSINESSES.items():
            body = {"statusId": None, "businessId": business, "status": "OPEN"}
            side.call("POST", "/status", body | {"subStatus": "Bench seed"}, role)
        with ThreadPoolExecutor(4) as pool:
            created = pool.map(
                lambda n, side=side: side.call(
                    "POST", "/v2/bookings", {"name": f"Bench {n}", "status": STATUSES[n % 4]}
                ),
                range(bookings),
            )
            side.bookings = [booking["id"] for booking in created]
        log(f"seeded {side.name}: {bookings:,} bookings")
    lists = {
        side.name: [(s["status"], s["subStatus"]) for s in side.call("GET", "/status")]
        for side in sides
    }
    if len({json.dumps(found) for found in lists.values()}) != 1:
        raise SystemExit(f"the sides' status lists differ after seeding: {lists}")


class Load:
    def __init__(self, workdir: Path, wrk_log: Path, datadir: Path) -> None:
        self.workdir, self.wrk_log, self.datadir, self.runs = workdir, wrk_log, datadir, 0

    def run(self, endpoint: Endpoint, side: Side, requests_file: Path, seconds: int) -> dict:
        self.runs += 1
        argv = ["wrk", "--threads", str(ARGS.threads), "--connections", str(ARGS.connections)]
        argv += ["--duration", f"{seconds}s", "--script", str(ROOT / "bench" / "requests.lua")]
        argv += [f"http://127.0.0.1:{side.port}", "--", str(requests_file)]
        cpu, db_cpu = side.cpu_seconds(), postgres_cpu_seconds(self.datadir)
        tag = f"{secrets.token_hex(3)}{self.runs}"
        result = subprocess.run(
            [*argv, side.keys[endpoint.role], tag],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        cpu, db_cpu = side.cpu_seconds() - cpu, postgres_cpu_seconds(self.datadir) - db_cpu
        with self.wrk_log.open("a") as output:
            output.write(f"$ {' '.join(argv)} <key> {tag}\n{result.stdout}{result.stderr}\n")
        found = [x for x in result.stdout.splitlines() if x.startswith("BENCH_RESULT ")]
        if result.returncode != 0 or not found:
            raise SystemExit(f"wrk failed on {endpoint.name}: {result.stderr.strip()}")
        raw = json.loads(found[0].split(" ", 1)[1])
        return {
            "rps": raw["requests"] / (raw["duration_us"] / 1e6),
            "p50": raw["p50_us"] / 1000,
            "p99": raw["p99_us"] / 1000,
            "cpu": cpu * 1000 / max(raw["requests"], 1),
            "db_cpu": db_cpu * 1000 / max(raw["requests"], 1),
            "non_2xx": raw["non_2xx"],
            "socket_errors": raw["socket_errors"],
        }

    def compare(self, endpoint: Endpoint, sides: list[Side]) -> dict[str, dict]:
        """Warm-up, then the repeats, the sides back to back; medians and totals."""
        files = {}
        for side in sides:
            files[side.name] = self.workdir / f"{endpoint.name}-{side.name}.txt"
            lines = endpoint.requests(side, random.Random(endpoint.name))
            files[side.name].write_text("\n".join(lines) + "\n")
            self.run(endpoint, side, files[side.name], ARGS.warmup)
        runs: dict[str, list[dict]] = {side.name: [] for side in sides}
        for repeat in range(ARGS.repeats):
            for side in sides if repeat % 2 == 0 else sides[::-1]:
                measured = self.run(endpoint, side, files[side.name], ARGS.duration)
                runs[side.name].append(measured)
                log(
                    f"  {endpoint.name} {side.name} #{repeat + 1}: {measured['rps']:.0f} req/s, "
                    f"p50 {measured['p50']:.2f} ms, p99 {measured['p99']:.2f} ms, "
                    f"CPU {measured['cpu']:.2f} + PostgreSQL {measured['db_cpu']:.2f} ms/req, "
                    f"non-2xx {measured['non_2xx']}"
                )
        return {name: summarize(measured) for name, measured in runs.items()}


def summarize(runs: list[dict]) -> dict:
    medians = {
        key: statistics.median(r[key] for r in runs)
        for key in ("rps", "p50", "p99", "cpu", "db_cpu")
    }
    return medians | {key: sum(r[key] for r in runs) for key in ("non_2xx", "socket_errors")}


def settle(url: str) -> None:
    """Vacuum both databases and checkpoint before an endpoint is measured, so that the
    autovacuum and checkpoint that the previous endpoint's writes are owed are not paid
    during this one's runs, on whichever side happens to be measured then."""
    for name in ("bench_project", "bench_peer"):
        with psycopg.connect(common.in_database(url, name), autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
            conn.execute("CHECKPOINT")


def facts(admin_url: str) -> list[str]:
    with psycopg.connect(admin_url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    commit = common.commit("%h %cs")
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True
    ).stdout.strip()
    model = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
    cpu = model[1] if model else "?"
    return [
        f"commit {commit}" + (" with uncommitted changes" if dirty else ""),
        f"{cpu}, {os.cpu_count()} cores; PostgreSQL {server} (scripts/postgres.sh)",
        f"{ARGS.bookings:,} bookings per side; gunicorn {ARGS.workers} sync workers per "
        f"server; wrk {ARGS.threads} threads, {ARGS.connections} connections; {ARGS.warmup} s "
        f"warm-up, then {ARGS.repeats} × {ARGS.duration} s per server; medians",
    ]


def ms(value: float) -> str:
    return f"{value:.2f} ms"


def report(results: dict, loads: dict, cpu: list[str], head: list[str]) -> tuple[str, bool]:
    sides = [side for measured in results.values() for side in measured.values()]
    errors = any(side["non_2xx"] or side["socket_errors"] for side in sides)
    lines = [*head, "", "## Against the peer", ""]
    lines += [
        "| endpoint | req/s project | req/s peer | ratio (≥ 2×) | p50 project / peer "
        "| p99 project / peer | CPU/req app, PostgreSQL: project / peer "
        "| non-2xx, socket errors | load |",
        "|---|---:|---:|---:|---|---|---|---|---:|",
    ]
    for endpoint in ENDPOINTS:
        measured = results.get(endpoint.name, {})
        if "peer" not in measured:
            continue
        ours, peer = measured["project"], measured["peer"]
        ratio = ours["rps"] / peer["rps"]
        met = ratio >= endpoint.min_ratio and ours["p99"] < peer["p99"]
        lines.append(
            f"| {endpoint.label} | {ours['rps']:,.0f} | {peer['rps']:,.0f} | {ratio:.2f}×"
            f"{'' if met else ' **(budget missed)**'} | {ms(ours['p50'])} / {ms(peer['p50'])} "
            f"| {ms(ours['p99'])} / {ms(peer['p99'])} | {ours['cpu']:.2f}, {ours['db_cpu']:.2f} "
            f"/ {peer['cpu']:.2f}, {peer['db_cpu']:.2f} ms "
            f"| {ours['non_2xx']}, {ours['socket_errors']} / {peer['non_2xx']}, "
            f"{peer['socket_errors']} | {loads[endpoint.name]:.2f} |"
        )
    baselined = [e for e in ENDPOINTS if e.baseline and e.name in results]
    if baselined:
        lines += ["", "## Against the project's own baseline, same run", ""]
        lines += [
            "| endpoint | req/s | baseline | its req/s | ratio | budget "
            "| CPU/req app + PostgreSQL: endpoint / baseline |",
            "|---|---:|---|---:|---:|---|---|",
        ]
        for endpoint in baselined:
            ours = results[endpoint.name]["project"]
            base = results[endpoint.baseline]["project"]
            lines.append(
                f"| {endpoint.label} | {ours['rps']:,.0f} | {endpoint.baseline} "
                f"| {base['rps']:,.0f} | {ours['rps'] / base['rps']:.2f}× "
                f"| ≥ {endpoint.min_ratio:.2f}× | {ours['cpu'] + ours['db_cpu']:.2f} / "
                f"{base['cpu'] + base['db_cpu']:.2f} ms |"
            )
    if ARGS.variants:
        lines += ["", "## Variants of the project, same run", ""]
        lines += [f"- `{name}`: {VARIANTS[name][1]}" for name in ARGS.variants]
        lines += ["", "| endpoint | server | req/s | ratio to project | p50 | p99 "]
        lines[-1] += "| CPU/req app, PostgreSQL |\n|---|---|---:|---:|---:|---:|---:|"
        for endpoint in ENDPOINTS:
            for name in ["project", *ARGS.variants]:
                if name in results.get(endpoint.name, {}):
                    got, ours = results[endpoint.name][name], results[endpoint.name]["project"]
                    lines.append(
                        f"| {endpoint.label} | {name} | {got['rps']:,.0f} "
                        f"| {got['rps'] / ours['rps']:.2f}× | {ms(got['p50'])} "
                        f"| {ms(got['p99'])} | {got['cpu']:.2f}, {got['db_cpu']:.2f} ms |"
                    )
    lines += [
        "",
        "## App CPU per request, in-process (bench/app_cpu.py; budget: change_status ≤ 3.0 ms)",
        "",
    ]
    lines += [f"- {found}" for found in cpu]
    return "\n".join(lines) + "\n", errors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, help="per side (3000; --quick 500)")
    parser.add_argument("--duration", type=int, help="seconds a measured run (10; --quick 3)")
    parser.add_argument("--warmup", type=int, help="seconds (3; --quick 1)")
    parser.add_argument("--repeats", type=int, help="measured runs a server (3; --quick 1)")
    parser.add_argument("--only", help="endpoint names, with commas")
    parser.add_argument("--variants", default="", help=f"of: {', '.join(VARIANTS)}")
    parser.add_argument("--cpu-endpoints", default="change_status", help="for bench/app_cpu.py")
    parser.add_argument("--port", type=int, default=54361)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="wrk's")
    parser.add_argument("--connections", type=int, default=8, help="wrk's")
    parser.add_argument("--peer", type=Path, default=PEER)
    parser.add_argument("--peer-venv", type=Path, default=Path("/var/tmp/bench-peer-venv"))
    quick = {"bookings": 500, "duration": 3, "warmup": 1, "repeats": 1}
    full = {"bookings": 3000, "duration": 10, "warmup": 3, "repeats": 3}
    args = common.arguments(parser, quick, full)
    args.variants = [name for name in args.variants.split(",") if name]
    if unknown := set(args.variants) - set(VARIANTS):
        parser.error(f"--variants: unknown {', '.join(unknown)}")
    return args


def prepare_tools() -> None:
    if not shutil.which("wrk"):
        log("installing Debian's wrk")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True)
    if not (ARGS.peer_venv / "bin" / "gunicorn").exists():
        log(f"making the peer's venv in {ARGS.peer_venv}")
        subprocess.run([sys.executable, "-m", "venv", str(ARGS.peer_venv)], check=True)
        pip = [str(ARGS.peer_venv / "bin" / "pip"), "install", "-q", *PEER_PACKAGES]
        subprocess.run(pip, check=True)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    prepare_tools()
    workdir = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    sides = [Side(name) for name in ("project", "peer", *ARGS.variants)]
    try:
        with common.postgres(ARGS.port) as (url, datadir):
            try:
                return benchmark(url, datadir, workdir, *sides)
            finally:
                for side in sides:
                    side.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def benchmark(url: str, datadir: Path, workdir: Path, project, peer, *variants) -> int:
    started = dt.datetime.now(dt.UTC)
    chosen = set(ARGS.only.split(",")) if ARGS.only else {e.name for e in ENDPOINTS}
    chosen |= {e.baseline for e in ENDPOINTS if e.name in chosen and e.baseline}
    selected = [e for e in ENDPOINTS if e.name in chosen]
    run_dir = RESULTS / f"peer-{started:%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True)
    peer_copy = workdir / "peer"
    shutil.copytree(ARGS.peer, peer_copy, ignore=shutil.ignore_patterns("__pycache__"))
    admin_url = common.in_database(url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in ("bench_project", "bench_peer"):
            conn.execute(f"CREATE DATABASE {name}")
    where = {
        "project": (sys.executable, ROOT),
        "peer": (ARGS.peer_venv / "bin" / "python", peer_copy),
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    base |= {k: common.PRODUCTION[k] for k in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")}
    database = {name: {"DATABASE_URL": common.in_database(url, f"bench_{name}")} for name in where}
    envs = {
        "project": base | common.PRODUCTION | database["project"],
        "peer": base | {"DJANGO_DEBUG": "0"} | database["peer"],
    }

    def variant_env(name: str) -> dict:
        settings = VARIANTS[name][0] if name in VARIANTS else {}
        return envs["project"] | {k: v.format(workdir=workdir) for k, v in settings.items()}

    for side in (project, peer, *variants):
        python, cwd = where.get(side.name, where["project"])
        env = envs["peer"] if side is peer else variant_env(side.name)
        if side in (project, peer):
            common.manage("migrate", "--no-input", env=env, python=python, cwd=cwd)
            for role, business in BUSINESSES.items():
                token = ["create_api_token", f"--business={business}", f"--username=bench-{role}"]
                key = common.manage(*token, env=env, python=python, cwd=cwd)
                side.keys[role] = key.strip().splitlines()[-1]
        else:
            side.keys = project.keys
        gunicorn = [python, "-m", "gunicorn", "config.wsgi:application"]
        if side is not peer:  # as the README serves it in production
            gunicorn += ["--config", "config/gunicorn.py"]
        side.start(gunicorn, env, cwd, run_dir / f"{side.name}.log")
    seed([project, peer], ARGS.bookings)
    for variant in variants:
        variant.bookings = project.bookings

    load, results, loads = Load(workdir, run_dir / "wrk.log", datadir), {}, {}
    for endpoint in selected:
        sides = [project, *variants] + ([peer] if endpoint.peer else [])
        if endpoint.seed:
            for side in [project] + ([peer] if endpoint.peer else []):
                endpoint.seed(side)
            for variant in variants:
                variant.made = project.made
        settle(url)
        log(f"measuring {endpoint.name}")
        loads[endpoint.name] = os.getloadavg()[0]
        results[endpoint.name] = load.compare(endpoint, sides)
    for side in (project, peer, *variants):
        side.stop()

    cpu = []
    for name in ["project", *ARGS.variants]:
        env = variant_env(name)
        for endpoint in filter(None, ARGS.cpu_endpoints.split(",")):
            log(f"app CPU in-process: {endpoint} ({name})")
            argv = [sys.executable, ROOT / "bench" / "app_cpu.py", "--endpoint", endpoint]
            out = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
            cpu.append(f"{name}: {(out.stdout or out.stderr).strip().splitlines()[-1]}")

    command = " ".join(["bench/peer.py", *sys.argv[1:]])
    head = [f"# HTTP benchmark: the project against the peer, {started:%Y-%m-%d %H:%M} UTC", ""]
    head += [f"`{command}`", "", *(f"- {fact}" for fact in facts(admin_url))]
    now = os.getloadavg()[0]
    head.append(f"- load average (1 min): {LOAD_BEFORE:.2f} at the start, {now:.2f} at the end")
    markdown, errors = report(results, loads, cpu, head)
    (RESULTS / f"{run_dir.name}.md").write_text(markdown)
    print(markdown)
    log(f"written to bench/results/{run_dir.name}.md; wrk output and logs in {run_dir.name}/")
    if errors:
        log("some requests failed (non-2xx or socket errors): see the wrk log")
    return 1 if errors else 0


if __name__ == "__main__":
    ARGS = parse_args()
    LOAD_BEFORE = os.getloadavg()[0]
    sys.exit(main())
