"""Browser tests of the staff admin: Playwright drives Debian's Chromium against
pytest-django's live server.

One browser for the whole session (pytest-playwright's `browser` fixture, launched
with the options below); a fresh context, so fresh cookies, for every test. Nothing
is downloaded: the browser is the system's Chromium (scripts/install-os-packages.sh).
Without it these tests skip on a developer's machine and fail in CI (env CI set).
"""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from playwright.sync_api import Page

from accounts.models import Business, User

# Playwright's sync API keeps an asyncio event loop running in the main thread, and
# Django refuses ORM calls from a thread with a running loop. The tests' ORM calls are
# plain synchronous code between browser steps, so the check does not apply.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"
DEFAULT_TIMEOUT_MS = 10_000


def chromium_path() -> str | None:
    """CHROMIUM_EXECUTABLE if set, else Debian's /usr/bin/chromium, else `chromium`."""
    wanted = os.environ.get("CHROMIUM_EXECUTABLE", "/usr/bin/chromium")
    if Path(wanted).is_file() and os.access(wanted, os.X_OK):
        return wanted
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = chromium_path()
    if path is None:
        message = (
            "Chromium not found (set CHROMIUM_EXECUTABLE or run "
            "scripts/install-os-packages.sh); the browser tests need it."
        )
        if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, chromium_executable: str) -> dict:
    """pytest-playwright's launch options, on the system Chromium."""
    return {
        **browser_type_launch_args,
        "executable_path": chromium_executable,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Pages are opened by path on the live server (`page.goto("/admin/")`)."""
    return live_server.url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {
        **browser_context_args,
        "viewport": {"width": 1280, "height": 800},
        "locale": "en-US",
        "timezone_id": "UTC",
    }


@pytest.fixture
def page(context) -> Page:
    """A page that gives up after 10 s instead of Playwright's 30."""
    page = context.new_page()
    page.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    return page


@pytest.fixture
def make_staff(db) -> Callable[..., User]:
    """A staff user of `business` with every permission on the given apps' models."""

    def make(
        username: str, business: Business | None, *, apps: tuple[str, ...] = ("bookings",)
    ) -> User:
        user = User.objects.create_user(
            username=username, password=PASSWORD, business=business, is_staff=True
        )
        user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=apps))
        return user

    return make


@pytest.fixture
def log_in(live_server) -> Callable[[Page, User], None]:
    """Log a user in by giving the page's context a session cookie (the login form
    itself is tested once, in test_bookings_pages.py)."""

    def log_in_as(page: Page, user: User) -> None:
        client = Client()
        client.force_login(user)
        session_cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": session_cookie.value,
                    "url": live_server.url,
                }
            ]
        )

    return log_in_as
