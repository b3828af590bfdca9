"""Real `manage.py run_schedules` processes against the test database (PostgreSQL: the
SQLite test database lives in the test process's memory): a running scheduler expires
a hold and stops cleanly on SIGTERM; two started together share 500 lapsed holds, each
moved exactly once; one killed mid-run loses and doubles nothing once restarted; a
person's change in progress wins over the scheduler."""

import datetime as dt
import importlib
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connections, transaction
from django.db.models import Count
from django.utils import timezone

from bookings.models import Booking, BookingStatusChange
from events.models import Event
from tests.conftest import requires_postgresql, url_of_the_test_database, wait_for

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    requires_postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shared_lost_reasons_installed"),
]


@pytest.fixture
def shared_lost_reasons_installed():
    """A transactional test may start on a database that an earlier one emptied: put the
    shared lost reasons back, as their migration does (it skips what is there)."""
    migration = importlib.import_module("bookings.migrations.0008_lost_reasons")
    migration.install_shared_defaults(apps, None)


def start_scheduler(*arguments: str, interval: str = "0.5") -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": url_of_the_test_database(),
        "SCHEDULER_INTERVAL": interval,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_schedules", *arguments],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def lapsed_holds(business, count: int) -> dict[int, dt.datetime]:
    """`count` (at most a day's seconds) tentative bookings whose holds lapsed, a second
    apart, starting a day ago: their ids and holds."""
    lapsed = timezone.now() - dt.timedelta(days=1)
    created = Booking.objects.bulk_create(
        Booking(
            business=business,
            name=f"held {n}",
            status="tentative",
            tentative_at=lapsed - dt.timedelta(days=2),
            tentative_date=(lapsed - dt.timedelta(days=2)).date(),
            hold_until=lapsed + dt.timedelta(seconds=n),
        )
        for n in range(count)
    )
    return {booking.pk: booking.hold_until for booking in created}


def assert_each_moved_exactly_once(holds: dict[int, dt.datetime]) -> None:
    """One history entry (the system's) and one event per booking, lost as of its hold."""
    ids = list(holds)
    entries = dict(
        BookingStatusChange.objects.filter(booking_id__in=ids, source="system")
        .values_list("booking_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    assert entries == dict.fromkeys(ids, 1)
    changed = [
        event.data["booking"]["id"] for event in Event.objects.filter(type="booking.status_changed")
    ]
    assert sorted(changed) == sorted(ids)
    assert set(Booking.objects.filter(pk__in=ids).values_list("status", "version")) == {("lost", 2)}
    assert dict(Booking.objects.filter(pk__in=ids).values_list("pk", "lost_at")) == holds


def test_a_running_scheduler_expires_a_hold_and_stops_on_sigterm(business):
    scheduler = start_scheduler()
    try:
        holds = lapsed_holds(business, 1)
        [pk] = holds
        wait_for(lambda: Booking.objects.get(pk=pk).status == "lost", 15, "the expiry")
        scheduler.send_signal(signal.SIGTERM)
        output, _ = scheduler.communicate(timeout=15)
    finally:
        scheduler.kill()
        scheduler.wait()
    assert scheduler.returncode == 0, output.decode()
    assert "hold_expiry: 1 moved" in output.decode()
    assert "scheduler stopped (hold_reminder: 0, hold_expiry: 1, " in output.decode()
    assert_each_moved_exactly_once(holds)


def test_two_schedulers_started_together_move_each_hold_exactly_once(business, other_business):
    holds = {**lapsed_holds(business, 300), **lapsed_holds(other_business, 200)}
    schedulers = [start_scheduler("--once") for _ in range(2)]
    outputs = []
    for scheduler in schedulers:
        output, _ = scheduler.communicate(timeout=120)
        assert scheduler.returncode == 0, output.decode()
        outputs.append(output.decode())
    assert_each_moved_exactly_once(holds)
    # Both took part, or one found everything done: either way 500 in all.
    moved = [int(re.search(r"hold_expiry: (\d+)[,)]", out)[1]) for out in outputs]
    assert sum(moved) == 500


def test_a_scheduler_killed_mid_run_loses_and_doubles_nothing(business):
    holds = lapsed_holds(business, 4000)
    ids = list(holds)
    killed = start_scheduler()
    try:
        wait_for(
            lambda: Booking.objects.filter(pk__in=ids, status="lost").exists(),
            60,
            "the first batch",
        )
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
    finally:
        killed.kill()
        killed.wait()
    assert Booking.objects.filter(pk__in=ids, status="tentative").exists(), "killed too late"
    assert BookingStatusChange.objects.filter(source="system").count() % 500 == 0

    # Restarted as a service is: the rows the killed one still held (until PostgreSQL
    # sees its connection gone and rolls its transaction back) are taken at a later pass.
    successor = start_scheduler()
    try:
        wait_for(
            lambda: not Booking.objects.filter(pk__in=ids, status="tentative").exists(),
            60,
            "every hold to expire",
        )
        successor.send_signal(signal.SIGTERM)
        output, _ = successor.communicate(timeout=30)
    finally:
        successor.kill()
        successor.wait()
    assert successor.returncode == 0, output.decode()
    assert_each_moved_exactly_once(holds)


def test_a_change_in_progress_wins_over_the_scheduler(business):
    """A person's change holds the booking's lock while the scheduler runs: the
    scheduler skips it (SKIP LOCKED), the change commits, and the next run finds the
    booking no longer held."""
    [pk] = lapsed_holds(business, 1)
    locked, release = threading.Event(), threading.Event()

    def confirm():
        try:
            with transaction.atomic():
                booking = Booking.objects.select_for_update().get(pk=pk)
                locked.set()
                release.wait(30)
                booking.change_status("definite")
        finally:
            connections.close_all()

    person = threading.Thread(target=confirm)
    person.start()
    try:
        assert locked.wait(10)
        scheduler = start_scheduler("--once")
        output, _ = scheduler.communicate(timeout=60)
        assert "hold_expiry: 0" in output.decode()
    finally:
        release.set()
        person.join(30)
    rerun = start_scheduler("--once")
    output, _ = rerun.communicate(timeout=60)
    assert "hold_expiry: 0" in output.decode()
    booking = Booking.objects.get(pk=pk)
    assert (booking.status, booking.hold_until) == ("definite", None)
    assert not BookingStatusChange.objects.filter(source="system").exists()
