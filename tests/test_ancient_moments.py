"""No moment before 1900-01-01T00:00:00Z (SPEC §17): refused with a 400 naming the
field wherever one is accepted, and a zone change or data fix that would derive a date
from one refuses in one line and changes nothing (issue 26, defect 1)."""

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command

from accounts.models import User
from bookings.models import Booking, BookingStatusChange
from events.models import Event

pytestmark = pytest.mark.django_db

YEAR_ONE = "0001-01-01T03:00:00Z"
NEW_YORK, TOKYO = "America/New_York", "Asia/Tokyo"


@pytest.fixture
def in_new_york(business):
    business.timezone = NEW_YORK
    business.save(update_fields=["timezone"])
    return business


def assert_nothing_written(*bookings: Booking) -> None:
    for booking in bookings:
        stored = Booking.objects.get(pk=booking.pk)
        assert (stored.status, stored.version) == (booking.status, booking.version)
    assert not BookingStatusChange.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize("moment", [YEAR_ONE, "1899-12-31T23:59:59Z", "1900-01-01T04:00:00+05:00"])
def test_change_status_refuses_a_moment_before_1900(api, in_new_york, make_booking, moment):
    booking = make_booking()

    response = api.post(
        f"/v2/bookings/{booking.pk}/change_status", {"status": "definite", "status_at": moment}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["status_at"]
    assert_nothing_written(booking)


def test_the_first_moment_of_1900_is_accepted(api, make_booking):
    booking = make_booking()

    response = api.post(
        f"/v2/bookings/{booking.pk}/change_status",
        {"status": "definite", "status_at": "1900-01-01T00:00:00Z"},
    )

    assert response.status_code == 200
    assert response.json()["definite_at"] == "1900-01-01T00:00:00Z"


def test_a_status_date_before_1900_is_refused(api, make_booking):
    booking = make_booking()

    response = api.post(
        f"/v2/bookings/{booking.pk}/change_status", {"status": "lost", "status_date": "1899-12-31"}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["status_date"]
    assert_nothing_written(booking)


def test_a_status_date_whose_local_midnight_is_before_1900_is_refused(api, business, make_booking):
    # 1900-01-01 00:00 in Tokyo is 1899-12-31T15:00:00Z.
    business.timezone = TOKYO
    business.save(update_fields=["timezone"])
    booking = make_booking()

    response = api.post(
        f"/v2/bookings/{booking.pk}/change_status", {"status": "lost", "status_date": "1900-01-01"}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["status_date"]
    assert_nothing_written(booking)


def test_create_with_a_status_refuses_a_moment_before_1900(api, in_new_york):
    response = api.post(
        "/v2/bookings", {"name": "Gala", "status": "tentative", "status_at": YEAR_ONE}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["status_at"]
    assert not Booking.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_booking_times_refuse_a_moment_before_1900(api, make_booking, field):
    booking = make_booking()

    created = api.post("/v2/bookings", {"name": "Gala", field: YEAR_ONE})
    patched = api.patch(f"/v2/bookings/{booking.pk}", {field: YEAR_ONE})

    assert (created.status_code, list(created.json())) == (400, [field])
    assert (patched.status_code, list(patched.json())) == (400, [field])
    assert Booking.objects.count() == 1
    assert_nothing_written(booking)


def test_a_bulk_change_refuses_a_moment_before_1900(api, in_new_york, make_booking):
    bookings = [make_booking(), make_booking()]

    response = api.post(
        "/v2/bookings/change_status",
        {"ids": [b.pk for b in bookings], "status": "lost", "status_at": YEAR_ONE},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["status_at"]
    assert_nothing_written(*bookings)


def test_the_admin_change_status_form_refuses_a_moment_before_1900(client, make_booking):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    booking = make_booking()

    response = client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        {"status": "definite", "status_at_0": "1899-12-31", "status_at_1": "23:00:00"},
    )

    assert response.status_code == 200
    assert "1900-01-01" in response.content.decode()
    assert_nothing_written(booking)


def test_the_admin_booking_form_refuses_a_start_before_1900(client, business, make_booking):
    staff = User.objects.create_user(
        username="frontdesk", password="pw", business=business, is_staff=True
    )
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="bookings"))
    client.force_login(staff)

    response = client.post(
        "/admin/bookings/booking/add/",
        {
            "name": "Gala",
            "starts_at_0": "1899-06-01",
            "starts_at_1": "10:00:00",
            "notes": "",
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "1900-01-01" in response.content.decode()
    assert not Booking.objects.exists()


# --- what was stored before the floor: refused in one line, nothing changed ------------


@pytest.fixture
def ancient_booking(business, make_booking) -> Booking:
    """A booking stored before the floor existed (or written behind the API's back)."""
    moment = dt.datetime(1, 1, 1, 3, tzinfo=dt.UTC)
    return make_booking(status="definite", definite_at=moment, definite_date=moment.date())


def test_a_zone_change_refuses_while_a_booking_is_dated_before_1900(business, ancient_booking):
    with pytest.raises(CommandError) as refused:
        call_command(
            "set_business_timezone",
            "--business",
            str(business.pk),
            "--timezone",
            NEW_YORK,
            stdout=StringIO(),
        )

    assert "\n" not in str(refused.value)
    assert str(ancient_booking.pk) in str(refused.value)
    business.refresh_from_db()
    assert business.timezone == "UTC"
    assert Booking.objects.get(pk=ancient_booking.pk).definite_date == dt.date(1, 1, 1)
    assert not Event.objects.exists()


def test_the_api_still_reads_a_business_whose_zone_change_was_refused(
    api, business, ancient_booking
):
    with pytest.raises(CommandError):
        call_command(
            "set_business_timezone", "--business", str(business.pk), "--timezone", NEW_YORK
        )

    assert api.get("/v2/bookings").status_code == 200
    assert api.get(f"/v2/bookings/{ancient_booking.pk}").status_code == 200


@pytest.mark.parametrize("command", ["backfill_status_datetimes", "repair_booking_status_dates"])
def test_a_data_fix_refuses_while_a_booking_is_dated_before_1900(business, make_booking, command):
    ancient = make_booking(status="tentative", tentative_date=dt.date(1, 1, 1))
    broken = make_booking(status="definite", definite_date=dt.date(2025, 1, 10))

    with pytest.raises(CommandError) as refused:
        call_command(command, "--no-progress", stdout=StringIO(), stderr=StringIO())

    assert "\n" not in str(refused.value)
    assert str(ancient.pk) in str(refused.value)
    assert Booking.objects.get(pk=broken.pk).definite_at is None
    assert not Event.objects.exists()
