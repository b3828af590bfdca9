"""Byte-stable answers (SPEC §17, issue 26 defect 6): an Idempotency-Key replay returns
the bytes of the first answer, and an event's payload keeps the key order of GET, on
both databases (PostgreSQL's jsonb would sort the keys)."""

import json

import pytest

from events.models import Event
from tests.test_events_feed import wait_until_visible

pytestmark = pytest.mark.django_db


def post(api, path, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(path, body, format="json", **headers)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/bookings", {"name": "Gala", "status": "tentative", "guest_count": 80}),
        ("/status", {"businessId": 43111, "status": "OPEN", "subStatus": "Ready for clients"}),
        (
            "/v2/webhook_endpoints",
            {"url": "https://hooks.example.com/in", "description": "CRM"},
        ),
    ],
)
@pytest.mark.usefixtures("fake_dns")
def test_a_replay_is_the_bytes_of_the_first_answer(api, path, body):
    first = post(api, path, body, key="replay-bytes")
    replay = post(api, path, body, key="replay-bytes")

    assert first.status_code in {200, 201}
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert replay.get("ETag") == first.get("ETag")


def test_a_change_status_replay_is_the_bytes_of_the_first_answer(api, make_booking):
    booking = make_booking(notes="Balcony")
    body = {"status": "definite", "status_at": "2025-01-15T14:30:00.250000Z"}
    path = f"/v2/bookings/{booking.pk}/change_status"

    first = post(api, path, body, key="change-bytes")
    replay = post(api, path, body, key="change-bytes")

    assert replay.content == first.content
    assert replay["ETag"] == first["ETag"] == '"2"'


def keys_in_order(value):
    """The document's keys at every depth, in the order the text lists them."""
    if isinstance(value, dict):
        return [(key, keys_in_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [keys_in_order(item) for item in value]
    return None


@pytest.mark.django_db(transaction=True)
def test_an_event_carries_the_booking_in_get_s_key_order(api, make_booking):
    booking = make_booking(name="Gala", guest_count=80)
    api.post(f"/v2/bookings/{booking.pk}/change_status", {"status": "tentative"})
    wait_until_visible()

    feed = json.loads(api.get("/v2/events").content)
    [event] = [item for item in feed["results"] if item["type"] == "booking.status_changed"]
    got = json.loads(api.get(f"/v2/bookings/{booking.pk}").content)
    history = json.loads(api.get(f"/v2/bookings/{booking.pk}/status_history").content)

    assert keys_in_order(event["data"]["booking"]) == keys_in_order(got)
    assert event["data"]["booking"] == got
    assert keys_in_order(event["data"]["change"]) == keys_in_order(history["results"][0])
    assert list(event) == ["id", "type", "timestamp", "business_id", "data"]


def test_a_stored_event_reads_back_in_the_order_it_was_written(business, make_booking):
    booking = make_booking()
    booking.edit({"notes": "Balcony"})

    [stored] = Event.objects.filter(type="booking.updated")
    assert list(stored.data) == ["booking", "changed_fields"]
    assert list(stored.data["booking"])[:3] == ["id", "name", "starts_at"]
