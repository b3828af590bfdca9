"""Prometheus metrics (SPEC §12): requests by URL pattern, method and status with a
latency histogram, plus the collectors settings.METRICS_COLLECTORS names, which read
their figures at scrape time. `GET /metrics` serves them when METRICS_ENABLED.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn's several workers; config/gunicorn.py),
prometheus-client keeps each worker's counts in files there and a scrape sums them.
"""

import functools
import os

from django.conf import settings
from django.contrib.admindocs.utils import replace_named_groups, replace_unnamed_groups
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from rest_framework import authentication, exceptions, renderers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.renderers import JSONRenderer

# The route of a request no URL pattern matched (or one refused before routing, such
# as a 413): the raw path would let any client add label sets at will.
UNMATCHED_ROUTE = "unmatched"
KNOWN_METHODS = frozenset(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

REQUESTS = Counter(
    "http_requests",
    "Requests answered, by URL pattern, method and status.",
    ["route", "method", "status"],
)
REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Seconds from the request reaching Django to its response, by URL pattern and method.",
    ["route", "method"],
)


@functools.lru_cache(maxsize=1024)
def route_template(route: str) -> str:
    """A URL pattern as a label: `^v2/bookings/(?P<pk>[0-9]+)/change_status/?$` is
    `v2/bookings/<pk>/change_status`; path() routes stay as written."""
    template = replace_unnamed_groups(replace_named_groups(route))
    return template.removeprefix("^").removesuffix("$").removesuffix("/?")


def route_of(request) -> str:
    match = request.resolver_match
    return route_template(match.route) if match is not None else UNMATCHED_ROUTE


def method_label(method: str | None) -> str:
    return method if method in KNOWN_METHODS else "other"


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    REQUEST_DURATION.labels(route, method).observe(seconds)


def exposition() -> bytes:
    """Every metric in the Prometheus text format: this process's (or, in multiprocess
    mode, every worker's, summed), then the scrape-time collectors'."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    for path in settings.METRICS_COLLECTORS:
        registry.register(import_string(path)())
    return generate_latest(registry)


class PrometheusTextRenderer(renderers.BaseRenderer):
    media_type = "text/plain"
    format = "prometheus"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return data


class MetricsTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set; anything
    else (no header, another scheme, a wrong token) is a 401."""

    def authenticate(self, request):
        expected = settings.METRICS_TOKEN
        if not expected:
            return None
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not constant_time_compare(token.strip(), expected):
            raise exceptions.AuthenticationFailed(
                "Send the metrics token: Authorization: Bearer <METRICS_TOKEN>."
            )
        return None, token

    def authenticate_header(self, request) -> str:
        return "Bearer"


class MetricsView(APIView):
    """GET /metrics for Prometheus; 404 unless METRICS_ENABLED. No API token, no
    throttle: the metrics token alone guards it."""

    authentication_classes = [MetricsTokenAuthentication]
    permission_classes = []
    throttle_classes = []
    renderer_classes = [PrometheusTextRenderer]

    def initial(self, request, *args, **kwargs) -> None:
        if not settings.METRICS_ENABLED:
            raise exceptions.NotFound()
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc):
        # Refusals (406 included) are the API's JSON {"detail": ...}.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(exclude=True)  # for Prometheus, not for the API's clients
    def get(self, request) -> Response:
        return Response(exposition(), content_type=CONTENT_TYPE_LATEST)
