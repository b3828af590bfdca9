"""Events and webhooks benchmark (issue 15): one worker's deliveries per second,
commit-to-receipt latency, and the events feed at 10k vs 1M events.

    .venv/bin/python bench/webhooks.py            # 5,000 deliveries, 20 s at 50/s, 1M events
    .venv/bin/python bench/webhooks.py --quick    # development: ~2 minutes, 100k events

It starts a throwaway PostgreSQL with scripts/postgres.sh on 127.0.0.1 (`--port`,
54364), migrates it, and stops it whatever happens. Everything else runs here or in
one `manage.py deliver_webhooks` subprocess; all traffic stays on 127.0.0.1.

1. Throughput: `--deliveries` events are written set-based (INSERT … SELECT
   generate_series, copying the envelope data of one real change_status), one
   endpoint subscribes to them, and one worker process (`--concurrency` threads)
   delivers them to a threaded HTTP receiver in this process. Deliveries/s is counted
   from the first receipt to the last. Baseline, in the same run: the receiver's own
   ceiling, as many plain http.client threads posting the same bodies as fast as it
   takes them.
2. Latency: with the worker running, `--rate` changes/s through Booking.change_status
   for `--seconds`; for each, the time from its commit (change_status returned) to its
   receipt (the receiver matches `data.change.id`): p50, p99, max.
3. The feed: GET /v2/events?after=<random id>&page_size=100 through Django's test
   client (the whole stack, no socket), `--feed-requests` times, with one business's
   `--feed-small` events in the table, then again after it holds `--feed-big`; p50 and
   p99 at each, and their ratio. Events are generated set-based, 10,000 per
   transaction (so the feed has many transaction ids), then VACUUM ANALYZE.

Prints a Markdown table with the budgets, and the load average before and after each
part. Timings are measurements, never assertions.
"""

