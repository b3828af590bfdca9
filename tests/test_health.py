"""/healthz and /readyz (SPEC §12): what a load balancer asks before sending traffic."""

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from rest_framework.test import APIClient

from core.health import Migrations


@pytest.fixture(autouse=True)
def migrations_not_yet_seen(monkeypatch):
    monkeypatch.setattr(Migrations, "all_applied", False)


@pytest.fixture
def database_down(monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", unreachable)


@pytest.mark.django_db
def test_healthz_answers_ok_without_a_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert "Set-Cookie" not in response


@pytest.mark.django_db
def test_healthz_answers_ok_while_the_database_is_down(client, database_down):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_answers_ok_when_the_database_answers_and_is_migrated(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_answers_503_naming_the_outage_while_the_database_is_down(client, database_down):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("the database does not answer")
    assert "Connection refused" in body["reason"]


@pytest.mark.django_db
def test_readyz_answers_503_naming_the_migrations_not_applied(client, monkeypatch):
    recorded = MigrationRecorder.applied_migrations
    [newest_events_migration] = MigrationLoader(None).graph.leaf_nodes("events")

    def without_the_newest(recorder):
        applied = recorded(recorder)
        applied.pop(newest_events_migration)
        return applied

    monkeypatch.setattr(MigrationRecorder, "applied_migrations", without_the_newest)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("migrations not applied: ")
    assert f"events.{newest_events_migration[1]}" in body["reason"]


@pytest.mark.django_db
def test_readyz_plans_migrations_until_none_is_pending_then_only_pings(
    client, monkeypatch, django_assert_num_queries
):
    assert client.get("/readyz").status_code == 200
    monkeypatch.setattr(
        MigrationRecorder, "applied_migrations", lambda recorder: pytest.fail("planned again")
    )

    with django_assert_num_queries(1):
        response = client.get("/readyz")

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_checks_need_no_token_and_ignore_a_wrong_one(path):
    anonymous, wrong_token = APIClient(), APIClient()
    wrong_token.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")

    # More calls than the failed-token throttle allows a client (30/min by default).
    answers = [client.get(path).status_code for client in (anonymous, wrong_token) * 20]

    assert answers == [200] * 40
