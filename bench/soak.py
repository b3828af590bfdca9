"""Ordinary life (issue 26): gunicorn, deliver_webhooks and run_schedules on a PostgreSQL
of its own, --clients sending --rate requests a second (MIX), a receiver refusing 10% of
webhooks. Reports latency by kind, 5xx (must be 0), every event received at least once,
the backlog after draining, and each process's RSS over time (flat after --warm-up).

    .venv/bin/python bench/soak.py [--minutes 30]
"""

import argparse
import contextlib
import datetime as dt
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import common
import psycopg

ROOT = common.ROOT
MIX = {"change_status": 40, "detail": 25, "list": 15, "create": 12, "bulk": 8}
STATUSES = ["lead", "tentative", "definite", "lost"]
RETRY_SCHEDULE = "1,2,4,8,16,30,60"
FAILURE_RATE = 0.10


log = common.logger("soak")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--port", type=int, default=54391)
    parser.add_argument("--app-port", type=int, default=8765)
    parser.add_argument("--app-workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=25)
    parser.add_argument("--sample", type=float, default=10)
    parser.add_argument("--warm-up", type=float, default=2)
    parser.add_argument("--drain", type=float, default=180)
    return parser.parse_args()


class Client(threading.Thread):
    """One API client sending a request every `interval` seconds until `stop` is set
    (a connection per request: gunicorn's sync workers close them)."""

    def __init__(self, port, key, booking_ids: list[int], stop: threading.Event, interval=0.0):
        super().__init__(daemon=True)
        self.port, self.key, self.ids, self.stop = port, key, booking_ids, stop
        self.interval = interval
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.codes: Counter = Counter()

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        return common.api(self.port, method, path, self.key, body, scheme="Bearer")

    def request_of(self, kind: str) -> tuple[str, str, dict | None]:
        booking, status = random.choice(self.ids), random.choice(STATUSES)
        bulk = {"ids": random.sample(self.ids[:500], 20), "status": status}
        return {
            "change_status": ("POST", f"/v2/bookings/{booking}/change_status", {"status": status}),
            "detail": ("GET", f"/v2/bookings/{booking}", None),
            "list": ("GET", f"/v2/bookings?status={status}", None),
            "create": ("POST", "/v2/bookings", {"name": f"Soak {random.randrange(10**6)}"}),
            "bulk": ("POST", "/v2/bookings/change_status", bulk),
        }[kind]

    def run(self):
        due = time.monotonic()
        while not self.stop.wait(max(0.0, due - time.monotonic())):
            due += self.interval
            kind = random.choices(list(MIX), list(MIX.values()))[0]
            started = time.perf_counter()
            try:
                code, body = self.call(*self.request_of(kind))
            except OSError:
                code, body = 0, {}  # no answer: counted as 0
            self.latencies[kind].append(time.perf_counter() - started)
            self.codes[code] += 1
            if kind == "create" and code == 201:
                self.ids.append(body["id"])


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, TypeError):  # exited meanwhile
            total += int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())[1])
    return total / 1024


def with_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(child) for child in children.read_text().split())]


def soak(args: argparse.Namespace, database_url: str, logs: Path) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_LOG_LEVEL": "WARNING"}
    env.update(WEBHOOK_ALLOW_HTTP="1", WEBHOOK_ALLOW_PRIVATE_HOSTS="1")
    env.update(WEBHOOK_RETRY_SCHEDULE=RETRY_SCHEDULE)
    common.manage("migrate", "--no-input", env=env)
    key = common.manage("create_api_token", "--business=43111", "--username=soak", env=env)
    key = key.strip().splitlines()[-1]
    receiver = common.Receiver(refuse=FAILURE_RATE)

    commands = {
        "app": ["-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
        + ["--workers", str(args.app_workers), "--bind", f"127.0.0.1:{args.app_port}"],
        "webhooks": ["manage.py", "deliver_webhooks"],
        "scheduler": ["manage.py", "run_schedules"],
    }
    processes = {}
    for name, command in commands.items():
        output = (logs / f"{name}.log").open("w")
        processes[name] = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, env=env, stdout=output, stderr=output
        )

    seeding = Client(args.app_port, key, [], threading.Event())
    for _ in range(150):  # until the app server answers
        with contextlib.suppress(OSError):
            code, endpoint = seeding.call("POST", "/v2/webhook_endpoints", {"url": receiver.url})
            break
        time.sleep(0.2)
    assert code == 201, endpoint
    ids = [seeding.call("POST", "/v2/bookings", {"name": f"Seed {n}"})[1]["id"] for n in range(200)]

    stop, samples = threading.Event(), []
    interval = args.clients / args.rate
    clients = [Client(args.app_port, key, ids, stop, interval) for _ in range(args.clients)]
    database = psycopg.connect(database_url, autocommit=True)
    pending = "SELECT count(*) FROM webhooks_delivery WHERE status = 'pending'"

    def sample(phase: str) -> None:
        pids = {name: [process.pid] for name, process in processes.items()}
        pids["app"] = with_children(processes["app"].pid)  # gunicorn and its workers
        pids["soak (clients, receiver)"] = [os.getpid()]
        [backlog] = database.execute(pending).fetchone()
        memory = {name: rss_mib(group) for name, group in pids.items()}
        samples.append(
            {"t": time.monotonic() - began, "phase": phase, "backlog": backlog, **memory}
        )

    began = time.monotonic()
    for client in clients:
        client.start()
    log(f"load for {args.minutes} min: {args.clients} clients, {args.rate} requests/s")
    while time.monotonic() - began < args.minutes * 60:
        sample("load")
        time.sleep(args.sample)
    stop.set()
    for client in clients:
        client.join(timeout=60)
    load_seconds = time.monotonic() - began
    log("load stopped; draining the webhook backlog")
    drain_until = time.monotonic() + args.drain
    sample("drain")
    while samples[-1]["backlog"] and time.monotonic() < drain_until:
        time.sleep(2)
        sample("drain")

    since_endpoint = "SELECT created_at FROM webhooks_webhookendpoint WHERE id = %s"
    events = database.execute(
        f"SELECT id FROM events_event WHERE created_at >= ({since_endpoint})", [endpoint["id"]]
    ).fetchall()
    [failed] = database.execute(pending.replace("'pending'", "'failed'")).fetchone()
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        process.wait(timeout=60)
    written = {f"evt_{pk}" for (pk,) in events}
    return report(args, clients, samples, written, failed, load_seconds, receiver)


