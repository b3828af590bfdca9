"""Request guards that act before any view or parser runs, and Django's session,
authentication and message middleware made to step aside on the API's paths."""

from axes import middleware as axes
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import JsonResponse

from core.views import is_api_path


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


class AxesMiddleware(BrowserOnlyMixin, axes.AxesMiddleware):
    """Serves the admin's login lockout page; the API has no password login."""
