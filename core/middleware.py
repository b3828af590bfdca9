"""Request guards that act before any view or parser runs, and Django's session,
authentication and message middleware made to step aside on the API's paths, and the
request's id, log line and metrics."""

import logging
import re
import time
import uuid

from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import JsonResponse

from core import metrics
from core.logs import current_request_id
from core.views import is_api_path

request_logger = logging.getLogger("access")

# A client's X-Request-ID is kept only when it is this (SPEC §13): safe in a log line
# and a header, and short.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


class RequestIdMiddleware:
    """Gives the request an id: the client's X-Request-ID when it is sane, else a new
    one. It is `request.request_id`, in every log line written while serving the
    request (core.logs.RequestIdFilter), and the response's X-Request-ID, errors too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sent = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = sent if SANE_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        token = current_request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class RequestLogMiddleware:
    """Logs each request as one line (logger `access`, at INFO) and, when
    METRICS_ENABLED, counts it: its URL pattern (not the raw path), method, status,
    duration, and on the API the token's business."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        route = metrics.route_of(request)
        method = metrics.method_label(request.method)
        if settings.METRICS_ENABLED:
            metrics.observe_request(route, method, response.status_code, seconds)
        if request_logger.isEnabledFor(logging.INFO):
            # DRF sets the token's user on the request; off the API there is none to read
            # (the admin's session user would cost a query when no view loaded it).
            user = getattr(request, "user", None) if is_api_path(request.path_info) else None
            business_id = getattr(user, "business_id", None)
            request_logger.info(
                "%s %s %s %.1f ms business=%s request_id=%s",
                method,
                route,
                response.status_code,
                seconds * 1000,
                business_id,
                request.request_id,
                extra={
                    "method": method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 3),
                    "business_id": business_id,
                },
            )
        return response


class RequestBodyLimitMiddleware:
    """Refuses a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before it is
    read, going by its declared Content-Length."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(declared)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": f"Request body too large: {length} bytes; the limit is {limit}."},
                status=413,
            )
        return self.get_response(request)


class BrowserOnlyMixin:
    """Makes one of Django's middleware step aside on the API's paths.

    Sessions, the logged-in user and messages serve the admin and the other pages; the
    API authenticates each request by its token and sets no cookie, so it needs none
    of them. (CSRF protection runs on every path: DRF exempts the API's views itself.)
    """

    def __call__(self, request):
        if is_api_path(request.path_info):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(BrowserOnlyMixin, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(BrowserOnlyMixin, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(BrowserOnlyMixin, messages.MessageMiddleware):
    pass
