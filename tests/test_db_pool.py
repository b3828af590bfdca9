"""The pool checks a connection before handing it out (CONN_HEALTH_CHECKS, on unless
DB_POOL_CHECK=0): after a database restart, requests get live connections."""

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


def test_after_the_server_drops_the_pooled_connections_a_request_gets_a_live_one(api):
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

    for _ in range(4):  # every connection the pool held is dead: each is replaced
        assert api.get("/v2/bookings").status_code == 200
        connection.close()
