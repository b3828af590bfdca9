"""The pool checks a connection before handing it out (CONN_HEALTH_CHECKS, on unless
DB_POOL_CHECK=0): after a database restart the dead connections are found and
replaced, and the service answers again on its own. Meanwhile a request may wait up to
DB_POOL_TIMEOUT and answer 503 with Retry-After, never a 500."""

import time

import psycopg
import pytest
from django.db import connection

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the pool is PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]


def take_connections(times: int) -> None:
    """What `times` requests do: take a connection from the pool, use it, give it back."""
    for _ in range(times):
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    connection.close()


@pytest.fixture
def fresh_pool_afterwards():
    yield
    connection.close()
    connection.close_pool()  # the next tests start from a pool of live connections


@pytest.mark.usefixtures("fresh_pool_afterwards")
def test_after_the_server_drops_the_pooled_connections_requests_recover_on_their_own(api):
    assert connection.pool is not None, "the PostgreSQL settings configure a pool"
    take_connections(6)
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"],
        password=settings["PASSWORD"],
        autocommit=True,
    ) as admin:
        # What a database restart does to the pooled connections.
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    assert killed, "the pool held connections to kill"
    time.sleep(0.1)
    connection.close()

    answers = []
    deadline = time.monotonic() + 30
    while answers[-3:] != [200, 200, 200]:
        assert time.monotonic() < deadline, f"no recovery: {answers}"
        response = api.get("/v2/bookings")
        connection.close()
        answers.append(response.status_code)
        if response.status_code == 503:
            assert response["Retry-After"] == "1"
    assert set(answers) <= {200, 503}
