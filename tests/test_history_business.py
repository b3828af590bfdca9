"""Every history entry carries its booking's business (BookingStatusChange.business),
whichever path wrote it: issue 19's preparation for distributing the history by
business with its bookings."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import models

from accounts.models import User
from bookings.models import Booking, BookingStatusChange


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def entries_with_another_business() -> list[tuple[int, int, int]]:
    """(entry, its business, its booking's business) for every entry whose business is
    not its booking's: the invariant, checked over the whole table."""
    return list(
        BookingStatusChange.objects.exclude(business=models.F("booking__business")).values_list(
            "pk", "business_id", "booking__business_id"
        )
    )


@pytest.mark.django_db
def test_every_write_path_records_the_bookings_business(
    api, other_api, superuser_client, business, other_business, make_booking
):
    # Two businesses, so that an entry given the wrong one would show.
    mine = make_booking(name="Mine")
    theirs = Booking.objects.create(business=other_business, name="Theirs")
    bulk = [make_booking(name=f"Bulk {n}") for n in range(2)]

    assert (
        other_api.post(
            f"/v2/bookings/{theirs.pk}/change_status", {"status": "tentative"}, format="json"
        ).status_code
        == 200
    )
    assert (
        api.post(
            "/v2/bookings/change_status",
            {"ids": [b.pk for b in bulk], "status": "definite"},
            format="json",
        ).status_code
        == 200
    )
    created = other_api.post(
        "/v2/bookings", {"name": "Created", "status": "tentative"}, format="json"
    )
    assert created.status_code == 201
    assert (
        superuser_client.post(
            f"/admin/bookings/booking/{mine.pk}/change_status/",
            {"status": "definite", "status_at": "2025-01-11 02:00:00"},
        ).status_code
        == 302
    )
    # A definite booking without its dates: the repair re-stamps it, with an entry.
    Booking.objects.filter(pk=theirs.pk).update(status="definite")
    call_command("repair_booking_status_dates", "--no-progress", stdout=StringIO())
    call_command(
        "generate_bookings", "--count", "30", "--businesses", "2", "--seed", "3",
        "--no-progress", stdout=StringIO(),
    )  # fmt: skip

    assert mine.status_changes.get().source == "admin"
    assert theirs.status_changes.filter(source="command").count() == 1
    generated = BookingStatusChange.objects.exclude(business__in=[business, other_business])
    assert generated.exists()
    expected = {
        theirs.pk: other_business.pk,
        created.json()["id"]: other_business.pk,
        mine.pk: business.pk,
        **{b.pk: business.pk for b in bulk},
    }
    recorded = dict(
        BookingStatusChange.objects.filter(booking__in=expected).values_list(
            "booking_id", "business_id"
        )
    )
    assert recorded == expected
    assert entries_with_another_business() == []


@pytest.mark.django_db
def test_the_invariant_check_sees_an_entry_of_another_business(
    business, other_business, make_booking
):
    booking = make_booking()
    entry = booking.change_status("tentative", at=dt.datetime(2025, 1, 10, tzinfo=dt.UTC))
    BookingStatusChange.objects.filter(pk=entry.pk).update(business=other_business)
    assert entries_with_another_business() == [(entry.pk, other_business.pk, business.pk)]
