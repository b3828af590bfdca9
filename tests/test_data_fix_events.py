"""The events of the set-based writers: the data-fix commands and the zone realignment
(SPEC §8.1, §13)."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import Booking
from core.renderers import JSONRenderer
from events.models import Event

MOMENT = dt.datetime(2025, 1, 15, 23, 30, tzinfo=dt.UTC)
PRECISE = dt.datetime(2025, 1, 10, 21, 5, 7, 120034, tzinfo=dt.UTC)


def as_api_text(value):
    """`value` as the API's renderer writes it, read back."""
    return json.loads(JSONRenderer().render(value))


def run(command: str, *args: str) -> None:
    call_command(command, *args, stdout=StringIO(), stderr=StringIO())


def events(type: str) -> list[Event]:
    return list(Event.objects.filter(type=type).order_by("id"))


def booking_body(api, booking_id: int) -> dict:
    response = api.get(f"/v2/bookings/{booking_id}")
    assert response.status_code == 200
    return response.json()


def history(api, booking_id: int) -> list[dict]:
    return api.get(f"/v2/bookings/{booking_id}/status_history").json()["results"]


# --- backfill_status_datetimes ------------------------------------------------------


def test_backfill_writes_one_updated_event_per_booking_changed(api, make_booking):
    both = make_booking(status="lost", tentative_date=dt.date(2025, 1, 3), lost_date=MOMENT.date())
    one = make_booking(status="definite", definite_date=MOMENT.date())
    untouched = make_booking(status="definite", definite_at=MOMENT, definite_date=MOMENT.date())

    run("backfill_status_datetimes")

    updated = events("booking.updated")
    assert [event.data["booking"]["id"] for event in updated] == [both.pk, one.pk]
    assert [event.data["changed_fields"] for event in updated] == [
        ["tentative_at", "lost_at"],
        ["definite_at"],
    ]
    for event in updated:
        assert event.data["booking"] == booking_body(api, event.data["booking"]["id"])
        assert event.business_id == both.business_id
    assert untouched.pk not in {event.data["booking"]["id"] for event in updated}
    assert not events("booking.status_changed")


def test_backfill_dry_run_and_second_run_write_no_event(make_booking):
    make_booking(status="definite", definite_date=MOMENT.date())

    run("backfill_status_datetimes", "--dry-run")
    assert not Event.objects.exists()

    run("backfill_status_datetimes")
    run("backfill_status_datetimes")
    assert Event.objects.count() == 1


# --- repair_booking_status_dates ----------------------------------------------------


def test_repair_events_per_kind(api, make_booking):
    missing = make_booking(status="definite", tentative_at=PRECISE, tentative_date=PRECISE.date())
    stray = make_booking(
        status="tentative",
        tentative_at=PRECISE,
        tentative_date=PRECISE.date(),
        lost_at=MOMENT,
        lost_date=MOMENT.date(),
    )
    mismatched = make_booking(status="lost", lost_at=MOMENT, lost_date=dt.date(2024, 12, 1))
    both = make_booking(status="definite", lost_date=MOMENT.date(), tentative_at=PRECISE)
    consistent = make_booking(status="definite", definite_at=MOMENT, definite_date=MOMENT.date())

    run("repair_booking_status_dates")

    updated = {event.data["booking"]["id"]: event for event in events("booking.updated")}
    # booking.updated is for a repair without a history entry (SPEC §8.1); a re-stamped
    # booking's one event is its booking.status_changed, with the booking as repaired.
    assert {pk: event.data["changed_fields"] for pk, event in updated.items()} == {
        mismatched.pk: ["lost_date"],
    }
    assert consistent.pk not in updated
    for pk, event in updated.items():
        assert event.data["booking"] == booking_body(api, pk)

    status_changed = events("booking.status_changed")
    assert [event.data["booking"]["id"] for event in status_changed] == [
        missing.pk,
        stray.pk,
        both.pk,
    ]
    for event in status_changed:
        booking_id = event.data["booking"]["id"]
        assert event.data["booking"] == booking_body(api, booking_id)
        [entry] = [e for e in history(api, booking_id) if e["source"] == "command"]
        assert event.data["change"] == entry


def test_repair_dry_run_and_second_run_write_no_event(make_booking):
    make_booking(status="definite")
    make_booking(status="tentative", lost_date=MOMENT.date())

    run("repair_booking_status_dates", "--dry-run")
    assert not Event.objects.exists()

    run("repair_booking_status_dates")
    written = Event.objects.count()
    assert written == 2  # two re-stamps: a status_changed each, no booking.updated
    run("repair_booking_status_dates")
    assert Event.objects.count() == written


@pytest.mark.parametrize(
    ("command", "broken"),
    [
        ("backfill_status_datetimes", {"status": "definite", "definite_date": MOMENT.date()}),
        ("repair_booking_status_dates", {"status": "definite"}),
    ],
)
def test_statements_per_batch_do_not_grow_with_its_size(make_booking, command, broken):
    def statements_for(bookings: int) -> int:
        Booking.objects.all().delete()
        for _ in range(bookings):
            make_booking(**broken)
        with CaptureQueriesContext(connection) as queries:
            run(command, "--batch-size", "1000")
        assert Event.objects.count() >= bookings  # an event per booking repaired
        Event.objects.all().delete()
        return len(queries)

    assert statements_for(2) == statements_for(12)


# --- The zone realignment -----------------------------------------------------------


def test_realignment_writes_updated_events_for_changed_bookings_only(api, business, make_booking):
    evening = dt.datetime(2025, 1, 11, 2, 0, tzinfo=dt.UTC)  # 21:00 on the 10th in New York
    moved = make_booking(
        status="lost",
        tentative_at=evening,
        tentative_date=evening.date(),
        lost_at=evening,
        lost_date=evening.date(),
    )
    noon = dt.datetime(2025, 1, 11, 17, 0, tzinfo=dt.UTC)
    kept = make_booking(status="definite", definite_at=noon, definite_date=noon.date())

    business.set_timezone("America/New_York")

    updated = events("booking.updated")
    assert [event.data["booking"]["id"] for event in updated] == [moved.pk]
    assert updated[0].data["changed_fields"] == ["tentative_date", "lost_date"]
    assert updated[0].data["booking"] == booking_body(api, moved.pk)
    assert updated[0].data["booking"]["lost_date"] == "2025-01-10"
    assert kept.pk != moved.pk

    business.set_timezone("America/New_York")  # no change: no event
    assert len(events("booking.updated")) == 1
