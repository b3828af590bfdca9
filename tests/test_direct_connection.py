"""DATABASE_DIRECT_URL: migrate and the webhook worker's LISTEN reach PostgreSQL itself,
past PgBouncer, while every other query keeps DATABASE_URL's address and pool."""

import socket
import threading

import psycopg
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.db.backends.signals import connection_created

from core.direct_connection import direct_connection_params
from tests.conftest import requires_postgresql
from webhooks.worker import NOTIFY_CHANNEL, _Listener

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def a_closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_itself(settings) -> dict:
    """The server's own address (DATABASE_DIRECT's when the run has one, as CI's pass
    through PgBouncer does), spelt `localhost`, so that a session opened there is told
    apart from the usual ones, on 127.0.0.1."""
    direct = settings.DATABASE_DIRECT or connection.settings_dict
    return {**settings.DATABASE_DIRECT, "HOST": "localhost", "PORT": direct["PORT"]}


@pytest.fixture
def hosts_connected_to():
    """The HOST of each connection Django opens."""
    hosts = []

    def opened(sender, connection, **kwargs):
        hosts.append(connection.settings_dict["HOST"])

    connection_created.connect(opened)
    yield hosts
    connection_created.disconnect(opened)


def test_migrate_connects_to_the_direct_address_then_gives_the_usual_one_back(
    settings, hosts_connected_to
):
    usual_host = connection.settings_dict["HOST"]
    settings.DATABASE_DIRECT = server_itself(settings)

    call_command("migrate", "--check", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    assert usual_host != "localhost"
    assert hosts_connected_to == ["localhost", usual_host]
    assert connection.settings_dict["HOST"] == usual_host
    assert "pool" in connection.settings_dict["OPTIONS"]


def test_migrate_fails_when_the_direct_address_does_not_answer(settings):
    port = a_closed_port()
    settings.DATABASE_DIRECT = {"HOST": "127.0.0.1", "PORT": port}

    with pytest.raises(OperationalError, match=str(port)):
        call_command("migrate", verbosity=0)

    with connection.cursor() as cursor:  # the usual address is back
        cursor.execute("SELECT 1")


def test_the_direct_parameters_keep_the_database_name_and_leave_the_pool_out(settings):
    settings.DATABASE_DIRECT = {"HOST": "localhost", "PORT": 5999, "USER": "listener"}

    params = direct_connection_params(connection)

    assert (params["host"], params["port"], params["user"]) == ("localhost", 5999, "listener")
    assert params["dbname"] == connection.settings_dict["NAME"]
    assert {"pool", "cursor_factory"}.isdisjoint(params)


def test_the_worker_listens_on_the_direct_address(settings):
    settings.DATABASE_DIRECT = server_itself(settings)
    settings.WEBHOOK_WORKER_LISTEN = True
    listener = _Listener(threading.Event())
    try:
        listener.wait(0.1)  # connects and LISTENs
        assert listener.connection.info.host == "localhost"
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        notified = list(listener.connection.notifies(timeout=5, stop_after=1))
        assert [notice.channel for notice in notified] == [NOTIFY_CHANNEL]
    finally:
        listener.close()


def test_without_a_direct_address_the_direct_parameters_are_the_usual_ones(settings):
    settings.DATABASE_DIRECT = {}

    params = direct_connection_params(connection)

    with psycopg.connect(**params) as session:
        assert session.info.host == connection.settings_dict["HOST"]
        assert session.info.dbname == connection.settings_dict["NAME"]
