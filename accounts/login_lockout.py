"""The admin's login lockout (django-axes, configured in config/settings.py): which
client a failed login counts against, and the page a locked-out login gets."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.authentication import FailedAuthenticationThrottle


def client_address(request: HttpRequest) -> str | None:
    """The client as the API's failed-token throttle names it, so that one setting
    (API_NUM_PROXIES) decides both."""
    return FailedAuthenticationThrottle().get_ident(request)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The admin's own page (429) in place of axes' bare text."""
    context = {
        **admin.site.each_context(request),
        "title": "Login locked",
        "is_nav_sidebar_enabled": False,  # nobody is logged in: it would list nothing
        "username": (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD, ""),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "lockout_minutes": round(settings.AXES_COOLOFF_TIME.total_seconds() / 60),
    }
    return render(
        request, "admin/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE
    )
