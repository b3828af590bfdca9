"""The admin in the business's time zone (SPEC §9, §17): staff type moments as a date
and a time on their business's clock, with the UTC instant shown beside; lists show
ISO dates and each moment on its business's clock with the zone named."""

import datetime as dt

import pytest

from accounts.models import Business, User
from bookings.models import Booking
from tests.test_bookings_admin import save_change_page

NEW_YORK = "America/New_York"


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.fixture
def new_york(business) -> Business:
    Business.objects.filter(pk=business.pk).update(timezone=NEW_YORK)
    business.refresh_from_db()
    return business


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.mark.django_db
def test_the_change_status_form_takes_the_moment_on_the_business_clock(
    superuser_client, new_york, make_booking
):
    booking = make_booking()
    page = superuser_client.get(f"/admin/bookings/booking/{booking.pk}/change_status/")
    assert "Moment (America/New_York)" in page.content.decode()

    response = superuser_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        {"status": "definite", "status_at_0": "2025-07-01", "status_at_1": "09:30:00"},
    )

    assert response.status_code == 302
    booking.refresh_from_db()
    assert (booking.definite_at, booking.definite_date) == (
        utc(2025, 7, 1, 13, 30),  # EDT is UTC-4
        dt.date(2025, 7, 1),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("date", "time"),
    [("2025-03-09", "02:30:00"), ("2025-11-02", "01:30:00")],  # skipped, then repeated
)
def test_a_wall_time_that_a_dst_change_skips_or_repeats_is_refused(
    superuser_client, new_york, make_booking, date, time
):
    booking = make_booking()
    response = superuser_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        {"status": "definite", "status_at_0": date, "status_at_1": time},
    )

    assert response.status_code == 200
    assert "America/New_York" in str(response.context["form"].errors["status_at"])
    booking.refresh_from_db()
    assert (booking.status, booking.status_changes.count()) == ("lead", 0)


@pytest.mark.django_db
def test_the_bulk_action_takes_the_moment_on_the_business_clock(
    superuser_client, new_york, make_booking
):
    bookings = [make_booking(), make_booking()]
    response = superuser_client.post(
        "/admin/bookings/booking/",
        {
            "action": "change_status_of_selected",
            "_selected_action": [b.pk for b in bookings],
            "apply": "1",
            "status": "tentative",
            "status_at_0": "2025-01-10",
            "status_at_1": "21:00:00",
        },
    )
    assert response.status_code == 302
    for booking in bookings:
        booking.refresh_from_db()
        assert (booking.tentative_at, booking.tentative_date) == (
            utc(2025, 1, 11, 2),
            dt.date(2025, 1, 10),
        )


@pytest.mark.django_db
def test_starts_and_ends_are_typed_and_shown_on_the_business_clock(
    superuser_client, new_york, make_booking
):
    booking = make_booking(name="Gala")
    response = save_change_page(
        superuser_client,
        booking,
        name="Gala",
        guest_count="10",
        starts_at_0="2025-05-17",
        starts_at_1="18:00:00",
        ends_at_0="2025-05-17",
        ends_at_1="23:30:00",
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    booking.refresh_from_db()
    assert (booking.starts_at, booking.ends_at) == (utc(2025, 5, 17, 22), utc(2025, 5, 18, 3, 30))

    page = superuser_client.get(f"/admin/bookings/booking/{booking.pk}/change/").content.decode()
    assert "Starts at (America/New_York)" in page
    assert 'value="2025-05-17"' in page
    assert 'value="18:00:00"' in page
    assert "= 2025-05-17 22:00:00 UTC" in page  # the instant, beside the inputs


@pytest.mark.django_db
def test_a_staff_member_adds_a_booking_on_the_business_clock(client, new_york):
    from django.contrib.auth.models import Permission

    staff = User.objects.create_user("frontdesk", business=new_york, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="bookings"))
    client.force_login(staff)

    response = client.post(
        "/admin/bookings/booking/add/",
        {
            "name": "Launch",
            "guest_count": "5",
            "notes": "",
            "starts_at_0": "2025-01-10",
            "starts_at_1": "09:00:00",
            "ends_at_0": "",
            "ends_at_1": "",
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert Booking.objects.get(name="Launch").starts_at == utc(2025, 1, 10, 14)


@pytest.mark.django_db
def test_the_list_shows_iso_dates_and_local_times_with_the_zone(
    superuser_client, new_york, other_business, make_booking
):
    ours = make_booking(name="Ours", starts_at=utc(2025, 5, 17, 22))
    ours.change_status("tentative", at=utc(2025, 1, 11, 2))
    make_booking(business=other_business, name="Theirs", starts_at=utc(2025, 5, 17, 22))

    page = superuser_client.get("/admin/bookings/booking/").content.decode()

    assert "2025-01-10" in page  # the tentative date, local
    assert "2025-05-17 18:00 America/New_York" in page
    assert "2025-05-17 22:00 UTC" in page  # each row on its own business's clock
