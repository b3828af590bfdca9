"""Holds (SPEC §15.2, §17): `hold_until` on a change to tentative (single, bulk, create)
and by PATCH while tentative, every rule naming the field, and the hold cleared when the
booking leaves tentative."""

import datetime as dt

import pytest
from django.utils import timezone

from bookings.models import Booking
from events.models import Event
from tests.test_booking_lost_reasons import change, written

pytestmark = pytest.mark.django_db

T = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def patch(api, booking: Booking, **body):
    return api.patch(f"/v2/bookings/{booking.pk}", body, format="json")


@pytest.fixture
def held(api, make_booking):
    """A booking made tentative at T, held for a week from now."""
    booking = make_booking()
    until = timezone.now().replace(microsecond=0) + dt.timedelta(days=7)
    response = change(api, booking, status="tentative", status_at=iso(T), hold_until=iso(until))
    assert response.status_code == 200
    booking.refresh_from_db()
    return booking


def test_a_change_to_tentative_sets_the_hold(api, make_booking):
    booking = make_booking()
    until = T + dt.timedelta(days=10)
    response = change(api, booking, status="tentative", status_at=iso(T), hold_until=iso(until))
    assert response.status_code == 200
    body = response.json()
    assert body["hold_until"] == "2025-03-11T12:00:00Z"
    assert list(body).index("hold_until") == list(body).index("tentative_at") + 1
    booking.refresh_from_db()
    assert (booking.hold_until, booking.hold_reminded_at) == (until, None)
    [event] = Event.objects.filter(type="booking.status_changed")
    assert event.data["booking"] == api.get(f"/v2/bookings/{booking.pk}").json()


def test_every_booking_shows_a_hold_or_null(api, make_booking):
    body = api.get(f"/v2/bookings/{make_booking().pk}").json()
    assert body["hold_until"] is None


@pytest.mark.parametrize(
    ("hold_until", "why"),
    [
        (T, "equal to the change's moment"),
        (T - dt.timedelta(seconds=1), "before it"),
        (None, "at most 366 days from now"),
        ("1899-12-31T23:59:59Z", "before 1900"),
        ("2025-03-11", "a date alone"),
        ("soon", "malformed"),
        (12345, "not a string"),
    ],
)
def test_a_refused_hold_names_hold_until_and_writes_nothing(api, make_booking, hold_until, why):
    if hold_until is None:
        hold_until = timezone.now() + dt.timedelta(days=366, minutes=5)
    if isinstance(hold_until, dt.datetime):
        hold_until = iso(hold_until)
    booking = make_booking()
    before = written(booking)
    response = change(api, booking, status="tentative", status_at=iso(T), hold_until=hold_until)
    assert response.status_code == 400, why
    assert list(response.json()) == ["hold_until"], why
    assert written(booking) == before


def test_a_hold_of_almost_366_days_is_taken(api, make_booking):
    until = timezone.now() + dt.timedelta(days=366) - dt.timedelta(minutes=5)
    response = change(api, make_booking(), status="tentative", hold_until=iso(until))
    assert response.status_code == 200


def test_a_hold_after_now_when_the_change_is_now(api, make_booking):
    booking = make_booking()
    past = timezone.now() - dt.timedelta(hours=1)
    response = change(api, booking, status="tentative", hold_until=iso(past))
    assert (response.status_code, list(response.json())) == (400, ["hold_until"])


def test_a_backdated_change_may_hold_until_a_moment_already_past(api, make_booking):
    """It is then expired by the scheduler's next run (SPEC §17)."""
    response = change(
        api,
        make_booking(),
        status="tentative",
        status_at=iso(T),
        hold_until=iso(T + dt.timedelta(days=1)),
    )
    assert response.status_code == 200


@pytest.mark.parametrize("status", ["lead", "definite", "lost"])
@pytest.mark.parametrize("hold_until", [iso(T + dt.timedelta(days=3)), None])
def test_a_hold_with_another_status_is_refused(api, make_booking, status, hold_until):
    booking = make_booking()
    before = written(booking)
    response = change(api, booking, status=status, hold_until=hold_until)
    assert (response.status_code, list(response.json())) == (400, ["hold_until"])
    assert written(booking) == before


def test_tentative_again_without_hold_until_keeps_the_hold(api, held):
    body = change(api, held, status="tentative").json()
    assert body["hold_until"] == iso(held.hold_until)


def test_tentative_again_with_null_removes_the_hold(api, held):
    body = change(api, held, status="tentative", hold_until=None).json()
    assert body["hold_until"] is None


def test_tentative_again_with_a_new_hold_replaces_it_and_re_arms_the_reminder(api, held):
    Booking.objects.filter(pk=held.pk).update(hold_reminded_at=timezone.now())
    until = held.hold_until + dt.timedelta(days=3)
    body = change(api, held, status="tentative", hold_until=iso(until)).json()
    assert body["hold_until"] == iso(until)
    held.refresh_from_db()
    assert held.hold_reminded_at is None


@pytest.mark.parametrize("status", ["lead", "definite", "lost"])
def test_leaving_tentative_clears_the_hold(api, held, status):
    body = change(api, held, status=status).json()
    assert body["hold_until"] is None
    held.refresh_from_db()
    assert (held.hold_until, held.hold_reminded_at) == (None, None)


