"""On PostgreSQL a committed insert of events wakes the LISTENing webhook workers."""

import psycopg
import pytest
from django.db import connection, transaction

from core.direct_connection import direct_connection_params
from events.models import Event, EventType
from tests.conftest import requires_postgresql
from webhooks.worker import NOTIFY_CHANNEL


def listener() -> psycopg.Connection:
    listening = psycopg.connect(**direct_connection_params(connection), autocommit=True)
    listening.execute(f"LISTEN {NOTIFY_CHANNEL}")
    return listening


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_committed_event_notifies_and_a_rolled_back_one_does_not(business):
    listening = listener()
    try:
        with transaction.atomic():
            Event.objects.record(business.id, EventType.BOOKING_CREATED, {"booking": {}})
            transaction.set_rollback(True)
        assert list(listening.notifies(timeout=0.5)) == []

        Event.objects.record(business.id, EventType.BOOKING_CREATED, {"booking": {}})
        received = list(listening.notifies(timeout=2, stop_after=1))
        assert [notice.channel for notice in received] == [NOTIFY_CHANNEL]
    finally:
        listening.close()
