"""backfill_status_datetimes: a `*_date` without its `*_at` gets that date at 00:00:00Z."""

import datetime as dt
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bookings import fixes
from bookings.models import Booking, BookingStatusChange

STAMPED = ["tentative", "definite", "lost"]
DAY = dt.date(2025, 1, 10)
MIDNIGHT = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
MOMENT = dt.datetime(2025, 1, 12, 9, 15, tzinfo=dt.UTC)


def backfill(*args: str) -> str:
    stdout = StringIO()
    call_command("backfill_status_datetimes", *args, stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def snapshot(*bookings: Booking) -> list[dict]:
    """Every column of the bookings as stored, updated_at included."""
    return list(Booking.objects.filter(pk__in=[b.pk for b in bookings]).order_by("pk").values())


@pytest.fixture
def make_legacy_booking(make_booking):
    """A booking from before the datetime fields: status date set, datetime null."""

    def make(status: str, **fields) -> Booking:
        return make_booking(status=status, **{f"{status}_date": DAY}, **fields)

    return make


@pytest.mark.parametrize("status", STAMPED)
def test_backfills_the_date_at_midnight_utc(make_legacy_booking, status):
    booking = make_legacy_booking(status)
    updated_at = booking.updated_at

    output = backfill()

    booking.refresh_from_db()
    assert getattr(booking, f"{status}_at") == MIDNIGHT
    assert getattr(booking, f"{status}_date") == DAY
    assert booking.updated_at == updated_at
    assert "Backfilled the status datetimes of 1 booking." in output


@pytest.mark.parametrize("status", STAMPED)
def test_backfilled_value_is_stored_like_any_datetime(make_legacy_booking, status):
    """An exact filter finds it (on SQLite a plain CAST would store another text form)."""
    booking = make_legacy_booking(status)

    backfill()

    assert list(Booking.objects.filter(**{f"{status}_at": MIDNIGHT})) == [booking]


def test_backfills_every_date_of_a_booking(make_booking):
    booking = make_booking(
        status="lost", tentative_date=DAY, definite_date=DAY, lost_date=dt.date(2025, 2, 1)
    )

    output = backfill()

    booking.refresh_from_db()
    assert (booking.tentative_at, booking.definite_at, booking.lost_at) == (
        MIDNIGHT,
        MIDNIGHT,
        dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
    )
    assert "Backfilled the status datetimes of 1 booking." in output


def test_dry_run_counts_per_field(make_booking, make_legacy_booking):
    make_booking(status="lost", tentative_date=DAY, definite_date=DAY, lost_date=DAY)
    make_legacy_booking("definite")

    output = backfill("--dry-run")

    assert (
        "Dry run: would backfill 2 bookings (tentative_at 1, definite_at 2, lost_at 1); "
        "nothing was changed." in output
    )


@pytest.mark.parametrize("status", STAMPED)
def test_dry_run_changes_nothing(make_legacy_booking, status):
    booking = make_legacy_booking(status)
    before = snapshot(booking)

    output = backfill("--dry-run")

    assert snapshot(booking) == before
    assert "Dry run: would backfill 1 booking (" in output
    assert f"{status}_at 1" in output
    assert "nothing was changed" in output


@pytest.mark.parametrize("status", STAMPED)
def test_touches_only_the_rows_that_need_it(make_booking, make_legacy_booking, status):
    legacy = make_legacy_booking(status)
    untouched = [
        make_booking(),
        make_booking(status=status, **{f"{status}_date": DAY, f"{status}_at": MOMENT}),
        # Not the backfill's business (repair_booking_status_dates fixes those):
        make_booking(status=status, **{f"{status}_at": MOMENT}),
        make_booking(status=status, **{f"{status}_date": DAY, f"{status}_at": MIDNIGHT}),
    ]
    before = snapshot(*untouched)

    output = backfill()

    assert snapshot(*untouched) == before
    legacy.refresh_from_db()
    assert getattr(legacy, f"{status}_at") == MIDNIGHT
    assert "Backfilled the status datetimes of 1 booking." in output


def test_second_run_changes_nothing(make_legacy_booking):
    bookings = [make_legacy_booking(status) for status in STAMPED]
    backfill()
    after_first = snapshot(*bookings)

    output = backfill()

    assert snapshot(*bookings) == after_first
    assert "Nothing to backfill" in output


def test_business_option_touches_only_that_business(make_legacy_booking, other_business):
    ours = make_legacy_booking("definite")
    theirs = make_legacy_booking("definite", business=other_business)
    before = snapshot(ours)

    output = backfill("--business", str(other_business.pk))

    assert snapshot(ours) == before
    theirs.refresh_from_db()
    assert theirs.definite_at == MIDNIGHT
    assert "Backfilled the status datetimes of 1 booking." in output


def test_unknown_business_is_an_error(make_legacy_booking):
    booking = make_legacy_booking("tentative")
    before = snapshot(booking)

    with pytest.raises(CommandError, match="no business 99999"):
        backfill("--business", "99999")

    assert snapshot(booking) == before


def test_walks_every_batch_across_gaps_in_the_ids(make_legacy_booking):
    bookings = [make_legacy_booking(STAMPED[n % 3]) for n in range(9)]
    Booking.objects.filter(pk__in=[bookings[2].pk, bookings[3].pk, bookings[4].pk]).delete()

    output = backfill("--batch-size", "2")

    assert not Booking.objects.filter(fixes.NEEDING_BACKFILL).exists()
    assert "Backfilled the status datetimes of 6 bookings." in output


def test_writes_no_history(make_legacy_booking):
    make_legacy_booking("lost")

    backfill()

    assert not BookingStatusChange.objects.exists()


def test_nothing_to_do_on_an_empty_table(db):
    assert "Nothing to backfill" in backfill()


def test_progress_bar_on_a_terminal_only(capsys, monkeypatch, make_legacy_booking):
    make_legacy_booking("tentative")
    backfill()
    assert capsys.readouterr().err == ""

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    backfill("--batch-size", "1")
    assert "backfill_status_datetimes" in capsys.readouterr().err

    backfill("--no-progress")
    assert capsys.readouterr().err == ""
