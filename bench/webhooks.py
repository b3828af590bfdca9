"""Issue 15: one deliver_webhooks worker's deliveries/s against the receiver's ceiling
(≥ 200/s), commit-to-receipt latency at --rate changes/s (p50 ≤ 100 ms, p99 ≤ 1 s), and the
events feed's p99 at --feed-big events within 1.2× of --feed-small's; on a PostgreSQL of
its own.

    .venv/bin/python bench/webhooks.py [--quick]
"""

import argparse
import contextlib
import datetime as dt
import http.client
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time

import common
from common import load_average as load
from common import percentile

log = common.logger("webhooks")
# Events set-based: copies of one real change_status's event, for a business.
COPY_EVENT = """INSERT INTO events_event (business_id, type, data, created_at)
SELECT %s, type, data, now() FROM events_event, generate_series(1, %s) WHERE id = %s"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=54364)
    parser.add_argument("--deliveries", type=int, help="in part 1 (5000; --quick 1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="the worker's threads")
    parser.add_argument("--rate", type=float, default=50, help="changes a second in part 2")
    parser.add_argument("--seconds", type=float, help="of part 2 (20; --quick 5)")
    parser.add_argument("--feed-small", type=int, default=10_000)
    parser.add_argument("--feed-big", type=int, help="events (1000000; --quick 100000)")
    parser.add_argument("--feed-requests", type=int, help="pages a size (1000; --quick 300)")
    quick = {"deliveries": 1000, "seconds": 5, "feed_big": 100_000, "feed_requests": 300}
    full = {"deliveries": 5000, "seconds": 20, "feed_big": 1_000_000, "feed_requests": 1000}
    return common.arguments(parser, quick, full)


def ceiling(receiver: common.Receiver, body: bytes, count: int, threads: int) -> float:
    """The receiver's own ceiling: `threads` plain clients posting `body`, posts/s."""

    def post(share: int) -> None:
        for _ in range(share):
            connection = http.client.HTTPConnection("127.0.0.1", receiver.server_port, timeout=10)
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
    lines = [f"# Events and webhooks benchmark, {started:%Y-%m-%d %H:%M} UTC", ""]
    with contextlib.ExitStack() as cleanup:
        url, _ = cleanup.enter_context(common.postgres(args.port))
        environment = {
            **os.environ,
            "DATABASE_URL": url,
            "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1",
            "WEBHOOK_ALLOW_HTTP": "1",
            "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1",
        }
        os.environ.update(environment)
        common.manage("migrate", "--no-input", env=environment)
        common.django_app()
        from django.db import connection, transaction
        from django.db.models import Max, Min
        from django.test import Client

        from accounts.models import ApiToken, Business, User
        from bookings.models import Booking
        from core.renderers import JSONRenderer
        from events.models import Event
        from webhooks.models import WebhookEndpoint

        server_version = connection.cursor().connection.info.server_version
        facts = [
            f"`bench/webhooks.py {' '.join(sys.argv[1:])}`".replace(" `", "`"),
            f"commit {common.commit()}; {os.cpu_count()} cores; PostgreSQL "
            f"{server_version // 10000}.{server_version % 10000} (scripts/postgres.sh)",
        ]
        business = Business.objects.create(id=43111, name="Bench Venue")
        booking = Booking.objects.create(business=business, name="Spring wedding")
        booking.change_status("tentative")
        template = Event.objects.order_by("-id").first()
        receiver = common.Receiver()
        WebhookEndpoint.objects.create(business=business, url=receiver.url, event_types=["*"])

        # 1. Throughput.
        load_before = load()
        with connection.cursor() as cursor:
            cursor.execute(COPY_EVENT, [business.pk, args.deliveries, template.pk])
        log(f"part 1: {args.deliveries} events written; starting the worker")
        deliver = [sys.executable, "manage.py", "deliver_webhooks"]
        worker = subprocess.Popen(
            [*deliver, "--concurrency", str(args.concurrency)],
            cwd=common.ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cleanup.callback(worker.kill)  # a no-op once it has exited
        # The template's own event was written before the endpoint: not delivered.
        deadline = time.monotonic() + 60 + args.deliveries / 20
        while len(receiver.times) < args.deliveries and time.monotonic() < deadline:
            time.sleep(0.02)
        delivered = len(receiver.times) >= args.deliveries
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
        while time.monotonic() < deadline and not committed.keys() <= receiver.changes.keys():
            time.sleep(0.05)
        latencies = [
            (receiver.changes[pk] - at) * 1000
            for pk, at in committed.items()
            if pk in receiver.changes
        ]
        missing = len(committed) - len(latencies)
        log(
            f"part 2: {len(latencies)} received, p50 {percentile(latencies, 0.5):.1f} ms, "
            f"p99 {percentile(latencies, 0.99):.1f} ms"
        )
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
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
                    cursor.execute(COPY_EVENT, [feed_business.pk, batch, template.pk])
                have += batch
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE events_event")

        def measure_feed() -> list[float]:
            # The business's events were written one after another: ids in feed order,
            # from the first to the last. A list of a million ids would itself slow this
            # process's garbage collector, and show as the feed's tail.
            bounds = Event.objects.for_business(feed_business.pk).aggregate(
                first=Min("pk"), last=Max("pk")
            )
            ids = range(bounds["first"], bounds["last"] - 100)
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


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
