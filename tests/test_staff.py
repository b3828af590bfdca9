"""Staff members (SPEC §5, §8.4): the "Staff" group a migration creates and each app
fills by declaration (accounts/staff.py), `create_staff_user`, and seed_demo's staff
user, who reach every admin page a business's staff member needs."""

import re
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.core.management.sql import emit_post_migrate_signal

from accounts.models import Business, User
from accounts.staff import STAFF_GROUP

# Every admin page a staff member works in, and one that only superusers may open.
STAFF_PAGES = [
    "/admin/bookings/booking/",
    "/admin/bookings/booking/add/",
    "/admin/statuses/status/",
    "/admin/events/event/",
    "/admin/webhooks/webhookendpoint/",
    "/admin/webhooks/webhookendpoint/add/",
    "/admin/webhooks/delivery/",
    "/admin/reports/pipeline/",
    "/admin/appointments/appointment/",
    "/admin/appointments/appointment/add/",
    "/admin/appointments/appointment/board/",
    "/admin/appointments/resource/",
    "/admin/reports/appointments/",
]
SUPERUSER_PAGES = ["/admin/accounts/business/", "/admin/accounts/user/", "/admin/auth/group/"]


def staff_permissions() -> set[str]:
    group = Group.objects.get(name=STAFF_GROUP)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def sign_in(client, username: str, password: str) -> bool:
    """Through the admin's login form, as a person would (the lockout needs a request)."""
    response = client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )
    return response.status_code == 302


def create_staff(*arguments: str) -> list[str]:
    out = StringIO()
    call_command("create_staff_user", *arguments, stdout=out)
    return out.getvalue().strip().splitlines()


@pytest.mark.django_db
def test_the_staff_group_holds_what_every_app_declares():
    assert staff_permissions() == {
        "bookings.view_booking",
        "bookings.add_booking",
        "bookings.change_booking",
        "bookings.delete_booking",
        "bookings.view_bookingstatuschange",
        "statuses.view_status",
        "statuses.add_status",
        "statuses.change_status",
        "statuses.delete_status",
        "events.view_event",
        "webhooks.view_webhookendpoint",
        "webhooks.add_webhookendpoint",
        "webhooks.change_webhookendpoint",
        "webhooks.delete_webhookendpoint",
        "webhooks.view_delivery",
        "webhooks.change_delivery",
        "business_settings.view_businesssettings",
        "business_settings.change_businesssettings",
        "appointments.view_resource",
        "appointments.add_resource",
        "appointments.change_resource",
        "appointments.view_appointment",
        "appointments.add_appointment",
        "appointments.change_appointment",
        "appointments.view_appointmentstatuschange",
    }


@pytest.mark.django_db
def test_a_migrate_syncs_the_group_with_the_declarations(monkeypatch):
    bookings = apps.get_app_config("bookings")
    monkeypatch.setattr(bookings, "staff_permissions", {"booking": ["view"]}, raising=False)

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert {p for p in staff_permissions() if p.startswith("bookings.")} == {
        "bookings.view_booking"
    }


@pytest.mark.django_db
def test_create_staff_user_prints_a_password_that_opens_every_staff_page(client, business):
    lines = create_staff("--business", str(business.id), "--username", "maria")

    user = User.objects.get(username="maria")
    assert (user.business, user.is_staff, user.is_superuser) == (business, True, False)
    assert list(user.groups.values_list("name", flat=True)) == [STAFF_GROUP]
    assert sign_in(client, "maria", lines[-1])
    for page in STAFF_PAGES:
        assert client.get(page).status_code == 200, page
    for page in SUPERUSER_PAGES:
        assert client.get(page).status_code == 403, page


@pytest.mark.django_db
def test_create_staff_user_reads_the_password_from_the_environment(client, business, monkeypatch):
    monkeypatch.setenv("STAFF_PASSWORD", "a long enough passphrase")

    lines = create_staff(
        "--business",
        str(business.id),
        "--username",
        "maria",
        "--password-from-env",
        "STAFF_PASSWORD",
    )

    assert "a long enough passphrase" not in "\n".join(lines)
    assert sign_in(client, "maria", "a long enough passphrase")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "environment", "says"),
    [
        (["--business", "999", "--username", "maria"], {}, "--business: There is no business 999."),
        (["--business", "43111", "--username", "ma ria"], {}, "--username: Enter a valid username"),
        (["--business", "43111", "--username", "taken"], {}, "--username: A user 'taken' exists"),
        (
            ["--business", "43111", "--username", "maria", "--password-from-env", "UNSET"],
            {},
            "--password-from-env: $UNSET is unset or empty.",
        ),
        (
            ["--business", "43111", "--username", "maria", "--password-from-env", "WEAK"],
            {"WEAK": "123"},
            "password: This password is too short",
        ),
    ],
)
def test_create_staff_user_refuses_in_one_line_and_creates_nothing(
    business, monkeypatch, arguments, environment, says
):
    User.objects.create_user(username="taken", business=business)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("UNSET", raising=False)
    users = list(User.objects.values_list("username", flat=True))

    with pytest.raises(CommandError) as refused:
        create_staff(*arguments)

    assert str(refused.value).startswith(says)
    assert "\n" not in str(refused.value)
    assert list(User.objects.values_list("username", flat=True)) == users
    assert Business.objects.count() == 1


@pytest.mark.django_db
def test_the_demo_staff_user_reaches_every_staff_page(client):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    password = re.search(r"user demo-staff  password (\S+)", out.getvalue()).group(1)

    assert sign_in(client, "demo-staff", password)
    for page in STAFF_PAGES:
        assert client.get(page).status_code == 200, page
    staff = User.objects.get(username="demo-staff")
    assert staff.user_permissions.count() == 0  # all through the group