def report(args, clients, samples, events, failed, load_seconds, receiver) -> str:
    latencies, codes = defaultdict(list), Counter()
    for client in clients:
        codes.update(client.codes)
        for kind, values in client.latencies.items():
            latencies[kind] += values
    server_errors = sum(count for code, count in codes.items() if code >= 500)
    missing = events - receiver.ids
    attempts, refused = receiver.counts["attempts"], receiver.counts["refused"]
    load = [s for s in samples if s["phase"] == "load"]
    lines = [
        f"# Soak, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: {args.minutes} min, "
        f"{args.rate} requests/s from {args.clients} clients, {args.app_workers} app "
        f"workers, {os.cpu_count()} cores",
        "",
        "| request | count | per s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in MIX:
        values = latencies[kind] or [0.0]
        p99 = common.percentile(values, 0.99)
        lines.append(
            f"| {kind} | {len(latencies[kind])} | {len(latencies[kind]) / load_seconds:.1f} "
            f"| {statistics.median(values) * 1000:.1f} | {p99 * 1000:.1f} |"
        )
    verdict = {True: "OK", False: "PROBLEM"}
    lines += [
        "",
        f"- answers by status code (0: no answer): {dict(sorted(codes.items()))}",
        f"- **5xx: {server_errors}** ({verdict[server_errors == 0]}: must be 0)",
        f"- events written: {len(events)}; received at least once: "
        f"{len(events) - len(missing)}; missing: **{len(missing)}** ({verdict[not missing]})",
        f"- webhook attempts: {attempts}, refused by the receiver: {refused} "
        f"({refused / max(attempts, 1):.1%}); deliveries failed for good: {failed}",
        f"- backlog (pending deliveries): max {max(s['backlog'] for s in samples)}, at the end "
        f"of the load {load[-1]['backlog']}, after draining {samples[-1]['backlog']} "
        f"({samples[-1]['t'] - load_seconds:.0f} s after the load)",
    ]
    names = [key for key in samples[0] if key not in {"t", "phase", "backlog"}]
    lines += ["", "RSS (MiB) over time:", "", "| t (s) | backlog | " + " | ".join(names) + " |"]
    lines.append("|---" * (len(names) + 2) + "|")
    step = max(1, len(load) // 20)
    for row in {id(row): row for row in [*load[::step], load[-1], samples[-1]]}.values():
        memory = " | ".join(f"{row[name]:.0f}" for name in names)
        lines.append(f"| {row['t']:.0f} | {row['backlog']} | {memory} |")
    warm = [s for s in load if s["t"] >= args.warm_up * 60] or load
    growth = ", ".join(f"{name} {warm[-1][name] - warm[0][name]:+.1f}" for name in names)
    lines += ["", f"RSS growth (MiB) from {warm[0]['t']:.0f} s to the end of the load: {growth}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = arguments()
    with common.postgres(args.port) as (url, _), tempfile.TemporaryDirectory() as logs:
        summary = soak(args, url, Path(logs))
    print(summary)
    path = ROOT / "bench" / "results" / f"soak-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(summary)
    log(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
