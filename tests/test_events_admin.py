"""The events admin: read-only, scoped to the staff user's business."""

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from events.models import Event, EventType


@pytest.fixture
def staff_client(client, business):
    """A staff user of `business` who may view events (and nothing else)."""
    staff = User.objects.create_user(username="frontdesk", business=business, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(staff)
    return client


@pytest.fixture
def events(business, other_business) -> dict[str, Event]:
    return {
        "created": Event.objects.record(
            business.id, EventType.BOOKING_CREATED, {"booking": {"id": 7, "name": "Gala"}}
        ),
        "deleted": Event.objects.record(
            business.id, EventType.BOOKING_DELETED, {"booking": {"id": 8}}
        ),
        "theirs": Event.objects.record(
            other_business.id, EventType.STATUS_UPDATED, {"status": {"statusId": 1}}
        ),
    }


def listed(response) -> set[str]:
    content = response.content.decode()
    return {f"evt_{e.pk}" for e in Event.objects.all() if f">evt_{e.pk}<" in content}


@pytest.mark.django_db
def test_staff_see_only_their_business_events(staff_client, events):
    response = staff_client.get("/admin/events/event/")
    assert response.status_code == 200
    assert listed(response) == {events["created"].public_id, events["deleted"].public_id}


@pytest.mark.django_db
def test_superusers_see_every_business_events(admin_client, events):
    response = admin_client.get("/admin/events/event/")
    assert listed(response) == {event.public_id for event in events.values()}


@pytest.mark.django_db
def test_the_list_filters_by_type(staff_client, events):
    response = staff_client.get("/admin/events/event/?type=booking.deleted")
    assert listed(response) == {events["deleted"].public_id}


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", ["evt_", ""])
def test_the_list_searches_by_id(staff_client, events, prefix):
    response = staff_client.get(f"/admin/events/event/?q={prefix}{events['deleted'].pk}")
    assert listed(response) == {events["deleted"].public_id}


@pytest.mark.django_db
def test_searching_another_business_id_or_nonsense_finds_nothing(staff_client, events):
    for term in (events["theirs"].public_id, "gala", "evt_x"):
        assert listed(staff_client.get(f"/admin/events/event/?q={term}")) == set()


@pytest.mark.django_db
def test_the_detail_page_shows_the_envelope_pretty_printed_and_read_only(staff_client, events):
    event = events["created"]
    response = staff_client.get(f"/admin/events/event/{event.pk}/change/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "<pre>{\n  &quot;id&quot;: &quot;" + event.public_id in content
    assert "&quot;name&quot;: &quot;Gala&quot;" in content
    assert 'name="_save"' not in content


@pytest.mark.django_db
def test_another_business_event_is_not_shown(staff_client, events):
    response = staff_client.get(f"/admin/events/event/{events['theirs'].pk}/change/")
    assert response.status_code == 302  # the admin's "not found": back to the index


@pytest.mark.django_db
def test_events_cannot_be_added_changed_or_deleted(admin_client, events):
    event = events["created"]
    assert admin_client.get("/admin/events/event/add/").status_code == 403
    response = admin_client.post(
        f"/admin/events/event/{event.pk}/change/", {"type": "booking.deleted"}
    )
    assert response.status_code == 403
    assert admin_client.post(f"/admin/events/event/{event.pk}/delete/").status_code == 403
    event.refresh_from_db()
    assert event.type == "booking.created"


@pytest.mark.django_db
def test_the_list_shows_the_booking_each_event_concerns(client, business, make_booking):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    booking = make_booking(name="Spring wedding")
    Event.objects.record(
        business.id,
        EventType.BOOKING_CREATED,
        {"booking": {"id": booking.pk, "name": booking.name}},
    )
    Event.objects.record(business.id, EventType.STATUS_UPDATED, {"status": {"statusId": 1}})

    rows = client.get("/admin/events/event/").content.decode()

    assert (
        f'<a href="/admin/bookings/booking/{booking.pk}/change/">#{booking.pk} Spring wedding</a>'
        in rows
    )
    assert rows.count('<td class="field-concerns">-</td>') == 1  # the status event's