def test_a_bulk_change_to_tentative_holds_every_booking(api, make_booking):
    ids = [make_booking().pk for _ in range(3)]
    until = timezone.now().replace(microsecond=0) + dt.timedelta(days=2)
    response = api.post(
        "/v2/bookings/change_status",
        {"ids": ids, "status": "tentative", "hold_until": iso(until)},
        format="json",
    )
    assert response.status_code == 200
    assert {booking["hold_until"] for booking in response.json()["results"]} == {iso(until)}


def test_a_bulk_change_refuses_a_hold_naming_it(api, make_booking):
    ids = [make_booking().pk]
    response = api.post(
        "/v2/bookings/change_status",
        {"ids": ids, "status": "definite", "hold_until": iso(T)},
        format="json",
    )
    assert (response.status_code, list(response.json())) == (400, ["hold_until"])


def test_a_booking_created_tentative_may_be_held(api):
    until = timezone.now().replace(microsecond=0) + dt.timedelta(days=2)
    response = api.post(
        "/v2/bookings",
        {"name": "Gala", "status": "tentative", "hold_until": iso(until)},
        format="json",
    )
    assert (response.status_code, response.json()["hold_until"]) == (201, iso(until))


def test_a_booking_created_without_a_status_takes_no_hold(api):
    response = api.post("/v2/bookings", {"name": "Gala", "hold_until": iso(T)}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["hold_until"])
    assert not Booking.objects.exists()


# --- PATCH ---------------------------------------------------------------------------


def test_patch_extends_the_hold_like_any_edit(api, held):
    Booking.objects.filter(pk=held.pk).update(hold_reminded_at=timezone.now())
    until = held.hold_until + dt.timedelta(days=5)
    response = patch(api, held, hold_until=iso(until))
    assert response.status_code == 200
    assert (response.json()["hold_until"], response.json()["version"]) == (
        iso(until),
        held.version + 1,
    )
    assert response["ETag"] == f'"{held.version + 1}"'
    [event] = Event.objects.filter(type="booking.updated")
    assert event.data == {"booking": response.json(), "changed_fields": ["hold_until"]}
    held.refresh_from_db()
    assert held.hold_reminded_at is None  # a new hold re-arms the reminder


def test_patch_clears_the_hold(api, held):
    response = patch(api, held, hold_until=None)
    assert (response.status_code, response.json()["hold_until"]) == (200, None)


def test_patch_of_the_same_hold_writes_nothing(api, held):
    before = written(held)
    response = patch(api, held, hold_until=iso(held.hold_until))
    assert response.status_code == 200
    assert written(held) == before


@pytest.mark.parametrize("status", ["lead", "definite", "lost"])
@pytest.mark.parametrize("hold_until", [iso(T + dt.timedelta(days=3)), None])
def test_patch_outside_tentative_is_a_conflict_naming_hold_until(
    api, make_booking, status, hold_until
):
    booking = make_booking()
    if status != "lead":
        booking.change_status(status, at=T)
    before = written(booking)
    response = patch(api, booking, hold_until=hold_until, notes="also this")
    assert (response.status_code, list(response.json())) == (409, ["hold_until"])
    assert written(booking) == before


@pytest.mark.parametrize(
    "hold_until",
    [
        T,  # the booking's tentative_at
        T - dt.timedelta(days=1),
        None,  # more than 366 days from now
    ],
)
def test_patch_refuses_a_hold_that_does_not_fit(api, held, hold_until):
    if hold_until is None:
        hold_until = timezone.now() + dt.timedelta(days=367)
    before = written(held)
    response = patch(api, held, hold_until=iso(hold_until))
    assert (response.status_code, list(response.json())) == (400, ["hold_until"])
    assert written(held) == before


def test_patch_may_set_a_hold_already_past(api, held):
    """Past, yet after tentative_at: the scheduler expires it at its next run."""
    response = patch(api, held, hold_until=iso(T + dt.timedelta(hours=1)))
    assert response.status_code == 200


def test_patch_with_if_match_of_an_older_version_is_refused(api, held):
    response = api.patch(
        f"/v2/bookings/{held.pk}",
        {"hold_until": None},
        format="json",
        HTTP_IF_MATCH=f'"{held.version - 1}"',
    )
    assert response.status_code == 412


# --- list filters ---------------------------------------------------------------------


def test_the_list_filters_by_hold(api, make_booking):
    soon, later = make_booking(name="soon"), make_booking(name="later")
    now = timezone.now().replace(microsecond=0)
    change(api, soon, status="tentative", hold_until=iso(now + dt.timedelta(days=1)))
    change(api, later, status="tentative", hold_until=iso(now + dt.timedelta(days=10)))
    make_booking(name="no hold")

    def names(query: str) -> list[str]:
        response = api.get(f"/v2/bookings?{query}")
        assert response.status_code == 200
        return [booking["name"] for booking in response.json()["results"]]

    day_5 = iso(now + dt.timedelta(days=5))
    assert names(f"hold_until_before={day_5}") == ["soon"]
    assert names(f"hold_until_after={day_5}") == ["later"]
    assert names(f"hold_until_after={iso(now + dt.timedelta(days=1))}") == ["later", "soon"]
    response = api.get("/v2/bookings?hold_until_before=tomorrow")
    assert (response.status_code, list(response.json())) == (400, ["hold_until_before"])
