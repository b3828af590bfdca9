"""The Django side of bench/http/run.py, run in a subprocess against the bench database.

    DATABASE_URL=... python bench/http/django_helper.py fork-half --first ID --count N
    DATABASE_URL=... python bench/http/django_helper.py prepare --first ID --out DIR
    DATABASE_URL=... python bench/http/django_helper.py queries --context FILE
    DATABASE_URL=... python bench/http/django_helper.py profile --endpoint NAME

- `fork-half`: forks the shared status list into every other business (ID, ID+2, ...),
  through statuses.services.fork_shared_statuses, as a business's first POST would.
- `prepare`: picks the businesses the benchmark uses, issues their API tokens (old
  benchmark tokens are deleted: keys are shown once, so every run issues its own),
  deletes the statuses earlier benchmark runs POSTed, and writes the data files the
  wrk scripts read. Prints the context as JSON on its last line.
- `profile --endpoint NAME [--floor] [--lines N]`: the benchmarked requests, sent in this
  process straight to the WSGI app gunicorn serves (Django's, or the floor's): CPU ms
  per request, and optionally cProfile's top N functions. Against a database a
  `run.py --reuse` left loaded:
      scripts/postgres.sh start /var/tmp/booking-status-bench-http 54349
      DATABASE_URL=postgres://postgres@127.0.0.1:54349/bench_http_1000000_1000 \\
          .venv/bin/python bench/http/django_helper.py profile --endpoint booking_list
      scripts/postgres.sh stop /var/tmp/booking-status-bench-http
- `queries`: each benchmarked request through Django's test client under
  CaptureQueriesContext (after one warm-up request), with the same settings the server
  runs with. Prints {"endpoint": {"queries": N, "status": code, "sql": [...]}} as JSON;
  N leaves out BEGIN/COMMIT/ROLLBACK, which Django logs as queries.
"""

import argparse
import cProfile
import json
import os
import pstats
import random
import secrets
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

# WhiteNoise warns that there is no collectstatic output: the API needs none.
warnings.filterwarnings("ignore", "No directory at")
django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import ApiToken, Business, User  # noqa: E402
from bench.in_process import wsgi_environ  # noqa: E402
from bookings.models import Booking  # noqa: E402
from statuses.models import Status  # noqa: E402
from statuses.services import fork_shared_statuses  # noqa: E402

TOKEN_NAME = "bench-http"
PROFILE_TOKEN_NAME = "bench-http-profile"
JSON = "application/json"
ENDPOINT_NAMES = (
    "change_status",
    "booking_detail",
    "booking_list",
    "status_get_forked",
    "status_get_shared",
    "status_post",
    "status_put",
)
USERNAME_PREFIX = "bench-http-"
# Statuses the benchmark POSTs are named "bench ..." so they can be removed.
POSTED_PREFIX = "bench "
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK"}


def fork_half(first: int, count: int) -> None:
    forked = 0
    for business_id in range(first, first + count, 2):
        if fork_shared_statuses(business_id, by="bench"):
            forked += 1
    print(json.dumps({"forked": forked}))


def has_own_list(business_id: int) -> bool:
    return Status.objects.for_business(business_id).exists()


def choose_roles(first: int) -> dict[str, int]:
    """Which business each part of the benchmark uses (the same ids in every database)."""
    business_ids = list(
        Business.objects.filter(id__gte=first).order_by("id").values_list("id", flat=True)
    )
    if len(business_ids) < 5:
        raise SystemExit("the benchmark needs at least 5 businesses")
    roles = {
        # Bookings endpoints and GET /status of a forked list.
        "bookings": business_ids[0],
        # GET /status of the shared list: a business without its own.
        "shared": next(b for b in business_ids if not has_own_list(b)),
        # POST /status (its first POST would fork: it is forked beforehand).
        "post": business_ids[2],
        # PUT /status on its own statuses.
        "put": business_ids[4],
    }
    for role in ("bookings", "post", "put"):
        fork_shared_statuses(roles[role], by="bench")
    return roles


def issue_keys(roles: dict[str, int], token_name: str) -> dict[str, str]:
    """A new API key for a user of each role's business."""
    keys = {}
    for role, business_id in roles.items():
        user, _ = User.objects.get_or_create(
            username=f"{USERNAME_PREFIX}{business_id}", defaults={"business_id": business_id}
        )
        _, keys[role] = ApiToken.objects.issue(user, name=token_name)
    return keys


