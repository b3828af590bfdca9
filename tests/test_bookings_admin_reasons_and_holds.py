"""The admin's side of lost reasons and holds (SPEC §15.1, §15.2): the change-status
form (one booking, and the action on selected ones) takes a reason, a note and a hold;
the list shows the hold and filters holds expiring within 7 days."""

import datetime as dt

import pytest
from django.utils import timezone

from bookings.lost_reasons import LostReasonList
from bookings.models import Booking, BookingStatusChange, LostReason
from tests import test_bookings_admin
from tests.test_bookings_admin import change_status_of_selected, moment

pytestmark = pytest.mark.django_db
staff_client = test_bookings_admin.staff_client  # a staff member of `business`

T = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def shared(code: str) -> LostReason:
    return LostReason.objects.get(business=None, code=code)


def page_of(booking: Booking) -> str:
    return f"/admin/bookings/booking/{booking.pk}/change_status/"


def hold_at(date: str, time: str) -> dict[str, str]:
    return {"hold_until_0": date, "hold_until_1": time}


def local_in_days(days: int) -> tuple[str, str]:
    moment = timezone.now() + dt.timedelta(days=days)
    return f"{moment:%Y-%m-%d}", f"{moment:%H:%M:%S}"


def test_lost_with_a_reason_and_a_note(staff_client, make_booking):
    booking = make_booking()
    reason = shared("budget")
    response = staff_client.post(
        page_of(booking), {"status": "lost", "lost_reason": reason.pk, "lost_note": "Too dear"}
    )
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.lost_reason == {"id": reason.pk, "code": "budget", "label": "Over budget"}
    assert booking.lost_note == "Too dear"
    [entry] = BookingStatusChange.objects.filter(booking=booking)
    assert (entry.source, entry.lost_reason["code"], entry.lost_note) == (
        "admin",
        "budget",
        "Too dear",
    )
    change_page = staff_client.get(f"/admin/bookings/booking/{booking.pk}/change/")
    assert "Over budget: Too dear" in change_page.content.decode()  # the history's row


def test_the_reasons_offered_are_the_business_active_ones_but_the_system_s(
    staff_client, business, other_business, make_booking
):
    LostReasonList.of(other_business).add({"code": "theirs", "label": "Theirs"})
    own = {r.code: r for r in LostReasonList.of(business).fork()}
    LostReasonList.of(business).update(own["no_response"].pk, {"active": False})
    form = staff_client.get(page_of(make_booking())).context["form"]
    offered = [reason.code for reason in form.fields["lost_reason"].queryset]
    assert offered == ["another_venue", "budget", "date_unavailable", "event_cancelled"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": "definite", "lost_note": "why"}, "lost_note"),
        ({"status": "lead", "lost_reason": "REASON"}, "lost_reason"),
        ({"status": "lost", "lost_reason": "SYSTEM"}, "lost_reason"),
        ({"status": "lost", **hold_at("2025-03-05", "10:00:00")}, "hold_until"),
        (
            {
                "status": "tentative",
                **moment("2025-03-01", "12:00:00"),
                **hold_at("2025-02-01", "10:00:00"),
            },
            "hold_until",
        ),
    ],
)
def test_refusals_are_shown_beside_their_field_and_write_nothing(
    staff_client, make_booking, fields, field
):
    booking = make_booking()
    fields = {
        name: {"REASON": shared("budget").pk, "SYSTEM": shared("hold_expired").pk}.get(value, value)
        for name, value in fields.items()
    }
    response = staff_client.post(page_of(booking), fields)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Booking.objects.get(pk=booking.pk).version == 1
    assert not BookingStatusChange.objects.exists()


def test_a_business_that_requires_a_reason(staff_client, business, make_booking):
    business.require_lost_reason = True
    business.save()
    booking = make_booking()
    response = staff_client.post(page_of(booking), {"status": "lost"})
    assert response.status_code == 200
    assert "lost_reason" in response.context["form"].errors
    assert Booking.objects.get(pk=booking.pk).status == "lead"


def test_setting_extending_keeping_and_removing_the_hold(staff_client, make_booking):
    booking = make_booking()
    date, time = local_in_days(3)
    assert (
        staff_client.post(
            page_of(booking), {"status": "tentative", **hold_at(date, time)}
        ).status_code
        == 302
    )
    booking.refresh_from_db()
    assert f"{booking.hold_until:%Y-%m-%d %H:%M:%S}" == f"{date} {time}"  # a UTC business
    page = staff_client.get(page_of(booking)).content.decode()
    assert 'id="hold"' in page

    date, time = local_in_days(5)
    staff_client.post(page_of(booking), {"status": "tentative", **hold_at(date, time)})
    booking.refresh_from_db()
    assert f"{booking.hold_until:%Y-%m-%d}" == date

    staff_client.post(page_of(booking), {"status": "tentative"})  # empty: kept
    booking.refresh_from_db()
    assert f"{booking.hold_until:%Y-%m-%d}" == date

    staff_client.post(page_of(booking), {"status": "tentative", "remove_hold": "on"})
    booking.refresh_from_db()
    assert booking.hold_until is None


def test_the_action_applies_a_reason_to_every_selected_booking(staff_client, make_booking):
    bookings = [make_booking(), make_booking()]
    reason = shared("date_unavailable")
    response = change_status_of_selected(
        staff_client, bookings, apply="1", status="lost", lost_reason=reason.pk
    )
    assert response.status_code == 302
    assert {
        b.lost_reason["code"] for b in Booking.objects.filter(pk__in=[b.pk for b in bookings])
    } == {"date_unavailable"}


def test_the_action_holds_every_selected_booking(staff_client, make_booking):
    bookings = [make_booking(), make_booking()]
    date, time = local_in_days(2)
    change_status_of_selected(
        staff_client, bookings, apply="1", status="tentative", **hold_at(date, time)
    )
    holds = {b.hold_until for b in Booking.objects.filter(pk__in=[b.pk for b in bookings])}
    assert len(holds) == 1
    assert f"{holds.pop():%Y-%m-%d}" == date


def test_the_action_shows_a_refusal_beside_its_field(staff_client, make_booking):
    bookings = [make_booking()]
    response = change_status_of_selected(
        staff_client, bookings, apply="1", status="definite", lost_note="no"
    )
    assert response.status_code == 200
    assert "lost_note" in response.context["form"].errors


def test_the_list_shows_the_hold_and_filters_those_expiring_within_7_days(
    staff_client, make_booking
):
    now = timezone.now()
    soon, later = make_booking(name="soon"), make_booking(name="later")
    make_booking(name="none")
    soon.change_status("tentative", hold_until=now + dt.timedelta(days=2))
    later.change_status("tentative", hold_until=now + dt.timedelta(days=20))

    def listed(query: str) -> set[str]:
        response = staff_client.get(f"/admin/bookings/booking/{query}")
        assert response.status_code == 200
        return {booking.name for booking in response.context["cl"].result_list}

    assert listed("?hold=7d") == {"soon"}
    assert listed("?hold=any") == {"soon", "later"}
    assert listed("") == {"soon", "later", "none"}
    page = staff_client.get("/admin/bookings/booking/").content.decode()
    assert "Hold until" in page
    assert f"{now + dt.timedelta(days=2):%Y-%m-%d}" in page
