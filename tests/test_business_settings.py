"""GET and PATCH /v2/business, the `business.updated` event and the admin's "Business
settings" page (SPEC §15.3)."""

import pytest
from django.contrib.auth.models import Permission

from accounts.models import Business, User
from events.models import Event

pytestmark = pytest.mark.django_db

SETTINGS_PAGE = "/admin/business_settings/businesssettings/"


def business_row(business: Business) -> dict:
    return Business.objects.filter(pk=business.pk).values().get()


def test_get_shows_the_settings_with_their_defaults(api, business):
    response = api.get("/v2/business")
    assert response.status_code == 200
    assert list(response.json()) == [
        "id",
        "name",
        "timezone",
        "require_lost_reason",
        "hold_reminder_hours",
        "auto_complete_after_hours",
    ]
    assert response.json() == {
        "id": business.id,
        "name": "Demo Venue",
        "timezone": "UTC",
        "require_lost_reason": False,
        "hold_reminder_hours": 24,
        "auto_complete_after_hours": None,
    }


def test_patch_changes_the_settings_and_answers_with_the_get_body(api, business):
    response = api.patch(
        "/v2/business",
        {"require_lost_reason": True, "hold_reminder_hours": 48, "auto_complete_after_hours": 2},
    )
    assert response.status_code == 200
    assert response.content == api.get("/v2/business").content
    business.refresh_from_db()
    assert (
        business.require_lost_reason,
        business.hold_reminder_hours,
        business.auto_complete_after_hours,
    ) == (True, 48, 2)


def test_patch_changes_only_what_it_names(api, business):
    api.patch("/v2/business", {"auto_complete_after_hours": 5})
    response = api.patch("/v2/business", {"hold_reminder_hours": 0})
    assert response.json()["auto_complete_after_hours"] == 5
    assert response.json()["hold_reminder_hours"] == 0
    response = api.patch("/v2/business", {"auto_complete_after_hours": None})
    assert response.json()["auto_complete_after_hours"] is None


def test_a_change_writes_business_updated_with_the_get_body(api, business):
    api.patch("/v2/business", {"hold_reminder_hours": 72})
    [event] = Event.objects.filter(business=business)
    assert event.type == "business.updated"
    assert event.data == {"business": api.get("/v2/business").json()}
    assert list(event.data["business"]) == list(api.get("/v2/business").json())


def test_a_patch_that_changes_nothing_writes_nothing(api, business):
    for body in ({}, {"hold_reminder_hours": 24}, {"require_lost_reason": False}):
        assert api.patch("/v2/business", body).status_code == 200
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"require_lost_reason": "true"}, "require_lost_reason"),
        ({"require_lost_reason": 1}, "require_lost_reason"),
        ({"require_lost_reason": None}, "require_lost_reason"),
        ({"hold_reminder_hours": -1}, "hold_reminder_hours"),
        ({"hold_reminder_hours": 721}, "hold_reminder_hours"),
        ({"hold_reminder_hours": 2.5}, "hold_reminder_hours"),
        ({"hold_reminder_hours": "24"}, "hold_reminder_hours"),
        ({"hold_reminder_hours": None}, "hold_reminder_hours"),
        ({"auto_complete_after_hours": 0}, "auto_complete_after_hours"),
        ({"auto_complete_after_hours": 721}, "auto_complete_after_hours"),
        ({"auto_complete_after_hours": True}, "auto_complete_after_hours"),
        ({"timezone": "Europe/Paris"}, "timezone"),
        ({"timezone": "UTC"}, "timezone"),
        ({"name": "Renamed"}, "name"),
        ({"id": 1}, "id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_patch_refuses_bad_values_naming_the_field_and_writes_nothing(api, business, body, field):
    before = business_row(business)
    response = api.patch("/v2/business", {"hold_reminder_hours": 12, **body})
    assert response.status_code == 400
    assert field in response.json()
    assert business_row(business) == before
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hold_reminder_hours", 720),
        ("auto_complete_after_hours", 720),
        ("auto_complete_after_hours", 1),
    ],
)
def test_the_bounds_are_accepted(api, field, value):
    response = api.patch("/v2/business", {field: value})
    assert (response.status_code, response.json()[field]) == (200, value)


