"""Why a booking was lost (SPEC §15.1, §17): `lost_reason_id` and `lost_note` on a change
to lost (single, bulk, create), the business's `require_lost_reason`, the reason as
recorded on the booking and its history, and cleared on leaving lost."""

import datetime as dt

import pytest

from bookings.lost_reasons import LostReasonList
from bookings.models import Booking, BookingStatusChange, LostReason
from events.models import Event

pytestmark = pytest.mark.django_db

T = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def shared(code: str) -> LostReason:
    return LostReason.objects.get(business=None, code=code)


def record(reason: LostReason) -> dict:
    return {"id": reason.pk, "code": reason.code, "label": reason.label}


def change(api, booking: Booking, **body):
    return api.post(f"/v2/bookings/{booking.pk}/change_status", body, format="json")


def written(booking: Booking) -> tuple:
    """Everything a refused change must leave as it was."""
    return (
        Booking.objects.filter(pk=booking.pk).values().get(),
        BookingStatusChange.objects.filter(booking=booking).count(),
        Event.objects.count(),
    )


def test_a_change_to_lost_records_the_reason_and_the_note(api, make_booking):
    booking = make_booking()
    reason = shared("budget")
    response = change(api, booking, status="lost", lost_reason_id=reason.pk, lost_note="Too dear")
    assert response.status_code == 200
    body = response.json()
    assert body["lost_reason"] == {"id": reason.pk, "code": "budget", "label": "Over budget"}
    assert list(body["lost_reason"]) == ["id", "code", "label"]
    assert body["lost_note"] == "Too dear"
    booking.refresh_from_db()
    assert (booking.lost_reason, booking.lost_note) == (record(reason), "Too dear")
    [entry] = api.get(f"/v2/bookings/{booking.pk}/status_history").json()["results"]
    assert (entry["lost_reason"], entry["lost_note"]) == (record(reason), "Too dear")


def test_a_booking_shows_null_without_a_reason_or_note(api, make_booking):
    booking = make_booking()
    body = change(api, booking, status="lost").json()
    assert (body["lost_reason"], body["lost_note"]) == (None, None)
    assert (body["status"], body["lost_at"] is not None) == ("lost", True)


def test_an_empty_note_is_no_note(api, make_booking):
    body = change(api, make_booking(), status="lost", lost_note="").json()
    assert body["lost_note"] is None


def test_a_note_of_1000_characters_is_taken_and_1001_refused(api, make_booking):
    booking = make_booking()
    assert change(api, booking, status="lost", lost_note="x" * 1000).status_code == 200
    before = written(booking)
    response = change(api, booking, status="lost", lost_note="x" * 1001)
    assert response.status_code == 400
    assert "lost_note" in response.json()
    assert written(booking) == before


@pytest.mark.parametrize("status", ["lead", "tentative", "definite"])
@pytest.mark.parametrize("field", ["lost_reason_id", "lost_note"])
def test_a_reason_or_note_with_another_status_is_refused_naming_it(
    api, make_booking, status, field
):
    booking = make_booking()
    before = written(booking)
    value = shared("budget").pk if field == "lost_reason_id" else "Why"
    response = change(api, booking, status=status, **{field: value})
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert written(booking) == before


@pytest.mark.parametrize("value", ["5", 1.5, True, 0, -3, 2**63])
def test_the_reason_id_is_a_positive_integer(api, make_booking, value):
    response = change(api, make_booking(), status="lost", lost_reason_id=value)
    assert response.status_code == 400
    assert "lost_reason_id" in response.json()


def test_an_inactive_reason_is_refused_naming_it(api, business, make_booking):
    inactive = LostReasonList.of(business).add({"code": "budget", "label": "Over", "active": False})
    booking = make_booking()
    before = written(booking)
    response = change(api, booking, status="lost", lost_reason_id=inactive.pk)
    assert response.status_code == 400
    assert "lost_reason_id" in response.json()
    assert written(booking) == before


def test_hold_expired_is_the_scheduler_s_alone(api, make_booking):
    booking = make_booking()
    before = written(booking)
    response = change(api, booking, status="lost", lost_reason_id=shared("hold_expired").pk)
    assert response.status_code == 400
    assert "lost_reason_id" in response.json()
    assert written(booking) == before


def test_another_business_reason_is_unknown(api, other_business, make_booking):
    theirs = LostReasonList.of(other_business).add({"code": "theirs", "label": "Theirs"})
    response = change(api, make_booking(), status="lost", lost_reason_id=theirs.pk)
    assert response.status_code == 400
    assert "lost_reason_id" in response.json()


def test_a_shared_reason_is_not_in_the_list_of_a_business_that_forked(api, business, make_booking):
    LostReasonList.of(business).fork()
    response = change(api, make_booking(), status="lost", lost_reason_id=shared("budget").pk)
    assert response.status_code == 400
    assert "lost_reason_id" in response.json()


def test_a_missing_booking_is_a_404_before_the_body(api):
    response = api.post(
        "/v2/bookings/999999/change_status", {"status": "lead", "lost_note": "x"}, format="json"
    )
    assert response.status_code == 404


# --- require_lost_reason -----------------------------------------------------------------


def test_a_business_that_requires_a_reason_refuses_lost_without_one(api, business, make_booking):
    business.require_lost_reason = True
    business.save()
    booking = make_booking()
    before = written(booking)
    for body in ({"status": "lost"}, {"status": "lost", "lost_note": "no reason given"}):
        response = change(api, booking, **body)
        assert response.status_code == 400
        assert list(response.json()) == ["lost_reason_id"]
    assert written(booking) == before
    # Other statuses need none; lost with one is taken.
    assert change(api, booking, status="tentative").status_code == 200
    reason = shared("no_response")
    assert change(api, booking, status="lost", lost_reason_id=reason.pk).status_code == 200


