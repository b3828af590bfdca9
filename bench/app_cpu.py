"""The app's CPU per request in-process (the WSGI app gunicorn serves, no socket; the
best of --rounds × --requests by process time, PostgreSQL's work not in it), on a business
of its own. Budget (issue 23): change_status ≤ 3.0 ms. --profile N: cProfile's top N.

    DATABASE_URL=postgres://... .venv/bin/python bench/app_cpu.py [--endpoint change_status]
"""

import argparse
import cProfile
import itertools
import json
import pstats
import random
import time

from common import django_app, wsgi_call

STAMPED = ("tentative", "definite", "lost")

SUB_STATUSES = itertools.count()
BUDGET_REASON = []  # the shared "budget" reason's id, once Django is set up
# Each: (booking ids, random, business id) -> (method, path, JSON body or None).
REQUESTS = {
    "status_post": lambda ids, rng, business: (
        "POST",
        "/status",
        {"businessId": business, "status": "OPEN", "subStatus": f"CPU {next(SUB_STATUSES)}"},
    ),
    "change_status": lambda ids, rng, business: (
        "POST",
        f"/v2/bookings/{rng.choice(ids)}/change_status",
        {"status": rng.choice(STAMPED)},
    ),
    "lost": lambda ids, rng, business: (
        "POST",
        f"/v2/bookings/{rng.choice(ids)}/change_status",
        {"status": "lost"},
    ),
    "lost_with_reason": lambda ids, rng, business: (
        "POST",
        f"/v2/bookings/{rng.choice(ids)}/change_status",
        {"status": "lost", "lost_reason_id": BUDGET_REASON[0], "lost_note": "Went elsewhere"},
    ),
    "status_get": lambda ids, rng, business: ("GET", "/status", None),
    "booking_detail": lambda ids, rng, business: ("GET", f"/v2/bookings/{rng.choice(ids)}", None),
    "booking_list": lambda ids, rng, business: ("GET", "/v2/bookings?status=tentative", None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", choices=REQUESTS, default="change_status")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--business", type=int, default=43190)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile rows")
    args = parser.parse_args()
    application = django_app()
    from accounts.services import issue_api_token
    from bookings.models import LostReason

    BUDGET_REASON.append(LostReason.objects.get(business=None, code="budget").pk)

    _, key = issue_api_token(
        business_id=args.business, username="bench-app-cpu", business_name=None
    )
    rng = random.Random(23)
    ids = []
    for number in range(args.bookings):
        body = {"name": f"CPU {number}", "status": STAMPED[number % 3]}
        status, content = wsgi_call(application, "POST", "/v2/bookings", key, body)
        if not status.startswith("201"):
            raise SystemExit(f"creating a booking: {status} {content[:300]!r}")
        ids.append(json.loads(content)["id"])

    def send(count: int) -> None:
        for _ in range(count):
            method, path, body = REQUESTS[args.endpoint](ids, rng, args.business)
            status, content = wsgi_call(application, method, path, key, body)
            if not status.startswith("2"):
                raise SystemExit(f"{args.endpoint}: {status} {content[:300]!r}")

    def cpu_ms(count: int) -> float:
        started = time.process_time()
        send(count)
        return (time.process_time() - started) * 1000 / count

    send(100)  # warm-up: the pool's connections, prepared statements, caches
    best = min(cpu_ms(args.requests) for _ in range(args.rounds))
    print(
        f"{args.endpoint}: {best:.2f} ms app CPU per request, in-process "
        f"(best of {args.rounds} × {args.requests})"
    )
    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(send, args.requests)
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