def put_targets(business_id: int) -> list[tuple[int, str]]:
    """(sortOrder, the PUT body up to the sortOrder value) of each active own status."""
    targets = []
    for status in Status.objects.for_business(business_id).active().in_list_order():
        prefix = json.dumps(
            {
                "statusId": status.id,
                "businessId": business_id,
                "status": status.status,
                "subStatus": status.sub_status,
            },
            separators=(",", ":"),
        )
        targets.append((status.sort_order, prefix[:-1] + ',"sortOrder":'))
    return targets


def make_context(roles: dict[str, int], keys: dict[str, str]) -> dict:
    booking_ids = list(
        Booking.objects.for_business(roles["bookings"]).order_by("id").values_list("id", flat=True)
    )
    targets = put_targets(roles["put"])
    return {
        "database": connection.settings_dict["NAME"],
        "businesses": roles,
        "keys": keys,
        "booking_ids": booking_ids[:5] + booking_ids[-5:],
        "bookings_of_business": len(booking_ids),
        "put_target": {"sort_order": targets[0][0], "prefix": targets[0][1]},
        "all_booking_ids": booking_ids,
        "put_targets": targets,
    }


def prepare(first: int, out: Path) -> None:
    roles = choose_roles(first)
    Status.objects.filter(business_id=roles["post"], sub_status__startswith=POSTED_PREFIX).delete()
    ApiToken.objects.filter(user__username__startswith=USERNAME_PREFIX).delete()
    context = make_context(roles, issue_keys(roles, TOKEN_NAME))

    out.mkdir(parents=True, exist_ok=True)
    database = connection.settings_dict["NAME"]
    ids_file = out / f"booking-ids-{database}.txt"
    ids_file.write_text("".join(f"{pk}\n" for pk in context.pop("all_booking_ids")))
    targets_file = out / f"put-targets-{database}.txt"
    targets_file.write_text(
        "".join(f"{order}\t{prefix}\n" for order, prefix in context.pop("put_targets"))
    )
    context |= {"booking_ids_file": str(ids_file), "put_targets_file": str(targets_file)}
    print(json.dumps(context))


def benchmark_requests(context: dict) -> dict[str, tuple[str, str, str, dict | None]]:
    """endpoint name -> (role of the token, method, path, JSON body)."""
    booking_id = context["booking_ids"][0]
    target = context["put_target"]
    put_body = json.loads(target["prefix"] + str(target["sort_order"] + 1) + "}")
    return {
        "change_status": (
            "bookings",
            "POST",
            f"/v2/bookings/{booking_id}/change_status",
            {"status": "definite"},
        ),
        "booking_detail": ("bookings", "GET", f"/v2/bookings/{booking_id}", None),
        "booking_list": ("bookings", "GET", "/v2/bookings?status=tentative", None),
        "status_get_forked": ("bookings", "GET", "/status", None),
        "status_get_shared": ("shared", "GET", "/status", None),
        "status_post": (
            "post",
            "POST",
            "/status",
            {
                "statusId": None,
                "businessId": context["businesses"]["post"],
                "status": "OPEN",
                "subStatus": None,  # a new name for every request
            },
        ),
        "status_put": ("put", "PUT", "/status", put_body),
    }


def count_queries(context: dict) -> None:
    results = {}
    for name, (role, method, path, body) in benchmark_requests(context).items():
        client = Client(HTTP_AUTHORIZATION=f"Token {context['keys'][role]}")
        for _ in range(2):  # the first request warms up; the second is counted
            if name == "status_post":  # a new name each time, as the load sends
                body = {**body, "subStatus": f"{POSTED_PREFIX}queries {secrets.token_hex(4)}"}
            with CaptureQueriesContext(connection) as captured:
                response = client.generic(
                    method,
                    path,
                    json.dumps(body) if body is not None else "",
                    content_type=JSON,
                )
        statements = [query["sql"] for query in captured.captured_queries]
        results[name] = {
            # Django logs BEGIN and COMMIT too; they are not counted (savepoints are).
            "queries": sum(1 for sql in statements if sql not in TRANSACTION_CONTROL),
            "status": response.status_code,
            "sql": statements,
        }
    print(json.dumps(results))


