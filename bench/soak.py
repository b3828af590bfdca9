"""Ordinary life for a while (issue 26): `.venv/bin/python bench/soak.py [--minutes 30]`.

On a throwaway PostgreSQL (scripts/postgres.sh, 127.0.0.1, `--port`), on loopback: a
gunicorn app server, one `manage.py deliver_webhooks`, `manage.py run_schedules` when
that command exists, and here a webhook receiver that refuses 10% of attempts and
`--clients` API clients sending `--rate` requests a second in all (change_status,
detail, list, bulk change_status of 20, create; weights in MIX). Retries come sooner
than in production (RETRY_SCHEDULE), so that the refusals drain within the run.

Every `--sample` seconds it records each process's RSS and the delivery backlog. Then
it stops the load, lets the backlog drain (at most `--drain` s) and reports requests and
latency by kind, the 5xx count (must be 0), events written against events received
(each at least once), the backlog, and RSS over time (flat after `--warm-up` minutes),
printed and written to bench/results/soak-<UTC timestamp>.md (git-ignored).
"""

import argparse
import contextlib
import datetime as dt
import http.client
import http.server
import json
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

import psycopg

ROOT = Path(__file__).resolve().parents[1]
MIX = {"change_status": 40, "detail": 25, "list": 15, "create": 12, "bulk": 8}
STATUSES = ["lead", "tentative", "definite", "lost"]
RETRY_SCHEDULE = "1,2,4,8,16,30,60"
FAILURE_RATE = 0.10


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--port", type=int, default=54391, help="PostgreSQL's port")
    parser.add_argument("--app-port", type=int, default=8765)
    parser.add_argument("--app-workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=25, help="requests per second, in all")
    parser.add_argument("--sample", type=float, default=10, help="seconds between samples")
    parser.add_argument("--warm-up", type=float, default=2, help="minutes before RSS counts")
    parser.add_argument("--drain", type=float, default=180, help="seconds to drain the backlog")
    return parser.parse_args()


class Receiver(http.server.BaseHTTPRequestHandler):
    """Takes webhooks (served by a ThreadingHTTPServer); refuses a random 10% with 500."""

    received: set[str] = set()
    counts: Counter = Counter()
    lock = threading.Lock()

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        refuse = random.random() < FAILURE_RATE
        with self.lock:
            self.counts.update(attempts=1, refused=refuse)
            if not refuse:
                self.received.add(self.headers["webhook-id"])
        self.send_response(500 if refuse else 204)
        self.end_headers()

    def log_message(self, *args):  # quiet
        return


class Client(threading.Thread):
    """One API client sending a request every `interval` seconds until `stop` is set
    (a connection per request: gunicorn's sync workers close them)."""

    def __init__(self, port, key, booking_ids: list[int], stop: threading.Event, interval=0.0):
        super().__init__(daemon=True)
        self.port, self.key, self.ids, self.stop, self.interval = (
            port,
            key,
            booking_ids,
            stop,
            interval,
        )
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.codes: Counter = Counter()

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        connection.request(method, path, json.dumps(body) if body else None, headers)
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        return response.status, (json.loads(payload) if payload else {})

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


def manage(env: dict, *command: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def soak(args: argparse.Namespace, database_url: str, logs: Path) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_LOG_LEVEL": "WARNING"}
    env.update(WEBHOOK_ALLOW_HTTP="1", WEBHOOK_ALLOW_PRIVATE_HOSTS="1")
    env.update(WEBHOOK_RETRY_SCHEDULE=RETRY_SCHEDULE)
    manage(env, "migrate", "--no-input")
    key = manage(env, "create_api_token", "--business", "43111", "--username", "soak")
    key = key.strip().splitlines()[-1]
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()

    commands = {
        "app": ["-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
        + ["--workers", str(args.app_workers), "--bind", f"127.0.0.1:{args.app_port}"],
        "webhooks": ["manage.py", "deliver_webhooks"],
    }
    if "run_schedules" in manage(env, "help", "--commands").split():
        commands["scheduler"] = ["manage.py", "run_schedules"]
    else:
        log("manage.py run_schedules does not exist yet: the scheduler is left out")
    processes = {}
    for name, command in commands.items():
        output = (logs / f"{name}.log").open("w")
        processes[name] = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, env=env, stdout=output, stderr=output
        )

    seeding = Client(args.app_port, key, [], threading.Event())
    receiver_url = f"http://127.0.0.1:{receiver.server_port}/"
    for _ in range(150):  # until the app server answers
        with contextlib.suppress(OSError):
            code, endpoint = seeding.call("POST", "/v2/webhook_endpoints", {"url": receiver_url})
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
    return report(args, clients, samples, written, failed, load_seconds)


def report(args, clients, samples, events, failed, load_seconds) -> str:
    latencies, codes = defaultdict(list), Counter()
    for client in clients:
        codes.update(client.codes)
        for kind, values in client.latencies.items():
            latencies[kind] += values
    server_errors = sum(count for code, count in codes.items() if code >= 500)
    missing = events - Receiver.received
    attempts, refused = Receiver.counts["attempts"], Receiver.counts["refused"]
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
        values = sorted(latencies[kind]) or [0.0]
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
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
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        os.chmod(scratch, 0o755)  # the server runs as `postgres` when we are root
        data, postgres = Path(scratch) / "pg", ROOT / "scripts" / "postgres.sh"
        started = subprocess.run(
            [postgres, "start", data, str(args.port)], capture_output=True, text=True
        )
        if started.returncode:
            raise SystemExit(f"PostgreSQL did not start:\n{started.stderr}")
        try:
            summary = soak(args, started.stdout.strip().splitlines()[-1], Path(scratch))
        finally:
            subprocess.run([postgres, "stop", data], capture_output=True)
    print(summary)
    path = ROOT / "bench" / "results" / f"soak-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(summary)
    log(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