import argparse
import datetime as dt
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    print(f"[bench/webhooks] {message}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small, short development run")
    parser.add_argument("--port", type=int, default=54364, help="PostgreSQL port (54364)")
    parser.add_argument("--deliveries", type=int, help="events delivered in part 1 (5000)")
    parser.add_argument("--concurrency", type=int, default=8, help="worker threads (8)")
    parser.add_argument("--rate", type=float, default=50, help="changes per second (50)")
    parser.add_argument("--seconds", type=float, help="duration of part 2 (20)")
    parser.add_argument("--feed-small", type=int, default=10_000)
    parser.add_argument("--feed-big", type=int, help="events at the big size (1000000)")
    parser.add_argument("--feed-requests", type=int, help="feed pages per size (1000)")
    args = parser.parse_args()
    quick = {"deliveries": 1000, "seconds": 5, "feed_big": 100_000, "feed_requests": 300}
    full = {"deliveries": 5000, "seconds": 20, "feed_big": 1_000_000, "feed_requests": 1000}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Receiver:
    """A threaded HTTP server on 127.0.0.1 answering 200 to every POST; it notes when
    each arrived, by `webhook-id`, and by the status change's id when there is one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.change_received: dict[int, float] = {}
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                now = time.time()
                change = json.loads(body).get("data", {}).get("change") if body else None
                with receiver.lock:
                    receiver.times.append(now)
                    if change:
                        receiver.change_received.setdefault(change["id"], now)
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def reset(self) -> None:
        with self.lock:
            self.times.clear()
            self.change_received.clear()

    def wait_for(self, count: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if len(self.times) >= count:
                return True
            time.sleep(0.02)
        return False


def ceiling(receiver: Receiver, body: bytes, count: int, threads: int) -> float:
    """The receiver's own ceiling: `threads` plain clients posting `body`, posts/s."""

    def post(share: int) -> None:
        for _ in range(share):
            connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
            connection.request("POST", "/hook", body, {"content-type": "application/json"})
            connection.getresponse().read()
            connection.close()

    receiver.reset()
    workers = [threading.Thread(target=post, args=(count // threads,)) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (count // threads * threads) / (time.perf_counter() - started)


def main() -> int:
    args = parse_args()
    started = dt.datetime.now(dt.UTC)
    parent = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    parent.chmod(0o755)  # as root the server runs as `postgres`
    datadir = parent / "pgdata"
    postgres = [str(ROOT / "scripts" / "postgres.sh")]
    worker = None
    lines = [f"# Events and webhooks benchmark, {started:%Y-%m-%d %H:%M} UTC", ""]
    try:
        log(f"starting PostgreSQL on port {args.port}")
        started_pg = subprocess.run(
            [*postgres, "start", str(datadir), str(args.port)], check=True, capture_output=True
        )
        url = started_pg.stdout.decode().strip()
        environment = {
            **os.environ,
            "DATABASE_URL": url,
            "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1",
            "WEBHOOK_ALLOW_HTTP": "1",
            "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1",
        }
        os.environ.update(environment)
        migrate = [sys.executable, "manage.py", "migrate", "--no-input"]
        subprocess.run(migrate, cwd=ROOT, env=environment, check=True, stdout=subprocess.DEVNULL)
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.db import connection, transaction
        from django.test import Client

        from accounts.models import ApiToken, Business, User
        from bookings.models import Booking
        from core.renderers import JSONRenderer
        from events.models import Event
        from webhooks.models import WebhookEndpoint

        server_version = connection.cursor().connection.info.server_version
        commit = subprocess.run(["git", "log", "-1", "--format=%h"], cwd=ROOT, capture_output=True)
        facts = [
            f"`bench/webhooks.py {' '.join(sys.argv[1:])}`".replace(" `", "`"),
            f"commit {commit.stdout.decode().strip()}; {os.cpu_count()} cores; PostgreSQL "
            f"{server_version // 10000}.{server_version % 10000} (scripts/postgres.sh)",
        ]
        business = Business.objects.create(id=43111, name="Bench Venue")
        booking = Booking.objects.create(business=business, name="Spring wedding")
        booking.change_status("tentative")
        template = Event.objects.order_by("-id").first()
        receiver = Receiver()
        WebhookEndpoint.objects.create(business=business, url=receiver.url, event_types=["*"])

        # 1. Throughput.
        load_before = load()
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO events_event (business_id, type, data, created_at) "
                "SELECT business_id, type, data, now() FROM events_event, "
                "generate_series(1, %s) WHERE id = %s",
                [args.deliveries, template.pk],
            )
        log(f"part 1: {args.deliveries} events written; starting the worker")
        deliver = [sys.executable, "manage.py", "deliver_webhooks"]
        worker = subprocess.Popen(
            [*deliver, "--concurrency", str(args.concurrency)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # The template's own event was written before the endpoint: not delivered.
        delivered = receiver.wait_for(args.deliveries, 60 + args.deliveries / 20)
        times = sorted(receiver.times)
        rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        log(f"part 1: {len(times)} delivered, {rate:.0f}/s")
        body = JSONRenderer().render(template.envelope())
        baseline = ceiling(receiver, body, args.deliveries, args.concurrency)
        log(f"part 1: the receiver's ceiling {baseline:.0f} posts/s")
        load_after_1 = load()

        # 2. Commit-to-receipt latency.
        receiver.reset()
        bookings = [Booking.objects.create(business=business, name=f"b{n}") for n in range(50)]
        time.sleep(2)  # the worker is idle again, as in steady state
        committed: dict[int, float] = {}
        statuses = ["lead", "tentative", "definite", "lost"]
        interval = 1 / args.rate
        start = time.monotonic()
        for number in range(int(args.rate * args.seconds)):
            time.sleep(max(0.0, start + number * interval - time.monotonic()))
            change = random.choice(bookings).change_status(random.choice(statuses))
            committed[change.pk] = time.time()
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline and not committed.keys() <= receiver.change_received.keys()
        ):
            time.sleep(0.05)
        latencies = [
            (receiver.change_received[pk] - at) * 1000
            for pk, at in committed.items()
            if pk in receiver.change_received
        ]
        missing = len(committed) - len(latencies)
        log(
            f"part 2: {len(latencies)} received, p50 {percentile(latencies, 0.5):.1f} ms, "
            f"p99 {percentile(latencies, 0.99):.1f} ms"
        )
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        worker = None
        load_after_2 = load()

        # 3. The feed.
        feed_business = Business.objects.create(id=50222, name="Feed Venue")
        user = User.objects.create_user(username="bench-feed", business=feed_business)
        _, key = ApiToken.objects.issue(user)
        client = Client(HTTP_AUTHORIZATION=f"Token {key}")

        def grow_to(total: int) -> None:
            have = Event.objects.for_business(feed_business.pk).count()
            while have < total:
                batch = min(10_000, total - have)
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        "INSERT INTO events_event (business_id, type, data, created_at) "
                        "SELECT %s, type, data, now() FROM events_event, "
                        "generate_series(1, %s) WHERE id = %s",
                        [feed_business.pk, batch, template.pk],
                    )
                have += batch
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE events_event")

        def measure_feed() -> list[float]:
            ids = list(
                Event.objects.for_business(feed_business.pk)
                .in_feed_order()
                .values_list("pk", flat=True)
            )[:-100]
            for _ in range(20):  # warm-up
                client.get(f"/v2/events?after=evt_{random.choice(ids)}&page_size=100")
            timings = []
            for _ in range(args.feed_requests):
                path = f"/v2/events?after=evt_{random.choice(ids)}&page_size=100"
                begun = time.perf_counter()
                response = client.get(path)
                timings.append((time.perf_counter() - begun) * 1000)
                if response.status_code != 200 or len(response.json()["results"]) != 100:
                    raise SystemExit(f"feed: {path} answered {response.status_code}")
            return timings

        load_before_3 = load()
        log(f"part 3: {args.feed_small:,} events")
        grow_to(args.feed_small)
        small = measure_feed()
        log(f"part 3: growing to {args.feed_big:,} events")
        grown = time.monotonic()
        grow_to(args.feed_big)
        log(f"part 3: grown in {time.monotonic() - grown:.0f} s")
        big = measure_feed()
        load_after_3 = load()

        def ms(value: float) -> str:
            return f"{value:.2f} ms"

        feed_ratio = percentile(big, 0.99) / percentile(small, 0.99)
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        lines += [
            *(f"- {fact}" for fact in facts),
            f"- one worker process, `--concurrency {args.concurrency}`; receiver: "
            "ThreadingHTTPServer in the bench process",
            f"- load average (1, 5, 15 min): part 1 before {load_before}, after {load_after_1}; "
            f"part 2 after {load_after_2}; part 3 before {load_before_3}, after {load_after_3}",
            "",
            "| measure | figure | baseline | ratio | goal | met |",
            "|---|---:|---:|---:|---|---|",
            f"| deliveries/s, one worker, {args.deliveries:,} events"
            f"{'' if delivered else ' (NOT all delivered)'} | {rate:,.0f} | {baseline:,.0f} "
            f"(receiver ceiling) | {rate / baseline:.2f}× | ≥ 200/s | {rate >= 200} |",
            f"| commit→receipt p50 at {args.rate:g} changes/s, {args.seconds:g} s "
            f"({len(latencies)} received, {missing} missing) | {ms(p50)} | | | ≤ 100 ms "
            f"| {p50 <= 100} |",
            f"| commit→receipt p99 (max {ms(max(latencies))}) | {ms(p99)} | | | ≤ 1 s "
            f"| {p99 <= 1000} |",
            f"| feed page of 100 with `after`, p50 | {ms(percentile(big, 0.5))} at "
            f"{args.feed_big:,} | {ms(percentile(small, 0.5))} at {args.feed_small:,} "
            f"| {percentile(big, 0.5) / percentile(small, 0.5):.2f}× | | |",
            f"| feed page of 100 with `after`, p99 | {ms(percentile(big, 0.99))} at "
            f"{args.feed_big:,} | {ms(percentile(small, 0.99))} at {args.feed_small:,} "
            f"| {feed_ratio:.2f}× | ≤ 1.2× | {feed_ratio <= 1.2} |",
            "",
            f"Feed: {args.feed_requests} pages per size through Django's test client "
            "(in process, no socket), one business holding every event; mean "
            f"{statistics.mean(small):.2f} ms at the small size, {statistics.mean(big):.2f} ms "
            "at the big.",
        ]
        print("\n".join(lines))
        return 0
    finally:
        if worker is not None:
            worker.kill()
            worker.wait()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django never set up
            pass
        subprocess.run([*postgres, "stop", str(datadir)], capture_output=True)
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