def profile(first: int, endpoint: str, requests: int, rounds: int, lines: int, floor: bool) -> None:
    """CPU time per request of one endpoint in this process, through the WSGI app that
    gunicorn serves (Django's, or with --floor the floor's), without HTTP: the best of
    `rounds` rounds of `requests`. Then, unless `lines` is 0, cProfile's top functions
    (Django only). Bookings and statuses vary per request as the wrk scripts vary them.
    """
    if floor:
        os.environ["FLOOR_DATABASE_URL"] = os.environ["DATABASE_URL"]
        sys.path.insert(0, str(ROOT / "bench" / "http"))
        from floor_app import application
    else:
        from config.wsgi import application

    roles = choose_roles(first)
    keys = issue_keys(roles, PROFILE_TOKEN_NAME)
    context = make_context(roles, keys)
    role, method, path, body = benchmark_requests(context)[endpoint]
    booking_ids = list(Booking.objects.for_business(roles["bookings"]).values_list("id", flat=True))
    put_order = body["sortOrder"] if endpoint == "status_put" else 0
    connection.close()

    def next_request() -> dict:
        nonlocal put_order
        request_path, request_body = path, body
        if endpoint in ("change_status", "booking_detail"):
            request_path = path.replace(
                f"/{context['booking_ids'][0]}", f"/{random.choice(booking_ids)}", 1
            )
        if endpoint == "change_status":
            request_body = {"status": random.choice(["tentative", "definite", "lost"])}
        elif endpoint == "status_post":
            request_body = {**body, "subStatus": f"{POSTED_PREFIX}profile {secrets.token_hex(6)}"}
        elif endpoint == "status_put":
            put_order += 1 if put_order % 2 == 0 else -1
            request_body = {**body, "sortOrder": put_order}
        payload = json.dumps(request_body).encode() if request_body is not None else b""
        return wsgi_environ(method, request_path, body=payload, key=keys[role])

    def start_response(status: str, headers: list, exc_info=None) -> None:
        if not status.startswith("2"):
            raise SystemExit(f"{endpoint}: HTTP {status}")

    def send(count: int) -> None:
        for _ in range(count):
            result = application(next_request(), start_response)
            b"".join(result)
            getattr(result, "close", lambda: None)()

    try:
        send(200)
        best = min(cpu_per_request(send, requests) for _ in range(rounds))
        server = "floor" if floor else "django"
        print(
            f"{endpoint} ({server}): {best:.3f} ms CPU per request, in-process "
            f"(best of {rounds} x {requests})"
        )
        if lines and not floor:
            profiler = cProfile.Profile(time.process_time)
            profiler.runcall(send, requests)
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(lines)
            stats.sort_stats("tottime").print_stats(lines)
    finally:
        ApiToken.objects.filter(name=PROFILE_TOKEN_NAME).delete()
        Status.objects.filter(
            business_id=roles["post"], sub_status__startswith=f"{POSTED_PREFIX}profile "
        ).delete()


def cpu_per_request(send, requests: int) -> float:
    started = time.process_time()
    send(requests)
    return (time.process_time() - started) * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fork = commands.add_parser("fork-half")
    fork.add_argument("--first", type=int, required=True)
    fork.add_argument("--count", type=int, required=True)
    prep = commands.add_parser("prepare")
    prep.add_argument("--first", type=int, required=True)
    prep.add_argument("--out", type=Path, required=True)
    queries = commands.add_parser("queries")
    queries.add_argument("--context", type=Path, required=True)
    prof = commands.add_parser("profile")
    prof.add_argument("--endpoint", required=True, choices=ENDPOINT_NAMES)
    prof.add_argument("--first", type=int, default=100_001)
    prof.add_argument("--requests", type=int, default=1000)
    prof.add_argument("--rounds", type=int, default=5)
    prof.add_argument("--lines", type=int, default=0, help="cProfile rows (0: none)")
    prof.add_argument("--floor", action="store_true", help="the floor app instead")
    args = parser.parse_args()
    if args.command == "fork-half":
        fork_half(args.first, args.count)
    elif args.command == "prepare":
        prepare(args.first, args.out)
    elif args.command == "queries":
        count_queries(json.loads(args.context.read_text()))
    else:
        profile(args.first, args.endpoint, args.requests, args.rounds, args.lines, args.floor)


if __name__ == "__main__":
    main()
