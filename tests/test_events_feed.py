"""The events feed, GET /v2/events (SPEC §8.2, §13), and Event.objects.record."""

import datetime as dt
import time

import pytest
from django.db import transaction

from events.models import FILTERED_PAGE_EXAMINES, Event, EventType

# Committed transactions: on PostgreSQL an event shows only once its transaction ended.
pytestmark = pytest.mark.django_db(transaction=True)

AUTH = 1  # the token lookup (token, user and business in one join)


def wait_until_visible(timeout: float = 120) -> None:
    """On PostgreSQL an event shows once every transaction older than its own has ended,
    on the whole server: other databases' transactions (another test run's) included."""
    deadline = time.monotonic() + timeout
    while Event.objects.exclude(pk__in=Event.objects.visible().values("pk")).exists():
        assert time.monotonic() < deadline, "a transaction on the server has run for minutes"
        time.sleep(0.05)


def record(business, type=EventType.BOOKING_UPDATED, **data) -> Event:
    event = Event.objects.record(business.id, type, data or {"n": 0})
    wait_until_visible()
    return event


def add_events(business, count: int, type=EventType.BOOKING_UPDATED) -> list[Event]:
    events = Event.objects.bulk_create(
        Event(business=business, type=type, data={"n": n}) for n in range(count)
    )
    wait_until_visible()
    return events


def ids(body) -> list[str]:
    return [event["id"] for event in body["results"]]


def test_record_writes_one_event_of_a_known_type(business):
    event = Event.objects.record(business.id, EventType.STATUS_DELETED, {"status": {"id": 1}})

    stored = Event.objects.get()
    assert (stored.pk, stored.business_id, stored.type) == (event.pk, business.id, "status.deleted")
    assert stored.data == {"status": {"id": 1}}


def test_record_refuses_an_unknown_type_and_writes_nothing(business):
    with pytest.raises(ValueError, match="booking.renamed"):
        Event.objects.record(business.id, "booking.renamed", {})
    assert not Event.objects.exists()


def test_the_known_types_are_those_of_the_spec():
    assert set(EventType.values) == {
        "booking.created",
        "booking.updated",
        "booking.status_changed",
        "booking.deleted",
        "booking.hold_expiring",
        "status.created",
        "status.updated",
        "status.deleted",
        "appointment.created",
        "appointment.updated",
        "appointment.status_changed",
        "resource.created",
        "resource.updated",
        "business.updated",
    }


def test_an_event_keeps_its_payload_s_key_order(business):
    # jsonb would hand these back sorted ("a" before "zebra"): SPEC §17.
    data = {"zebra": 1, "a": {"y": None, "b": "2025-01-10"}, "middle": [3, {"z": 1, "c": 2}]}
    Event.objects.record(business.id, EventType.BOOKING_UPDATED, data)

    stored = Event.objects.get()
    assert list(stored.data) == ["zebra", "a", "middle"]
    assert list(stored.data["a"]) == ["y", "b"]
    assert list(stored.data["middle"][1]) == ["z", "c"]


def test_the_feed_lists_the_callers_events_oldest_first_as_envelopes(api, business, other_business):
    moment = dt.datetime(2025, 1, 15, 14, 30, 0, 123000, tzinfo=dt.UTC)
    first = Event.objects.create(
        business=business, type="booking.created", data={"booking": {"id": 7}}, created_at=moment
    )
    wait_until_visible()
    record(other_business)
    second = record(business, EventType.STATUS_UPDATED, status={"statusId": 3})

    response = api.get("/v2/events")

    assert response.status_code == 200
    body = response.json()
    assert body["results"][0] == {
        "id": f"evt_{first.pk}",
        "type": "booking.created",
        "timestamp": "2025-01-15T14:30:00.123000Z",
        "business_id": business.id,
        "data": {"booking": {"id": 7}},
    }
    assert ids(body) == [first.public_id, second.public_id]
    assert body["last_id"] == second.public_id
    assert body["next"] is None


def test_an_empty_feed_has_no_last_id(api):
    assert api.get("/v2/events/").json() == {"results": [], "next": None, "last_id": None}


def test_a_rolled_back_change_leaves_no_event(api, business):
    def failing_change():
        with transaction.atomic():
            Event.objects.record(business.id, EventType.BOOKING_CREATED, {"booking": {"id": 1}})
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()

    assert api.get("/v2/events").json()["results"] == []


def test_pages_follow_next_and_after_to_the_end(api, business):
    events = add_events(business, 5)

    first = api.get("/v2/events?page_size=2").json()
    assert ids(first) == [e.public_id for e in events[:2]]
    assert first["last_id"] == events[1].public_id
    assert "after=" + events[1].public_id in first["next"]
    assert "page_size=2" in first["next"]

    second = api.get(first["next"]).json()
    assert ids(second) == [e.public_id for e in events[2:4]]

    last = api.get(f"/v2/events?page_size=2&after={second['last_id']}").json()
    assert ids(last) == [events[4].public_id]
    assert last["next"] is None, "no URL when nothing lies beyond the page"

    caught_up = api.get(f"/v2/events?after={last['last_id']}").json()
    assert caught_up == {"results": [], "next": None, "last_id": events[4].public_id}


