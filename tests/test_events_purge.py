"""purge_events (SPEC §8.1, §13): per business, only a leading run of the feed older
than the retention; never the newest event nor one a delivery still waits on."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.models import Event, EventType
from tests.test_events_feed import wait_until_visible
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint

# Committed transactions: on PostgreSQL an event shows only once its transaction ended.
pytestmark = pytest.mark.django_db(transaction=True)

OLD = timezone.now() - dt.timedelta(days=31)
RECENT = timezone.now() - dt.timedelta(days=29)


def events_at(business, *moments) -> list[Event]:
    events = Event.objects.bulk_create(
        Event(business=business, type=EventType.BOOKING_UPDATED, data={}, created_at=moment)
        for moment in moments
    )
    wait_until_visible()
    return events


def remaining(business) -> list[int]:
    return list(
        Event.objects.for_business(business.id).in_feed_order().values_list("pk", flat=True)
    )


def purge(*args) -> str:
    out = StringIO()
    call_command("purge_events", *args, stdout=out)
    return out.getvalue()


def delivery(event, status) -> Delivery:
    endpoint, _ = WebhookEndpoint.objects.get_or_create(
        business_id=event.business_id, url="https://hooks.example.com/"
    )
    return Delivery.objects.create(endpoint=endpoint, event=event, status=status)


def test_deletes_the_events_older_than_the_retention(business):
    old_one, old_two, recent = events_at(business, OLD, OLD, RECENT)

    assert "Deleted 2 events older than 30 days in 1 businesses" in purge()
    assert remaining(business) == [recent.pk]


def test_never_deletes_a_business_newest_event(business):
    events = events_at(business, OLD, OLD, OLD)

    purge()
    assert remaining(business) == [events[-1].pk]


def test_deletes_only_a_leading_run(business):
    first, recent, late_but_old = events_at(business, OLD, RECENT, OLD)

    purge()
    assert remaining(business) == [recent.pk, late_but_old.pk]


def test_stops_at_an_event_with_a_pending_delivery(business):
    first, waited_on, after_it, newest = events_at(business, OLD, OLD, OLD, OLD)
    delivery(waited_on, DeliveryStatus.PENDING)

    purge()
    assert remaining(business) == [waited_on.pk, after_it.pk, newest.pk]


@pytest.mark.parametrize("status", [DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED])
def test_settled_deliveries_go_with_their_events(business, status):
    settled, newest = events_at(business, OLD, OLD)
    delivery(settled, status)
    delivery(newest, status)

    assert "and 1 settled deliveries" in purge()
    assert remaining(business) == [newest.pk]
    assert list(Delivery.objects.values_list("event_id", flat=True)) == [newest.pk]


def test_each_business_is_purged_on_its_own_feed(business, other_business):
    ours = events_at(business, OLD, OLD)
    theirs = events_at(other_business, OLD, RECENT)

    assert "Deleted 2 events older than 30 days in 2 businesses" in purge()
    assert remaining(business) == [ours[-1].pk]
    assert remaining(other_business) == [theirs[-1].pk]


def test_the_retention_comes_from_the_settings(business, settings):
    settings.EVENT_RETENTION_DAYS = 60
    events = events_at(business, OLD, OLD)

    assert "older than 60 days" in purge()
    assert remaining(business) == [e.pk for e in events]


def test_dry_run_counts_and_deletes_nothing(business):
    events = events_at(business, OLD, OLD, RECENT)
    delivery(events[0], DeliveryStatus.SUCCEEDED)

    assert "Would delete 2 events older than 30 days in 1 businesses, and 1 settled" in purge(
        "--dry-run"
    )
    assert remaining(business) == [e.pk for e in events]
    assert Delivery.objects.count() == 1


def test_a_second_run_deletes_nothing(business):
    events_at(business, OLD, OLD, RECENT)
    purge()
    after_first = remaining(business)

    assert "Deleted 0 events" in purge()
    assert remaining(business) == after_first


@pytest.mark.parametrize("count", [3, 30])
def test_set_based_the_statements_do_not_grow_with_the_events(business, count):
    events_at(business, *[OLD] * count)
    with CaptureQueriesContext(connection) as captured:
        purge()
    assert remaining(business) != []
    # The business list, then per business: the run's last event, the settled
    # deliveries, the events (plus transaction control).
    statements = [
        q["sql"]
        for q in captured
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
    ]
    assert len(statements) == 4, statements


def test_a_client_that_read_everything_can_resume_after_a_purge(api, business):
    events_at(business, OLD, OLD, OLD)
    last_id = api.get("/v2/events").json()["last_id"]

    purge()

    response = api.get(f"/v2/events?after={last_id}")
    assert response.status_code == 200
    assert response.json() == {"results": [], "next": None, "last_id": last_id}


def test_a_client_behind_the_purge_hears_410(api, business):
    first, *_ = events_at(business, OLD, OLD, OLD)
    purge()

    assert api.get(f"/v2/events?after={first.public_id}").status_code == 410


def test_the_rule_stands_on_the_event_queryset_alone(business):
    old, newest = events_at(business, OLD, OLD)
    run = Event.objects.for_business(business.id).leading_run_older_than(
        timezone.now() - dt.timedelta(days=30), held=Delivery.objects.none().values("event_id")
    )
    assert list(run) == [old]
