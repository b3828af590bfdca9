"""BrowserMiddleware: sessions, the logged-in user and messages run for the admin and
not for the API, and behave in the admin as they would in MIDDLEWARE."""

import pytest
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.test import Client, RequestFactory

from accounts.models import User
from config.middleware import BrowserMiddleware

pytestmark = pytest.mark.django_db


def test_api_requests_skip_the_browser_middleware(api, make_booking):
    booking = make_booking()

    response = api.get(f"/v2/bookings/{booking.pk}")

    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "_messages")
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
    assert hasattr(home.wsgi_request, "_messages")


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


class Recorder:
    """A middleware with every hook, noting each call in `calls` under its name."""

    calls: list[str] = []

    def __init__(self, get_response, name):
        self.get_response, self.name = get_response, name

    def __call__(self, request):
        self.calls.append(f"{self.name}:request")
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        self.calls.append(f"{self.name}:view")

    def process_exception(self, request, exception):
        self.calls.append(f"{self.name}:exception")

    def process_template_response(self, request, response):
        self.calls.append(f"{self.name}:template")
        return response


class First(Recorder):
    def __init__(self, get_response):
        super().__init__(get_response, "first")


class Second(Recorder):
    def __init__(self, get_response):
        super().__init__(get_response, "second")


@pytest.fixture
def recorded(settings):
    settings.BROWSER_MIDDLEWARE = [f"{__name__}.First", f"{__name__}.Second"]
    Recorder.calls = []
    return Recorder.calls


def run_every_hook(middleware: BrowserMiddleware, path: str) -> None:
    request = RequestFactory().get(path)
    middleware(request)
    middleware.process_view(request, lambda request: None, (), {})
    middleware.process_exception(request, ValueError())
    middleware.process_template_response(request, TemplateResponse(request, "unused.html"))


def test_pages_run_the_hooks_in_djangos_order(recorded):
    middleware = BrowserMiddleware(lambda request: HttpResponse())

    run_every_hook(middleware, "/admin/")

    assert recorded == [
        "first:request",
        "second:request",
        "first:view",
        "second:view",
        "second:exception",
        "first:exception",
        "second:template",
        "first:template",
    ]


def test_api_paths_run_none_of_the_hooks(recorded):
    middleware = BrowserMiddleware(lambda request: HttpResponse())

    run_every_hook(middleware, "/v2/bookings")
    run_every_hook(middleware, "/status")

    assert recorded == []


def test_a_hook_that_answers_stops_the_ones_after_it(recorded, monkeypatch):
    answer = HttpResponse("from the first")
    monkeypatch.setattr(First, "process_view", lambda *arguments: answer)
    middleware = BrowserMiddleware(lambda request: HttpResponse())

    request = RequestFactory().get("/admin/")
    response = middleware.process_view(request, lambda request: None, (), {})

    assert response is answer
    assert recorded == []
