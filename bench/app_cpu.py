"""The app's own CPU per request, in-process: the WSGI app gunicorn serves, no socket.

    DATABASE_URL=postgres://... .venv/bin/python bench/app_cpu.py [--endpoint change_status]
        [--requests 1000] [--rounds 5] [--profile 30]

Sets Django up with the environment's settings (bench/peer.py runs it with the server's
production settings, on the benchmark's database), makes a business of its own (id
--business) with an API token and --bookings bookings (POST /v2/bookings through the app),
then sends --requests requests --rounds times and prints the best round's CPU time per
request (time.process_time of this process: PostgreSQL's work is not in it). With
--profile N it then prints cProfile's top N functions by cumulative and by own time, to
see where the time goes. Budget (issue 23): change_status ≤ 3.0 ms.

To measure another endpoint, add to REQUESTS a function of (booking ids, random, the
business's id) that returns (method, path, JSON body or None).
"""

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMPED = ("tentative", "definite", "lost")

SUB_STATUSES = itertools.count()
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
    "booking_detail": lambda ids, rng, business: ("GET", f"/v2/bookings/{rng.choice(ids)}", None),
    "booking_list": lambda ids, rng, business: ("GET", "/v2/bookings?status=tentative", None),
}


def wsgi_call(application, method: str, path: str, key: str, body: dict | None = None):
    """(status line, body bytes) of one request handed to `application` as gunicorn
    hands it over from 127.0.0.1."""
    payload = json.dumps(body).encode() if body is not None else b""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Token {key}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(payload)),
        "wsgi.input": io.BytesIO(payload),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    answer = {}
    result = application(environ, lambda status, headers, exc_info=None: answer.update(s=status))
    try:
        content = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return answer["s"], content


def load_application():
    """Django set up with the environment's settings, and the WSGI app gunicorn serves."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import logging
    import warnings

    warnings.filterwarnings("ignore", "No directory at")  # no collectstatic: the API needs none
    from config.wsgi import application

    # The request log is still written, as in production, but not onto the terminal.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - for the process's life
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", choices=REQUESTS, default="change_status")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--business", type=int, default=43190)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile rows")
    args = parser.parse_args()
    application = load_application()
    from accounts.services import issue_api_token

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