def test_the_bulk_change_requires_it_too(api, business, make_booking):
    business.require_lost_reason = True
    business.save()
    ids = [make_booking().pk, make_booking().pk]
    response = api.post("/v2/bookings/change_status", {"ids": ids, "status": "lost"}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["lost_reason_id"])


# --- leaving lost; the record as it was ---------------------------------------------------


@pytest.mark.parametrize("status", ["lead", "tentative", "definite"])
def test_leaving_lost_clears_the_reason_and_note_and_the_history_keeps_them(
    api, make_booking, status
):
    booking = make_booking()
    reason = shared("another_venue")
    change(api, booking, status="lost", lost_reason_id=reason.pk, lost_note="Went elsewhere")
    body = change(api, booking, status=status).json()
    assert (body["lost_at"], body["lost_reason"], body["lost_note"]) == (None, None, None)
    entries = api.get(f"/v2/bookings/{booking.pk}/status_history").json()["results"]
    assert [(e["to_status"], e["lost_reason"], e["lost_note"]) for e in entries] == [
        ("lost", record(reason), "Went elsewhere"),
        (status, None, None),
    ]


def test_lost_again_records_its_own_reason(api, make_booking):
    booking = make_booking()
    change(api, booking, status="lost", lost_reason_id=shared("budget").pk)
    body = change(api, booking, status="lost").json()
    assert body["lost_reason"] is None  # a correction records what it names


def test_a_relabel_changes_neither_the_booking_nor_its_history(api, business, make_booking):
    reason = LostReasonList.of(business).add({"code": "budget", "label": "Over budget"})
    booking = make_booking()
    change(api, booking, status="lost", lost_reason_id=reason.pk)
    LostReasonList.of(business).update(reason.pk, {"label": "Too expensive"})
    body = api.get(f"/v2/bookings/{booking.pk}").json()
    assert body["lost_reason"]["label"] == "Over budget"
    [entry] = api.get(f"/v2/bookings/{booking.pk}/status_history").json()["results"]
    assert entry["lost_reason"]["label"] == "Over budget"


def test_a_booking_lost_with_a_shared_reason_keeps_its_id_after_the_fork(
    api, business, make_booking
):
    reason = shared("budget")
    booking = make_booking()
    change(api, booking, status="lost", lost_reason_id=reason.pk)
    api.post("/v2/lost_reasons", {"code": "weather", "label": "Weather"}, format="json")
    assert LostReason.objects.for_business(business.id).filter(code="budget").exists()
    body = api.get(f"/v2/bookings/{booking.pk}").json()
    assert body["lost_reason"] == record(reason)
    assert api.get(f"/v2/lost_reasons/{reason.pk}").json()["code"] == "budget"


# --- bulk, create, PATCH, events ---------------------------------------------------------


def test_a_bulk_change_to_lost_applies_the_reason_to_every_booking(api, make_booking):
    reason = shared("date_unavailable")
    ids = [make_booking().pk for _ in range(3)]
    response = api.post(
        "/v2/bookings/change_status",
        {"ids": ids, "status": "lost", "lost_reason_id": reason.pk, "lost_note": "Booked"},
        format="json",
    )
    assert response.status_code == 200
    assert {(b["lost_reason"]["id"], b["lost_note"]) for b in response.json()["results"]} == {
        (reason.pk, "Booked")
    }
    assert BookingStatusChange.objects.filter(lost_reason__isnull=False).count() == 3


def test_a_bulk_change_to_another_status_refuses_a_reason(api, make_booking):
    ids = [make_booking().pk]
    response = api.post(
        "/v2/bookings/change_status",
        {"ids": ids, "status": "definite", "lost_reason_id": shared("budget").pk},
        format="json",
    )
    assert (response.status_code, list(response.json())) == (400, ["lost_reason_id"])


def test_a_booking_created_lost_may_name_its_reason(api):
    reason = shared("event_cancelled")
    response = api.post(
        "/v2/bookings",
        {"name": "Gala", "status": "lost", "lost_reason_id": reason.pk, "lost_note": "Off"},
        format="json",
    )
    assert response.status_code == 201
    assert (response.json()["lost_reason"], response.json()["lost_note"]) == (record(reason), "Off")
    response = api.post(
        "/v2/bookings", {"name": "Gala", "lost_reason_id": reason.pk}, format="json"
    )
    assert (response.status_code, list(response.json())) == (400, ["lost_reason_id"])


@pytest.mark.parametrize("field", ["lost_reason", "lost_note"])
def test_patch_refuses_the_reason_fields_pointing_to_change_status(api, make_booking, field):
    booking = make_booking()
    response = api.patch(f"/v2/bookings/{booking.pk}", {field: None}, format="json")
    assert response.status_code == 400
    assert "change_status" in response.json()[field][0]


def test_the_status_changed_event_carries_the_booking_and_entry_as_get_shows_them(
    api, make_booking
):
    booking = make_booking()
    change(api, booking, status="lost", lost_reason_id=shared("budget").pk, lost_note="Note")
    [event] = Event.objects.filter(type="booking.status_changed")
    get = api.get(f"/v2/bookings/{booking.pk}")
    [entry] = api.get(f"/v2/bookings/{booking.pk}/status_history").json()["results"]
    assert event.data["booking"] == get.json()
    assert list(event.data["booking"]) == list(get.json())
    assert event.data["change"] == entry
    assert list(event.data["change"]) == list(entry)
