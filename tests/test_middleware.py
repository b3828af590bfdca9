"""Sessions, the logged-in user and messages run for the admin and not for the API."""

import pytest
from django.contrib import messages
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_api_requests_skip_the_browser_middleware(api, make_booking):
    booking = make_booking()

    response = api.get(f"/v2/bookings/{booking.pk}")

    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    with pytest.raises(messages.MessageFailure):  # no message storage on the API
        messages.info(request, "unseen")
    assert "csrftoken" not in response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_api_responses_keep_the_security_headers_and_the_host_check(api, make_booking):
    booking = make_booking()

    response = api.get(f"/v2/bookings/{booking.pk}")
    refused = api.get(f"/v2/bookings/{booking.pk}", HTTP_HOST="attacker.example")

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert refused.status_code == 400


def test_the_admin_gets_sessions_and_messages():
    User.objects.create_superuser("owner", password="secret-password-1")
    browser = Client()

    login = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "owner", "password": "secret-password-1"},
    )
    home = browser.get("/admin/")

    assert login.status_code == 302
    assert "sessionid" in login.cookies
    assert home.status_code == 200
    assert home.wsgi_request.user.username == "owner"
    messages.info(home.wsgi_request, "stored")  # a message storage: no MessageFailure


def test_the_admin_login_enforces_csrf():
    User.objects.create_superuser("owner", password="secret-password-1")
    browser = Client(enforce_csrf_checks=True)

    forged = browser.post("/admin/login/", {"username": "owner", "password": "secret-password-1"})
    page = browser.get("/admin/login/")
    genuine = browser.post(
        "/admin/login/?next=/admin/",
        {
            "username": "owner",
            "password": "secret-password-1",
            "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
        },
    )

    assert forged.status_code == 403
    assert genuine.status_code == 302


def test_the_admin_s_system_checks_pass_without_silencing(settings):
    from django.core import checks

    assert settings.SILENCED_SYSTEM_CHECKS == []
    assert [message for message in checks.run_checks() if message.level >= checks.WARNING] == []
