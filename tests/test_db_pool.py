"""The PostgreSQL backend (config/postgresql/base.py) checks a pooled connection before
handing it out only when it sat idle for `pool_check_idle` seconds."""

import time

import psycopg
import pytest
from django.db import connection

from config.postgresql import base as backend

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the pool is PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def checks(monkeypatch) -> list:
    """The connections the pool's check ran on, from here on."""
    checked = []
    real_check = backend.ConnectionPool.check_connection

    def counting_check(pooled):
        checked.append(pooled)
        real_check(pooled)

    monkeypatch.setattr(backend.ConnectionPool, "check_connection", staticmethod(counting_check))
    return checked


def take_connections(times: int) -> None:
    """What `times` requests do: take a connection from the pool, use it, give it back."""
    for _ in range(times):
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    connection.close()


def idle_window(monkeypatch, seconds: float) -> None:
    assert connection.pool is not None, "the PostgreSQL settings configure a pool"
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "pool_check_idle", seconds)


def test_a_connection_used_moments_ago_goes_out_unchecked(monkeypatch, checks):
    idle_window(monkeypatch, 60)
    take_connections(6)  # every pooled connection has now been used
    checks.clear()

    take_connections(4)

    assert checks == []


def test_with_no_idle_window_every_connection_is_checked(monkeypatch, checks):
    idle_window(monkeypatch, 0)

    take_connections(4)

    assert len(checks) == 4


def test_connections_that_sat_idle_are_checked_and_dead_ones_replaced(monkeypatch, checks):
    idle_window(monkeypatch, 0.05)
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
    checks.clear()

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)

    assert checks, "the idle connection was checked before it was handed out"
