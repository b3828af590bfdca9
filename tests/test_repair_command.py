"""repair_booking_status_dates: stray lost dates, mismatched dates, missing own dates."""

import datetime as dt
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from bookings import fixes
from bookings.models import Booking, BookingStatusChange

STAMPED = ["tentative", "definite", "lost"]
NOT_LOST = ["lead", "tentative", "definite"]
EARLIER = dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC)
MOMENT = dt.datetime(2025, 1, 15, 23, 30, tzinfo=dt.UTC)
LATER = dt.datetime(2025, 2, 1, 8, 0, tzinfo=dt.UTC)


def repair(*args: str) -> str:
    stdout = StringIO()
    call_command("repair_booking_status_dates", *args, stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def snapshot(*bookings: Booking) -> list[dict]:
    """Every column of the bookings as stored, updated_at included."""
    return list(Booking.objects.filter(pk__in=[b.pk for b in bookings]).order_by("pk").values())


def stamped(status: str, moment: dt.datetime = EARLIER) -> dict:
    return {f"{status}_at": moment, f"{status}_date": moment.date()}


def record(booking: Booking, to_status: str, moment: dt.datetime, from_status: str = "lead"):
    return BookingStatusChange.objects.create(
        booking=booking,
        business_id=booking.business_id,
        from_status=from_status,
        to_status=to_status,
        status_at=moment,
        source="api",
    )


def command_entries(booking: Booking) -> list[tuple]:
    return list(
        booking.status_changes.filter(source="command").values_list(
            "from_status", "to_status", "status_at", "changed_by"
        )
    )


# --- lost_* on a booking that is not lost -----------------------------------


@pytest.mark.parametrize("status", NOT_LOST)
def test_clears_stray_lost_dates(make_booking, status):
    own = stamped(status) if status != "lead" else {}
    booking = make_booking(status=status, **own, **stamped("lost", LATER))
    updated_at = booking.updated_at

    output = repair()

    booking.refresh_from_db()
    assert (booking.lost_at, booking.lost_date) == (None, None)
    assert {field: getattr(booking, field) for field in own} == own
    assert booking.updated_at == updated_at
    assert "stray lost dates cleared 1" in output


@pytest.mark.parametrize("status", ["tentative", "definite"])
def test_stray_lost_history_entry_carries_the_status_own_moment(make_booking, status):
    booking = make_booking(status=status, **stamped(status), lost_date=LATER.date())

    output = repair()

    assert command_entries(booking) == [(status, status, EARLIER, None)]
    assert "wrote 1 history entries" in output


def test_stray_lost_history_entry_of_a_lead_is_stamped_now(make_booking):
    booking = make_booking(lost_at=LATER, lost_date=LATER.date())
    before = timezone.now()

    repair()

    [(from_status, to_status, moment, changed_by)] = command_entries(booking)
    assert (from_status, to_status, changed_by) == ("lead", "lead", None)
    assert before <= moment <= timezone.now()


def test_lost_booking_keeps_its_lost_dates(make_booking):
    booking = make_booking(status="lost", **stamped("lost"))
    before = snapshot(booking)

    assert "Nothing to repair" in repair()
    assert snapshot(booking) == before


# --- a date that is not the UTC date of its datetime ---------------------------


@pytest.mark.parametrize("status", STAMPED)
def test_corrects_a_date_that_is_not_the_utc_date_of_its_datetime(make_booking, status):
    # 23:30Z is already the next day east of UTC: a date taken in local time.
    booking = make_booking(
        status=status, **{f"{status}_at": MOMENT, f"{status}_date": dt.date(2025, 1, 16)}
    )
    updated_at = booking.updated_at

    output = repair()

    booking.refresh_from_db()
    assert getattr(booking, f"{status}_date") == dt.date(2025, 1, 15)
    assert getattr(booking, f"{status}_at") == MOMENT
    assert booking.updated_at == updated_at
    assert "mismatched dates corrected 1" in output


@pytest.mark.parametrize("status", STAMPED)
def test_fills_a_null_date_from_its_datetime(make_booking, status):
    booking = make_booking(status=status, **{f"{status}_at": MOMENT})

    output = repair()

    booking.refresh_from_db()
    assert getattr(booking, f"{status}_date") == dt.date(2025, 1, 15)
    assert "mismatched dates corrected 1" in output


@pytest.mark.parametrize("status", STAMPED)
def test_date_corrections_write_no_history(make_booking, status):
    booking = make_booking(status=status, **{f"{status}_at": MOMENT})

    output = repair()

    assert not booking.status_changes.exists()
    assert "wrote 0 history entries" in output


def test_corrects_the_date_of_an_earlier_status(make_booking):
    booking = make_booking(
        status="definite", tentative_at=MOMENT, tentative_date=MOMENT.date(), **stamped("definite")
    )
    Booking.objects.filter(pk=booking.pk).update(tentative_date=dt.date(2024, 12, 31))

    repair()

    booking.refresh_from_db()
    assert booking.tentative_date == MOMENT.date()
    assert (booking.definite_at, booking.definite_date) == (EARLIER, EARLIER.date())


# --- the current status without its own date ---------------------------------


@pytest.mark.parametrize("status", STAMPED)
def test_stamps_a_missing_own_date_from_the_latest_history_entry(make_booking, status):
    booking = make_booking(status=status)
    record(booking, status, LATER)
    # A backdated correction, recorded later: it is the one change_status applied last.
    record(booking, status, EARLIER, from_status=status)
    record(booking, "lead", MOMENT, from_status=status)  # another status: not this one's

    output = repair()

    booking.refresh_from_db()
    assert getattr(booking, f"{status}_at") == EARLIER
    assert getattr(booking, f"{status}_date") == EARLIER.date()
    assert command_entries(booking) == [(status, status, EARLIER, None)]
    assert "missing status dates stamped 1" in output


@pytest.mark.parametrize("status", STAMPED)
def test_stamps_a_missing_own_date_from_updated_at_without_history(make_booking, status):
    booking = make_booking(status=status)
    Booking.objects.filter(pk=booking.pk).update(updated_at=MOMENT)

    repair()

    booking.refresh_from_db()
    assert getattr(booking, f"{status}_at") == MOMENT
    assert getattr(booking, f"{status}_date") == MOMENT.date()
    assert booking.updated_at == MOMENT
    assert command_entries(booking) == [(status, status, MOMENT, None)]


@pytest.mark.parametrize("status", ["tentative", "definite"])
def test_missing_own_date_and_stray_lost_dates_write_one_entry(make_booking, status):
    booking = make_booking(status=status, **stamped("lost", LATER))
    record(booking, status, MOMENT)

    output = repair()

    booking.refresh_from_db()
    assert (getattr(booking, f"{status}_at"), booking.lost_at) == (MOMENT, None)
    assert command_entries(booking) == [(status, status, MOMENT, None)]
    assert "missing status dates stamped 1, stray lost dates cleared 1" in output


def test_a_lead_needs_no_own_date(make_booking):
    make_booking()

    assert "Nothing to repair" in repair()


# --- the command as a whole -----------------------------------------------------


@pytest.fixture
def broken_bookings(make_booking) -> list[Booking]:
    """One booking per kind of repair, and one with two kinds."""
    return [
        make_booking(status="tentative", **stamped("tentative"), **stamped("lost", LATER)),
        make_booking(status="definite", definite_at=MOMENT, definite_date=dt.date(2025, 1, 16)),
        make_booking(status="lost"),
        make_booking(status="definite", definite_at=MOMENT, lost_date=LATER.date()),
    ]


@pytest.mark.parametrize("status", STAMPED)
def test_leaves_consistent_rows_alone(make_booking, broken_bookings, status):
    untouched = [
        make_booking(),
        make_booking(status=status, **stamped(status)),
        make_booking(status=status, **(stamped("tentative") | stamped(status, MOMENT))),
        # Data awaiting backfill_status_datetimes is not inconsistent.
        make_booking(status=status, **{f"{status}_date": EARLIER.date()}),
    ]
    before = snapshot(*untouched)

    repair()

    assert snapshot(*untouched) == before
    for booking in untouched:
        assert not booking.status_changes.exists()


def test_summary_counts_each_kind(broken_bookings):
    output = repair()

    assert (
        "Made 5 repairs (missing status dates stamped 1, stray lost dates cleared 2, "
        "mismatched dates corrected 2); wrote 3 history entries." in output
    )
    assert not Booking.objects.filter(fixes.needing_repair()).exists()


def test_dry_run_changes_nothing(broken_bookings):
    before = snapshot(*broken_bookings)

    output = repair("--dry-run")

    assert snapshot(*broken_bookings) == before
    assert not BookingStatusChange.objects.exists()
    assert (
        "Dry run: would make 5 repairs (missing status dates stamped 1, stray lost dates "
        "cleared 2, mismatched dates corrected 2) and write 3 history entries; "
        "nothing was changed." in output
    )


def test_second_run_changes_nothing(broken_bookings):
    repair()
    after_first = snapshot(*broken_bookings)
    history = BookingStatusChange.objects.count()

    output = repair()

    assert snapshot(*broken_bookings) == after_first
    assert BookingStatusChange.objects.count() == history
    assert "Nothing to repair" in output


def test_business_option_touches_only_that_business(make_booking, other_business):
    ours = make_booking(status="lost")
    theirs = make_booking(status="lost", business=other_business)
    before = snapshot(ours)

    output = repair("--business", str(other_business.pk))

    assert snapshot(ours) == before
    assert not ours.status_changes.exists()
    theirs.refresh_from_db()
    assert theirs.lost_at == theirs.updated_at
    assert "missing status dates stamped 1" in output


def test_unknown_business_is_an_error(broken_bookings):
    before = snapshot(*broken_bookings)

    with pytest.raises(CommandError, match="no business 99999"):
        repair("--business", "99999")

    assert snapshot(*broken_bookings) == before


def test_small_batches_repair_everything(broken_bookings):
    output = repair("--batch-size", "1")

    assert "Made 5 repairs" in output
    assert not Booking.objects.filter(fixes.needing_repair()).exists()


def test_progress_bar_on_a_terminal_only(capsys, monkeypatch, broken_bookings):
    repair()
    assert capsys.readouterr().err == ""

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    repair("--batch-size", "1")
    assert "repair_booking_status_dates" in capsys.readouterr().err

    repair("--no-progress")
    assert capsys.readouterr().err == ""