def test_patch_changes_only_the_caller_business(api, business, other_business):
    before = business_row(other_business)
    api.patch("/v2/business", {"require_lost_reason": True})
    assert business_row(other_business) == before
    assert not Event.objects.filter(business=other_business).exists()


def test_patch_needs_a_token(client, business):
    assert client.patch("/v2/business", {}, content_type="application/json").status_code == 401


# --- the admin page --------------------------------------------------------------------


def staff_of(business: Business, *codenames: str) -> User:
    user = User.objects.create_user(
        username=f"staff-{business.pk}", password="pw", business=business, is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


SETTINGS_PERMISSIONS = ("view_businesssettings", "change_businesssettings")


def test_staff_go_straight_to_their_business_settings(client, business):
    client.force_login(staff_of(business, *SETTINGS_PERMISSIONS))
    response = client.get(SETTINGS_PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"{SETTINGS_PAGE}{business.pk}/change/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"hold_reminder_hours" in page.content
    assert b"Demo Venue" in page.content


def test_staff_change_the_settings_and_the_event_is_written(client, business):
    client.force_login(staff_of(business, *SETTINGS_PERMISSIONS))
    response = client.post(
        f"{SETTINGS_PAGE}{business.pk}/change/",
        {"require_lost_reason": "on", "hold_reminder_hours": "6", "auto_complete_after_hours": ""},
    )
    assert response.status_code == 302
    business.refresh_from_db()
    assert (business.require_lost_reason, business.hold_reminder_hours) == (True, 6)
    [event] = Event.objects.filter(business=business)
    assert event.type == "business.updated"
    assert event.data["business"]["hold_reminder_hours"] == 6


def test_the_admin_page_refuses_values_out_of_range(client, business):
    client.force_login(staff_of(business, *SETTINGS_PERMISSIONS))
    response = client.post(
        f"{SETTINGS_PAGE}{business.pk}/change/",
        {"hold_reminder_hours": "721", "auto_complete_after_hours": "0"},
    )
    assert response.status_code == 200  # the form again, with its errors
    assert response.context["adminform"].form.errors.keys() == {
        "hold_reminder_hours",
        "auto_complete_after_hours",
    }
    business.refresh_from_db()
    assert business.hold_reminder_hours == 24
    assert not Event.objects.exists()


def test_staff_cannot_open_another_business_settings(client, business, other_business):
    client.force_login(staff_of(business, *SETTINGS_PERMISSIONS))
    response = client.get(f"{SETTINGS_PAGE}{other_business.pk}/change/")
    assert response.status_code == 302  # the admin's "doesn't exist" redirect
    assert (
        client.post(
            f"{SETTINGS_PAGE}{other_business.pk}/change/", {"hold_reminder_hours": "1"}
        ).status_code
        == 302
    )
    other_business.refresh_from_db()
    assert other_business.hold_reminder_hours == 24


def test_staff_without_the_permission_cannot_change_settings(client, business):
    client.force_login(staff_of(business))
    assert client.get(f"{SETTINGS_PAGE}{business.pk}/change/").status_code == 403


def test_superusers_see_every_business_settings(client, business, other_business):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = client.get(SETTINGS_PAGE)
    assert response.status_code == 200
    assert {row.pk for row in response.context["cl"].result_list} == {
        business.pk,
        other_business.pk,
    }


def test_the_business_admin_shows_the_settings_read_only(client, business):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    page = client.get(f"/admin/accounts/business/{business.pk}/change/")
    form = page.context["adminform"].form
    assert "hold_reminder_hours" not in form.fields
