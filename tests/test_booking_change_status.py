"""Booking.change_status: the one write path of a booking's status (SPEC §3)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import Booking, BookingStatusChange
from bookings.stamping import BookingStatus, status_stamp
from core.errors import InvalidValue, NotFound
from core.models import ChangeSource

T_TENTATIVE = dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC)
T_DEFINITE = dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC)
T_LOST = dt.datetime(2025, 1, 12, 8, 0, tzinfo=dt.UTC)
T_CHANGE = dt.datetime(2025, 2, 1, 23, 45, 30, tzinfo=dt.UTC)

STATUSES = [status.value for status in BookingStatus]
STAMPED = ["tentative", "definite", "lost"]


def booking_in(status: str, make_booking) -> Booking:
    """A booking that reached `status` the long way, so every earlier date is set."""
    booking = make_booking()
    if status == "tentative":
        booking.change_status("tentative", at=T_TENTATIVE)
    elif status == "definite":
        booking.change_status("tentative", at=T_TENTATIVE)
        booking.change_status("definite", at=T_DEFINITE)
    elif status == "lost":
        booking.change_status("tentative", at=T_TENTATIVE)
        booking.change_status("lost", at=T_LOST)
    booking.refresh_from_db()
    assert booking.status == status
    return booking


def status_fields(booking: Booking) -> dict:
    return {
        name: getattr(booking, name)
        for name in ["status"] + [f"{s}_{part}" for s in STAMPED for part in ("at", "date")]
    }


@pytest.mark.django_db
@pytest.mark.parametrize("to_status", STATUSES)
@pytest.mark.parametrize("from_status", STATUSES)
def test_every_transition_sets_keeps_and_clears_the_right_fields(
    from_status, to_status, make_booking
):
    booking = booking_in(from_status, make_booking)
    before = status_fields(booking)

    booking.change_status(to_status, at=T_CHANGE)
    booking.refresh_from_db()
    after = status_fields(booking)

    assert after["status"] == to_status
    for stamped in STAMPED:
        at, date = after[f"{stamped}_at"], after[f"{stamped}_date"]
        if stamped == to_status:
            assert (at, date) == (T_CHANGE, T_CHANGE.date()), "the new status is stamped"
        elif stamped == "lost":
            assert (at, date) == (None, None), "leaving lost (or never lost) clears lost_*"
        else:
            assert (at, date) == (before[f"{stamped}_at"], before[f"{stamped}_date"]), (
                "an earlier status keeps its dates"
            )


@pytest.mark.django_db
@pytest.mark.parametrize("to_status", STATUSES)
@pytest.mark.parametrize("from_status", STATUSES)
def test_every_transition_writes_exactly_one_history_entry(
    from_status, to_status, make_booking, api_user
):
    booking = booking_in(from_status, make_booking)
    count_before = booking.status_changes.count()

    booking.change_status(to_status, at=T_CHANGE, by=api_user, source=ChangeSource.ADMIN)

    assert booking.status_changes.count() == count_before + 1
    entry = booking.status_changes.last()
    assert (entry.from_status, entry.to_status, entry.status_at) == (
        from_status,
        to_status,
        T_CHANGE,
    )
    assert entry.changed_by == api_user.username
    assert entry.source == "admin"
    assert entry.recorded_at > T_CHANGE


@pytest.mark.django_db
def test_seed_example_tentative_then_definite_preserves_tentative(make_booking):
    booking = make_booking()
    booking.change_status("tentative", at=dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC))
    booking.change_status("definite", at=dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC))
    booking.refresh_from_db()

    assert booking.status == "definite"
    assert booking.definite_date == dt.date(2025, 1, 15)
    assert booking.definite_at == dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC)
    assert booking.tentative_date == dt.date(2025, 1, 10)
    assert booking.tentative_at == dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC)
    assert booking.lost_date is None
    assert booking.lost_at is None


@pytest.mark.django_db
def test_date_is_the_utc_date_of_the_moment_even_when_given_with_an_offset(make_booking):
    booking = make_booking()
    # 2025-01-10 23:30 in New York is already 2025-01-11 in UTC.
    new_york = dt.timezone(dt.timedelta(hours=-5))
    booking.change_status("tentative", at=dt.datetime(2025, 1, 10, 23, 30, tzinfo=new_york))
    booking.refresh_from_db()

    assert booking.tentative_at == dt.datetime(2025, 1, 11, 4, 30, tzinfo=dt.UTC)
    assert booking.tentative_date == dt.date(2025, 1, 11)


@pytest.mark.django_db
def test_changing_to_the_current_status_restamps_it_and_is_recorded(make_booking):
    booking = booking_in("tentative", make_booking)
    booking.change_status("tentative", at=T_CHANGE)
    booking.refresh_from_db()

    assert booking.tentative_at == T_CHANGE
    last = booking.status_changes.last()
    assert (last.from_status, last.to_status) == ("tentative", "tentative")


@pytest.mark.django_db
def test_without_a_moment_the_status_takes_effect_now(make_booking):
    booking = make_booking()
    before = dt.datetime.now(dt.UTC)
    booking.change_status("definite")
    booking.refresh_from_db()

    assert before <= booking.definite_at <= dt.datetime.now(dt.UTC)
    assert booking.definite_date == booking.definite_at.date()


@pytest.mark.django_db
def test_a_moment_a_little_ahead_is_tolerated_but_not_more_than_five_minutes(make_booking):
    booking = make_booking()
    booking.change_status("tentative", at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=4))

    with pytest.raises(InvalidValue) as refused:
        booking.change_status("definite", at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6))
    assert refused.value.field == "status_at"
    booking.refresh_from_db()
    assert booking.status == "tentative"
    assert booking.definite_at is None
    assert booking.status_changes.count() == 1


@pytest.mark.django_db
def test_an_unknown_status_is_refused_and_nothing_is_written(make_booking):
    booking = make_booking()
    with pytest.raises(InvalidValue) as refused:
        booking.change_status("confirmed")
    assert refused.value.field == "status"
    booking.refresh_from_db()
    assert booking.status == "lead"
    assert not BookingStatusChange.objects.exists()


@pytest.mark.django_db
def test_change_status_rereads_the_row_instead_of_trusting_a_stale_instance(make_booking):
    stale = make_booking()
    fresh = Booking.objects.get(pk=stale.pk)
    fresh.change_status("tentative", at=T_TENTATIVE)

    stale.change_status("definite", at=T_DEFINITE)
    stale.refresh_from_db()

    assert stale.tentative_at == T_TENTATIVE, "the stale copy must not wipe tentative_at"
    assert stale.status_changes.last().from_status == "tentative"


@pytest.mark.django_db
def test_history_keeps_recorded_order_for_a_backdated_correction(make_booking):
    booking = make_booking()
    booking.change_status("tentative", at=T_TENTATIVE)
    booking.change_status("definite", at=T_DEFINITE)
    booking.change_status("tentative", at=T_TENTATIVE - dt.timedelta(days=30))

    assert list(booking.status_changes.values_list("to_status", flat=True)) == [
        "tentative",
        "definite",
        "tentative",
    ]


@pytest.mark.django_db
def test_a_partly_loaded_booking_changes_and_ends_up_holding_all_of_it(make_booking):
    booking = booking_in("tentative", make_booking)

    handle = Booking.objects.only("id", "business").get(pk=booking.pk)
    handle.change_status("definite", at=T_DEFINITE)

    stored = Booking.objects.get(pk=booking.pk)
    assert (stored.status, stored.definite_at) == ("definite", T_DEFINITE)
    assert handle.get_deferred_fields() == set()
    assert (handle.pk, handle.name, handle.tentative_at) == (booking.pk, booking.name, T_TENTATIVE)


@pytest.mark.django_db
def test_a_booking_handed_over_with_another_business_is_not_found(make_booking, other_business):
    booking = make_booking()

    with pytest.raises(NotFound):
        Booking(pk=booking.pk, business_id=other_business.id).change_status("lost")
    assert Booking.objects.get(pk=booking.pk).status == "lead"


# --- the stamp: the one rule, pure --------------------------------------------------

# Leaving lost clears what lost recorded; leaving tentative, the hold (SPEC §15).
LOST_CLEARED = {"lost_at": None, "lost_date": None, "lost_reason": None, "lost_note": None}
HOLD_CLEARED = {"hold_until": None, "hold_reminded_at": None}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("lead", {"status": "lead", **LOST_CLEARED, **HOLD_CLEARED}),
        (
            "tentative",
            {
                "status": "tentative",
                "tentative_at": T_CHANGE,
                "tentative_date": dt.date(2025, 2, 1),
                **LOST_CLEARED,
            },
        ),
        (
            "definite",
            {
                "status": "definite",
                "definite_at": T_CHANGE,
                "definite_date": dt.date(2025, 2, 1),
                **LOST_CLEARED,
                **HOLD_CLEARED,
            },
        ),
        (
            "lost",
            {
                "status": "lost",
                "lost_at": T_CHANGE,
                "lost_date": dt.date(2025, 2, 1),
                "lost_reason": None,
                "lost_note": None,
                **HOLD_CLEARED,
            },
        ),
    ],
)
def test_the_stamp_names_exactly_the_fields_a_change_sets(status, expected):
    assert status_stamp(status, T_CHANGE) == expected


def test_the_stamp_dates_a_moment_given_with_an_offset_by_its_utc_date():
    late_evening_in_new_york = dt.datetime(
        2025, 1, 15, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))
    )
    assert status_stamp("definite", late_evening_in_new_york)["definite_date"] == dt.date(
        2025, 1, 16
    )


@pytest.mark.django_db
@pytest.mark.parametrize("to_status", STATUSES)
def test_change_status_updates_exactly_the_stamped_fields_updated_at_and_version(
    make_booking, to_status
):
    booking = make_booking()

    with CaptureQueriesContext(connection) as captured:
        booking.change_status(to_status, at=T_CHANGE)

    [update] = [query["sql"] for query in captured if query["sql"].startswith("UPDATE")]
    assigned = update.split(" SET ")[1].split(" WHERE ")[0]
    columns = {assignment.split(" = ")[0].strip('"') for assignment in assigned.split(", ")}
    assert columns == {*status_stamp(to_status, T_CHANGE), "updated_at", "version"}
