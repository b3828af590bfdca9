"""The bookings admin: status fields read-only, status changed through change_status."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from bookings.models import Booking


@pytest.fixture
def staff_client(client, business):
    staff = User.objects.create_user(
        username="frontdesk", password="pw", business=business, is_staff=True
    )
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="bookings"))
    client.force_login(staff)
    return client


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.mark.django_db
def test_changelist_shows_status_and_dates(superuser_client, make_booking):
    booking = make_booking(name="Spring wedding")
    booking.change_status("tentative", at=dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC))

    response = superuser_client.get("/admin/bookings/booking/?status__exact=tentative")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Spring wedding" in content
    assert "Jan. 10, 2025" in content


@pytest.mark.django_db
def test_change_status_form_calls_the_model_method_with_source_admin(
    superuser_client, make_booking
):
    booking = make_booking()
    response = superuser_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        {"status": "definite", "status_at": "2025-01-15 14:30:00"},
    )

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == "definite"
    assert booking.definite_at == dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC)
    entry = booking.status_changes.get()
    assert (entry.source, entry.changed_by, entry.from_status) == ("admin", "root", "lead")


@pytest.mark.django_db
def test_change_status_form_defaults_to_now(superuser_client, make_booking):
    booking = make_booking()
    superuser_client.post(f"/admin/bookings/booking/{booking.pk}/change_status/", {"status": "lost"})
    booking.refresh_from_db()
    assert booking.status == "lost"
    assert abs(booking.lost_at - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=30)


@pytest.mark.django_db
def test_change_status_form_refuses_a_future_moment_and_writes_nothing(
    superuser_client, make_booking
):
    booking = make_booking()
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")

    response = superuser_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        {"status": "definite", "status_at": future},
    )

    assert response.status_code == 200
    assert "in the future" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == "lead"
    assert not booking.status_changes.exists()


@pytest.mark.django_db
def test_status_fields_cannot_be_edited_on_the_change_page(superuser_client, make_booking):
    booking = make_booking(name="Old name")
    response = superuser_client.post(
        f"/admin/bookings/booking/{booking.pk}/change/",
        {
            "business": booking.business_id,
            "name": "New name",
            "notes": "",
            "status": "definite",
            "definite_date": "2025-01-15",
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.name == "New name"
    assert booking.status == "lead"
    assert booking.definite_date is None


@pytest.mark.django_db
def test_change_page_shows_history_read_only(superuser_client, make_booking):
    booking = make_booking()
    booking.change_status("tentative", at=dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC))

    content = superuser_client.get(f"/admin/bookings/booking/{booking.pk}/change/").content.decode()

    assert "status history" in content.lower()
    assert "Change status" in content
    assert 'name="status_changes-0-to_status"' not in content


@pytest.mark.django_db
def test_staff_see_only_their_business(staff_client, make_booking, other_business):
    mine = make_booking(name="Our wedding")
    theirs = Booking.objects.create(business=other_business, name="Their gala")

    listing = staff_client.get("/admin/bookings/booking/").content.decode()
    assert "Our wedding" in listing
    assert "Their gala" not in listing
    assert staff_client.get(f"/admin/bookings/booking/{mine.pk}/change/").status_code == 200
    assert staff_client.get(f"/admin/bookings/booking/{theirs.pk}/change/").status_code == 302
    response = staff_client.post(
        f"/admin/bookings/booking/{theirs.pk}/change_status/", {"status": "lost"}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "lead"


@pytest.mark.django_db
def test_staff_create_bookings_in_their_own_business_only(staff_client, business, other_business):
    response = staff_client.post(
        "/admin/bookings/booking/add/",
        {
            "business": other_business.id,
            "name": "Sneaky",
            "notes": "",
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    assert Booking.objects.get(name="Sneaky").business == business
