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


@pytest.fixture
def shared_statuses(db) -> None:
    """The shared default status list, as its migration installs it. A transactional
    test may start on a database that an earlier one flushed; the migration's function
    skips what is there."""
    import importlib

    from django.apps import apps as django_apps

    migration = importlib.import_module("statuses.migrations.0002_shared_default_statuses")
    migration.install_shared_defaults(django_apps, None)


@pytest.fixture
def chair(business):
    """An active resource of `business`."""
    from appointments.actions import create_resource

    return create_resource(business.id, name="Chair 1")


@pytest.fixture
def book(api, chair):
    """POST /v2/appointments for `business` (on `chair` unless told otherwise, 09:00 to
    09:30 UTC on 2025-03-04 unless told otherwise); returns the response."""

    def make(**fields):
        body = {
            "resource_id": chair.pk,
            "starts_at": "2025-03-04T09:00:00Z",
            "ends_at": "2025-03-04T09:30:00Z",
            "client_name": "Ada Lovelace",
            **fields,
        }
        return api.post("/v2/appointments", body, format="json")

    return make


def appointment_rows(business) -> dict:
    """Every row an appointment write may touch, as it is: compared before and after a
    refused request, which must write nothing."""
    from appointments.models import Appointment, AppointmentStatusChange, Resource
    from events.models import Event
    from statuses.models import Status

    return {
        model.__name__: list(model.objects.filter(business=business).order_by("pk").values())
        for model in (Appointment, AppointmentStatusChange, Resource, Status, Event)
    }


def own_status(business, status: str, sub_status: str | None = None):
    """The business's own status `status` / `sub_status` (the same name by default)."""
    from statuses.models import Status

    return Status.objects.get(business=business, status=status, sub_status=sub_status or status)
