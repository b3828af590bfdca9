"""generate_bookings: realistic bookings for benchmarks and demos, optionally broken."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from accounts.models import Business
from bookings import fixes
from bookings.models import Booking, BookingStatusChange
from bookings.stamping import STAMPED_STATUSES, status_date_of


def run(command: str, *args: str) -> str:
    stdout = StringIO()
    call_command(command, *args, "--no-progress", stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def generate(*args: str) -> str:
    return run("generate_bookings", *args)


def test_creates_bookings_spread_over_businesses(db):
    output = generate("--count", "300", "--businesses", "3", "--seed", "7")

    assert Booking.objects.count() == 300
    assert set(Business.objects.values_list("pk", flat=True)) == {100001, 100002, 100003}
    per_business = dict(
        Booking.objects.values_list("business_id").annotate(n=Count("pk")).order_by()
    )
    assert set(per_business) == {100001, 100002, 100003}
    assert set(Booking.objects.values_list("status", flat=True)) == {
        "lead",
        "tentative",
        "definite",
        "lost",
    }
    assert "Generated 300 bookings" in output
    assert "seed 7" in output


def test_generated_bookings_are_consistent(db):
    generate("--count", "300", "--businesses", "2", "--seed", "3")
    now = timezone.now()

    assert not Booking.objects.filter(fixes.NEEDING_BACKFILL).exists()
    assert not Booking.objects.filter(fixes.needing_repair()).exists()
    latest = BookingStatusChange.objects.filter(booking=OuterRef("pk")).order_by("-id")
    for booking in Booking.objects.annotate(
        last_to=Subquery(latest.values("to_status")[:1]),
        last_at=Subquery(latest.values("status_at")[:1]),
    ):
        for status in STAMPED_STATUSES:
            moment = getattr(booking, f"{status}_at")
            assert getattr(booking, f"{status}_date") == (moment and status_date_of(moment))
            assert moment is None or booking.created_at <= moment <= now
        if booking.status == "lead":
            assert booking.last_to is None  # created as a lead, never moved
        else:
            # The latest history entry is the change that left the booking as it is.
            assert booking.last_to == booking.status
            assert booking.last_at == getattr(booking, f"{booking.status}_at")
        assert booking.created_at <= booking.updated_at
        assert booking.starts_at <= booking.ends_at


def test_broken_fraction_gives_each_fix_command_its_work(db):
    output = generate(
        "--count", "400", "--businesses", "2", "--seed", "11", "--broken-fraction", "0.5"
    )
    broken = {
        kind: int(n)
        for n, kind in re.findall(
            r"(\d+) (bookings need a backfill|datetimes|mismatched dates|stray lost dates|"
            r"missing status dates)",
            output,
        )
    }
    assert len(broken) == 5
    assert all(broken.values())

    backfill_dry_run = run("backfill_status_datetimes", "--dry-run")
    repair_dry_run = run("repair_booking_status_dates", "--dry-run")

    assert f"would backfill {broken['bookings need a backfill']} bookings" in backfill_dry_run
    per_field = re.findall(r"(?:tentative|definite|lost)_at (\d+)", backfill_dry_run)
    assert sum(map(int, per_field)) == broken["datetimes"]
    assert f"missing status dates stamped {broken['missing status dates']}" in repair_dry_run
    assert f"stray lost dates cleared {broken['stray lost dates']}" in repair_dry_run
    assert f"mismatched dates corrected {broken['mismatched dates']}" in repair_dry_run

    run("backfill_status_datetimes")
    run("repair_booking_status_dates")

    assert not Booking.objects.filter(fixes.NEEDING_BACKFILL).exists()
    assert not Booking.objects.filter(fixes.needing_repair()).exists()
    assert "Nothing to backfill" in run("backfill_status_datetimes")
    assert "Nothing to repair" in run("repair_booking_status_dates")


def test_same_seed_generates_the_same_bookings(db):
    generate("--count", "50", "--businesses", "4", "--seed", "5")
    generate("--count", "50", "--businesses", "4", "--seed", "5")

    rows = list(
        Booking.objects.order_by("pk").values_list("business_id", "name", "status", "guest_count")
    )
    assert rows[:50] == rows[50:]


def test_appends_after_existing_bookings(make_booking):
    existing = make_booking()

    generate("--count", "10", "--businesses", "1")

    assert Booking.objects.filter(pk__gt=existing.pk).count() == 10
    assert Booking.objects.create(business=existing.business, name="next").pk > existing.pk + 10


@pytest.mark.parametrize(
    "args",
    [
        ["--count", "-1", "--businesses", "1"],
        ["--count", "1", "--businesses", "0"],
        ["--count", "1", "--businesses", "1", "--broken-fraction", "1.5"],
    ],
)
def test_refuses_bad_arguments(db, args):
    with pytest.raises(CommandError):
        generate(*args)

    assert not Booking.objects.exists()
