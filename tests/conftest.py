"""Shared fixtures: two businesses, a token-authenticated API client for each."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ApiToken, Business, User
from bookings.models import Booking

# The fake DNS of the webhook URL tests (fixture `fake_dns`).
pytest_plugins = ["tests.fake_dns"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def business(db) -> Business:
    return Business.objects.create(id=43111, name="Demo Venue")


@pytest.fixture
def other_business(db) -> Business:
    return Business.objects.create(id=50222, name="Rival Hall")


@pytest.fixture
def api_user(business) -> User:
    return User.objects.create_user(username="JoeSchmo", business=business)


def client_for(user: User) -> APIClient:
    _, key = ApiToken.objects.issue(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(api_user) -> APIClient:
    """An API client authenticated as a user of `business`."""
    return client_for(api_user)


@pytest.fixture
def other_api(other_business) -> APIClient:
    """An API client authenticated as a user of `other_business`."""
    return client_for(User.objects.create_user(username="Rival", business=other_business))


@pytest.fixture
def make_booking(business):
    def make(**fields) -> Booking:
        fields.setdefault("business", business)
        fields.setdefault("name", "Spring wedding")
        return Booking.objects.create(**fields)

    return make


def schema_operations(client) -> set[tuple[str, str]]:
    """(method, path) of every operation of the published OpenAPI schema, but the
    schema's own pages."""
    schema = client.get("/v2/schema?format=json").json()
    return {
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
        and not path.startswith(("/v2/schema", "/v2/docs"))
    }


requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: row locks and truly concurrent transactions",
)


def pytest_sessionstart(session):
    # CI's PostgreSQL pass must really run on PostgreSQL, or its concurrency tests
    # would be skipped without anyone noticing.
    import os

    if os.environ.get("CI_REQUIRE_POSTGRESQL") and connection.vendor != "postgresql":
        raise pytest.UsageError("CI_REQUIRE_POSTGRESQL is set but DATABASE_URL is not PostgreSQL")


def url_of_the_test_database() -> str:
    """The URL of the test database (PostgreSQL), for the real processes a test starts:
    they see what a transactional test commits."""
    database = connection.settings_dict
    return (
        f"postgres://{database['USER']}:{database['PASSWORD'] or ''}"
        f"@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )


def wait_for(condition, seconds: float, what: str) -> None:
    """Poll `condition` until it holds, at most `seconds`."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