def test_a_full_last_page_has_no_next(api, business):
    add_events(business, 2)
    assert api.get("/v2/events?page_size=2").json()["next"] is None


def test_page_size_defaults_to_100_and_is_capped_at_500(api, business):
    add_events(business, 501)

    assert len(api.get("/v2/events").json()["results"]) == 100
    assert len(api.get("/v2/events?page_size=9999").json()["results"]) == 500


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "١٢"])
def test_a_page_size_that_is_not_a_positive_whole_number_is_a_400(api, value):
    response = api.get(f"/v2/events?page_size={value}")
    assert response.status_code == 400
    assert list(response.json()) == ["page_size"]


@pytest.mark.parametrize(
    "query",
    [
        "type=status.updated&type=booking.created",
        "type=status.updated,booking.created",
        "type=status.updated, booking.created,",
    ],
)
def test_type_filters_one_repeated_or_comma_separated(api, business, query):
    created = record(business, EventType.BOOKING_CREATED)
    record(business, EventType.BOOKING_UPDATED)
    updated = record(business, EventType.STATUS_UPDATED)

    assert ids(api.get(f"/v2/events?{query}").json()) == [created.public_id, updated.public_id]


def test_an_unknown_type_is_a_400_naming_type(api):
    response = api.get("/v2/events?type=booking.created,booking.renamed")
    assert response.status_code == 400
    assert list(response.json()) == ["type"]
    assert "booking.renamed" in response.json()["type"][0]


def test_with_a_type_filter_last_id_is_the_last_event_examined(api, business):
    wanted = record(business, EventType.BOOKING_DELETED)
    skipped = add_events(business, 3)

    body = api.get("/v2/events?type=booking.deleted").json()

    assert ids(body) == [wanted.public_id]
    assert body["last_id"] == skipped[-1].public_id, "the next poll starts after what was read"
    assert body["next"] is None


def test_a_sparse_filter_examines_a_bounded_window_and_says_there_is_more(api, business):
    skipped = add_events(business, FILTERED_PAGE_EXAMINES)
    wanted = record(business, EventType.BOOKING_DELETED)

    first = api.get("/v2/events?type=booking.deleted").json()
    assert first["results"] == []
    assert first["last_id"] == skipped[-1].public_id
    assert first["next"] is not None

    second = api.get(first["next"]).json()
    assert ids(second) == [wanted.public_id]
    assert second["next"] is None


def test_a_filtered_page_that_fills_stops_at_its_last_event(api, business):
    wanted = [record(business, EventType.BOOKING_CREATED) for _ in range(2)]
    add_events(business, 2)

    body = api.get("/v2/events?type=booking.created&page_size=2").json()

    assert ids(body) == [e.public_id for e in wanted]
    assert body["last_id"] == wanted[-1].public_id
    assert body["next"] is not None, "events remain beyond the page, matching or not"


def test_after_empty_is_a_400_naming_after(api):
    response = api.get("/v2/events?after=")
    assert response.status_code == 400
    assert list(response.json()) == ["after"]


def test_a_parameter_given_twice_is_a_400(api, business):
    event = record(business)
    response = api.get(f"/v2/events?after={event.public_id}&after={event.public_id}")
    assert response.status_code == 400
    assert list(response.json()) == ["after"]


def test_an_unknown_query_parameter_is_a_400(api):
    response = api.get("/v2/events?since=evt_1")
    assert response.status_code == 400
    assert list(response.json()) == ["since"]


@pytest.mark.parametrize(
    "after", ["evt_999999", "evt_abc", "999", "evt_", "evt_-1", "evt_99999999999999999999"]
)
def test_an_unknown_or_malformed_after_is_gone(api, business, after):
    record(business)
    response = api.get(f"/v2/events?after={after}")
    assert response.status_code == 410
    assert "resume from the start" in response.json()["after"][0].lower()


def test_another_business_event_id_is_gone(api, other_business):
    theirs = record(other_business)
    assert api.get(f"/v2/events?after={theirs.public_id}").status_code == 410


def test_a_purged_after_is_gone(api, business):
    purged, kept = record(business), record(business)
    Event.objects.filter(pk=purged.pk).delete()

    assert api.get(f"/v2/events?after={purged.public_id}").status_code == 410
    assert api.get(f"/v2/events?after={kept.public_id}").status_code == 200


@pytest.mark.query_budget("get", "/v2/events")
@pytest.mark.parametrize("count", [3, 30])
@pytest.mark.parametrize("filtered", [False, True])
def test_a_page_costs_the_same_whatever_its_length(
    api, business, django_assert_num_queries, count, filtered
):
    events = add_events(business, count + 1)
    query = "&type=booking.updated" if filtered else ""

    with django_assert_num_queries(AUTH + 1):  # the page
        assert len(api.get(f"/v2/events?page_size=500{query}").json()["results"]) == count + 1
    with django_assert_num_queries(AUTH + 2):  # the `after` event, then the page
        response = api.get(f"/v2/events?page_size=500&after={events[0].public_id}{query}")
    assert len(response.json()["results"]) == count
