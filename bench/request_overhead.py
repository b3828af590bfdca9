"""What the request id, the request log and the metrics add to one request, in CPU.

    .venv/bin/python bench/request_overhead.py [--requests 20000] [--rounds 5]

Runs core.middleware's RequestIdMiddleware and RequestLogMiddleware around a view that
does nothing, on a request resolved to change_status's URL pattern with a user of a
business (as DRF leaves it), in this process and without a database, and prints the
CPU time per request of: the bare view (the baseline), + the request id, + the JSON
request log (to a file), + the metrics (prometheus-client in multiprocess mode, files
in a temporary directory, removed at the end), and the metrics with the log off. Best
of `--rounds`, the cases interleaved. The difference to the baseline is what each
adds to every request; compare it with change_status's CPU per request
(bench/http/django_helper.py profile).
"""

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
WORKDIR = Path(tempfile.mkdtemp(prefix="request-overhead-"))
# Before prometheus-client is imported: it picks its storage then.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(WORKDIR)
os.environ["LOG_FORMAT"] = "json"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import resolve  # noqa: E402

from core.middleware import RequestIdMiddleware, RequestLogMiddleware  # noqa: E402

PATH = "/v2/bookings/12345/change_status"


def view(request):
    request.resolver_match = resolve(PATH)
    request.user = SimpleNamespace(business_id=100_001)
    return HttpResponse(b"{}", content_type="application/json")


CASES = {
    "bare view (baseline)": (view, False, False),
    "+ request id": (RequestIdMiddleware(view), False, False),
    "+ request id + JSON request log": (
        RequestIdMiddleware(RequestLogMiddleware(view)),
        True,
        False,
    ),
    "+ request id + JSON request log + metrics": (
        RequestIdMiddleware(RequestLogMiddleware(view)),
        True,
        True,
    ),
    "+ request id + metrics, log off": (
        RequestIdMiddleware(RequestLogMiddleware(view)),
        False,
        True,
    ),
}


def cpu_per_request(handler, requests: list) -> float:
    started = time.process_time()
    for request in requests:
        handler(request)
    return (time.process_time() - started) * 1e6 / len(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    access = logging.getLogger("access")
    log_file = (WORKDIR / "access.log").open("a")
    for handler in logging.getLogger().handlers:
        handler.setStream(log_file)
    factory = RequestFactory()
    resolve(PATH)  # the resolver's caches, as in a warm worker
    best = {name: float("inf") for name in CASES}
    try:
        for _ in range(args.rounds):
            for name, (handler, logs, metrics) in CASES.items():
                access.setLevel(logging.INFO if logs else logging.WARNING)
                settings.METRICS_ENABLED = metrics
                requests = [factory.post(PATH) for _ in range(args.requests)]
                best[name] = min(best[name], cpu_per_request(handler, requests))
    finally:
        log_file.close()
        shutil.rmtree(WORKDIR, ignore_errors=True)
    baseline = best["bare view (baseline)"]
    print(f"{'case':<45} {'µs CPU/request':>15} {'added':>8}")
    for name, micros in best.items():
        print(f"{name:<45} {micros:>15.1f} {micros - baseline:>8.1f}")
    print(f"(best of {args.rounds} × {args.requests:,} requests)")


if __name__ == "__main__":
    main()
