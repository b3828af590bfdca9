"""The appointments' and resources' events (SPEC §14.6, §17): one per write, in its
transaction, each payload the bytes GET answers (keys in the same order), through the
feed like every other type."""

import orjson
import pytest

from events.models import Event

pytestmark = pytest.mark.django_db


def events_of(business, type_: str) -> list[Event]:
    return list(Event.objects.filter(business=business, type=type_).order_by("pk"))


def as_get_shows(api, path: str, payload: dict) -> None:
    """The payload, written as the API writes JSON, is GET's body to the byte."""
    assert orjson.dumps(payload) == api.get(path).content


def test_a_create_writes_appointment_created_with_its_first_entry(api, business, book):
    created = book().json()

    [event] = events_of(business, "appointment.created")

    assert list(event.data) == ["appointment", "change"]
    as_get_shows(api, f"/v2/appointments/{created['id']}", event.data["appointment"])
    [entry] = api.get(f"/v2/appointments/{created['id']}/status_history").json()["results"]
    assert event.data["change"] == entry
    assert not events_of(business, "appointment.status_changed")


def test_change_status_writes_appointment_status_changed(api, business, book):
    created = book().json()
    path = f"/v2/appointments/{created['id']}"

    api.post(
        f"{path}/change_status", {"status": "CANCELLED", "sub_status": "CANCELLED"}, format="json"
    )

    [event] = events_of(business, "appointment.status_changed")
    as_get_shows(api, path, event.data["appointment"])
    entries = api.get(f"{path}/status_history").json()["results"]
    assert orjson.dumps(event.data["change"]) == orjson.dumps(entries[-1])


def test_patch_writes_appointment_updated_naming_the_changed_fields(api, business, book):
    created = book().json()
    path = f"/v2/appointments/{created['id']}"

    api.patch(path, {"ends_at": "2025-03-04T09:45:00Z", "client_name": "Ada"}, format="json")

    [event] = events_of(business, "appointment.updated")
    assert event.data["changed_fields"] == ["ends_at", "client_name"]
    as_get_shows(api, path, event.data["appointment"])


def test_resource_events_carry_the_resource_as_get_shows_it(api, business):
    created = api.post("/v2/resources", {"name": "Room"}, format="json").json()
    api.patch(f"/v2/resources/{created['id']}", {"active": False}, format="json")

    [made] = events_of(business, "resource.created")
    [retired] = events_of(business, "resource.updated")
    assert made.data == {"resource": created}
    as_get_shows(api, f"/v2/resources/{created['id']}", retired.data["resource"])


def test_a_refused_write_leaves_no_event(api, business, book):
    book()
    count = Event.objects.count()

    assert book().status_code == 409  # the same slot

    assert Event.objects.count() == count


@pytest.mark.django_db(transaction=True)  # on PostgreSQL the feed shows committed events
@pytest.mark.usefixtures("shared_statuses")
def test_the_feed_lists_them_and_filters_by_type(api, business, book):
    created = book().json()

    feed = api.get("/v2/events?type=appointment.created").json()

    [item] = feed["results"]
    assert item["type"] == "appointment.created"
    assert item["data"]["appointment"]["id"] == created["id"]
