"""The scheduler (SPEC §16, §17) through its command and the API: holds that lapse are
lost as of their `hold_until`, once; reminders go once per hold and are re-armed by a
new one; a change a person made first wins; the backlog's gauges."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from bookings.lost_reasons import LostReasonList
from bookings.models import Booking, BookingStatusChange, LostReason
from events.models import Event
from scheduler.jobs import BATCH_SIZE
from scheduler.runner import Scheduler
from tests.test_booking_lost_reasons import written
from tests.test_metrics import PROMETHEUS_ACCEPT, samples

pytestmark = pytest.mark.django_db

T = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
NEW_YORK = "America/New_York"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def run_schedules() -> str:
    out = StringIO()
    call_command("run_schedules", "--once", stdout=out)
    return out.getvalue()


def hold(api, booking: Booking, until: dt.datetime, *, at: dt.datetime | None = None) -> dict:
    body = {"status": "tentative", "hold_until": iso(until)}
    if at is not None:
        body["status_at"] = iso(at)
    response = api.post(f"/v2/bookings/{booking.pk}/change_status", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def events_of(booking: Booking, type_: str) -> list[Event]:
    return [
        event
        for event in Event.objects.filter(type=type_).order_by("id")
        if event.data["booking"]["id"] == booking.pk
    ]


# --- expiry ------------------------------------------------------------------------------


def test_a_backdated_hold_expires_to_lost_as_of_hold_until(api, business, make_booking):
    business.timezone = NEW_YORK
    business.save()
    booking = make_booking()
    # Held until 03:30 UTC on 3 March: still 2 March in New York.
    until = dt.datetime(2025, 3, 3, 3, 30, tzinfo=dt.UTC)
    before = hold(api, booking, until, at=T)

    assert "hold_expiry: 1" in run_schedules()

    got = api.get(f"/v2/bookings/{booking.pk}").json()
    reason = LostReason.objects.get(business=None, code="hold_expired")
    assert got["status"] == "lost"
    assert got["lost_at"] == before["hold_until"] == "2025-03-03T03:30:00Z"
    assert got["lost_date"] == "2025-03-02"  # in the business's zone
    assert got["lost_reason"] == {"id": reason.pk, "code": "hold_expired", "label": "Hold expired"}
    assert (got["lost_note"], got["hold_until"]) == (None, None)
    assert (got["tentative_at"], got["version"]) == (before["tentative_at"], before["version"] + 1)
    entries = api.get(f"/v2/bookings/{booking.pk}/status_history").json()["results"]
    last = entries[-1]
    assert (last["from_status"], last["to_status"], last["status_at"]) == (
        "tentative",
        "lost",
        "2025-03-03T03:30:00Z",
    )
    assert (last["source"], last["changed_by"], last["lost_reason"]) == (
        "system",
        None,
        got["lost_reason"],
    )
    [event] = events_of(booking, "booking.status_changed")[1:]
    assert event.data == {"booking": got, "change": last}
    assert list(event.data["booking"]) == list(got)  # GET's key order


def test_a_second_run_changes_nothing(api, make_booking):
    booking = make_booking()
    hold(api, booking, T + dt.timedelta(days=1), at=T)
    run_schedules()
    after_first = written(booking)
    assert "hold_expiry: 0" in run_schedules()
    assert written(booking) == after_first


def test_a_booking_confirmed_before_the_run_stays_confirmed(api, make_booking):
    booking = make_booking()
    hold(api, booking, T + dt.timedelta(days=1), at=T)
    api.post(f"/v2/bookings/{booking.pk}/change_status", {"status": "definite"}, format="json")
    before = written(booking)
    run_schedules()
    assert written(booking) == before
    assert api.get(f"/v2/bookings/{booking.pk}").json()["status"] == "definite"


def test_a_hold_not_yet_lapsed_is_left_alone(api, business, make_booking):
    business.hold_reminder_hours = 0
    business.save()
    booking = make_booking()
    hold(api, booking, timezone.now() + dt.timedelta(minutes=5))
    before = written(booking)
    run_schedules()
    assert written(booking) == before


def test_the_business_own_hold_expired_is_recorded_once_it_has_a_list(api, business, make_booking):
    own = {reason.code: reason for reason in LostReasonList.of(business).fork()}
    LostReasonList.of(business).update(own["hold_expired"].pk, {"label": "Option lapsed"})
    booking = make_booking()
    hold(api, booking, T + dt.timedelta(days=1), at=T)
    run_schedules()
    got = api.get(f"/v2/bookings/{booking.pk}").json()
    assert got["lost_reason"] == {
        "id": own["hold_expired"].pk,
        "code": "hold_expired",
        "label": "Option lapsed",
    }


def test_holds_of_many_businesses_each_in_its_own_zone(api, other_api, business, other_business):
    other_business.timezone = "Asia/Tokyo"
    other_business.save()
    ours = Booking.objects.create(business=business, name="ours")
    theirs = Booking.objects.create(business=other_business, name="theirs")
    until = dt.datetime(2025, 3, 2, 20, 0, tzinfo=dt.UTC)  # 3 March in Tokyo
    hold(api, ours, until, at=T)
    hold(other_api, theirs, until + dt.timedelta(minutes=1), at=T)
    run_schedules()
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.lost_date, theirs.lost_date) == (dt.date(2025, 3, 2), dt.date(2025, 3, 3))
    assert (ours.lost_at, theirs.lost_at) == (until, until + dt.timedelta(minutes=1))


def test_a_stale_etag_is_refused_after_an_expiry(api, make_booking):
    booking = make_booking()
    held = hold(api, booking, T + dt.timedelta(days=1), at=T)
    run_schedules()
    response = api.patch(
        f"/v2/bookings/{booking.pk}",
        {"notes": "late"},
        format="json",
        HTTP_IF_MATCH=f'"{held["version"]}"',
    )
    assert response.status_code == 412


def test_more_holds_than_a_batch_all_expire_in_one_run(business):
    moment = timezone.now() - dt.timedelta(days=1)
    Booking.objects.bulk_create(
        Booking(
            business=business,
            name=f"held {n}",
            status="tentative",
            tentative_at=moment,
            tentative_date=moment.date(),
            hold_until=moment + dt.timedelta(seconds=n),
        )
        for n in range(BATCH_SIZE + 20)
    )
    assert f"hold_expiry: {BATCH_SIZE + 20}" in run_schedules()
    assert not Booking.objects.filter(status="tentative").exists()
    assert BookingStatusChange.objects.filter(source="system").count() == BATCH_SIZE + 20


# --- reminders ---------------------------------------------------------------------------


def test_the_reminder_goes_once_without_a_version_bump(api, make_booking):
    booking = make_booking()
    held = hold(api, booking, timezone.now() + dt.timedelta(hours=3))
    assert not events_of(booking, "booking.hold_expiring")  # the change sends none

    assert "hold_reminder: 1" in run_schedules()
    got = api.get(f"/v2/bookings/{booking.pk}").json()
    [reminder] = events_of(booking, "booking.hold_expiring")
    assert reminder.data == {"booking": got}
    assert got == held  # bookkeeping only: no version, no updated_at
    assert not events_of(booking, "booking.updated")

    run_schedules()
    assert len(events_of(booking, "booking.hold_expiring")) == 1


def test_a_new_hold_re_arms_the_reminder(api, make_booking):
    booking = make_booking()
    first = timezone.now() + dt.timedelta(hours=3)
    hold(api, booking, first)
    run_schedules()
    api.patch(
        f"/v2/bookings/{booking.pk}",
        {"hold_until": iso(first + dt.timedelta(hours=2))},
        format="json",
    )
    run_schedules()
    hold(api, booking, first + dt.timedelta(hours=4))  # change_status sets a new one too
    run_schedules()
    reminders = events_of(booking, "booking.hold_expiring")
    assert [event.data["booking"]["hold_until"] for event in reminders] == [
        iso(first),
        iso(first + dt.timedelta(hours=2)),
        iso(first + dt.timedelta(hours=4)),
    ]


def test_a_hold_outside_the_window_is_reminded_only_once_inside(api, business, make_booking):
    booking = make_booking()
    hold(api, booking, timezone.now() + dt.timedelta(hours=30))
    run_schedules()
    assert not events_of(booking, "booking.hold_expiring")
    business.hold_reminder_hours = 48
    business.save()
    run_schedules()
    assert len(events_of(booking, "booking.hold_expiring")) == 1


def test_no_reminder_when_the_business_turns_them_off(api, business, make_booking):
    business.hold_reminder_hours = 0
    business.save()
    booking = make_booking()
    hold(api, booking, timezone.now() + dt.timedelta(minutes=30))
    run_schedules()
    assert not events_of(booking, "booking.hold_expiring")


def test_a_hold_already_past_expires_without_a_reminder(api, make_booking):
    booking = make_booking()
    hold(api, booking, T + dt.timedelta(days=1), at=T)
    assert "(hold_reminder: 0, hold_expiry: 1, " in run_schedules()
    assert not events_of(booking, "booking.hold_expiring")


def test_a_hold_reminded_and_then_lapsed_expires(api, make_booking):
    booking = make_booking()
    hold(api, booking, timezone.now() + dt.timedelta(hours=1))
    run_schedules()
    Booking.objects.filter(pk=booking.pk).update(hold_until=T + dt.timedelta(days=1))
    run_schedules()
    assert api.get(f"/v2/bookings/{booking.pk}").json()["status"] == "lost"


# --- the loop ------------------------------------------------------------------------------


def test_each_business_reminder_length_is_its_own(api, other_api, business, other_business):
    other_business.hold_reminder_hours = 2
    other_business.save()
    ours = Booking.objects.create(business=business, name="ours")
    theirs = Booking.objects.create(business=other_business, name="theirs")
    until = timezone.now() + dt.timedelta(hours=5)
    hold(api, ours, until)
    hold(other_api, theirs, until)
    run_schedules()
    assert len(events_of(ours, "booking.hold_expiring")) == 1
    assert not events_of(theirs, "booking.hold_expiring")


def test_a_stopped_scheduler_finishes_nothing_more(api, make_booking):
    booking = make_booking()
    hold(api, booking, T + dt.timedelta(days=1), at=T)
    scheduler = Scheduler()
    scheduler.stop()
    assert sum(scheduler.run_pass().values()) == 0
    assert Booking.objects.get(pk=booking.pk).status == "tentative"


# --- metrics --------------------------------------------------------------------------------


def test_the_gauges_show_how_late_the_work_is(settings, client, api, make_booking):
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = ""
    booking = make_booking()
    until = timezone.now() - dt.timedelta(minutes=10)
    hold(api, booking, until, at=until - dt.timedelta(days=1))

    found = samples(client.get("/metrics", HTTP_ACCEPT=PROMETHEUS_ACCEPT).content.decode())
    assert found[("scheduler_due_records", (("job", "hold_expiry"),))] == 1
    assert found[("scheduler_due_records", (("job", "hold_reminder"),))] == 0
    age = found[("scheduler_oldest_due_age_seconds", (("job", "hold_expiry"),))]
    assert 600 <= age < 700

    run_schedules()
    found = samples(client.get("/metrics", HTTP_ACCEPT=PROMETHEUS_ACCEPT).content.decode())
    assert found[("scheduler_due_records", (("job", "hold_expiry"),))] == 0
    assert found[("scheduler_oldest_due_age_seconds", (("job", "hold_expiry"),))] == 0


# --- appointments ---------------------------------------------------------------------


def ended_appointment(business, hours_ago: float):
    from appointments.actions import create_appointment

    ends_at = timezone.now() - dt.timedelta(hours=hours_ago)
    return create_appointment(
        business.pk,
        {
            "resource_id": None,
            "starts_at": ends_at - dt.timedelta(minutes=30),
            "ends_at": ends_at,
            "client_name": "Client",
        },
    )


def test_appointments_are_completed_after_their_business_s_delay(api, business, other_business):
    business.auto_complete_after_hours = 2
    business.save()
    due, recent = ended_appointment(business, 3), ended_appointment(business, 1)
    theirs = ended_appointment(other_business, 300)  # their business completes none

    assert "appointment_completion: 1" in run_schedules()

    got = api.get(f"/v2/appointments/{due.pk}").json()
    assert (got["status"], got["status_at"], got["completed_at"]) == (
        "COMPLETED",
        got["ends_at"],
        got["ends_at"],
    )
    [*_, last] = api.get(f"/v2/appointments/{due.pk}/status_history").json()["results"]
    assert (last["source"], last["changed_by"]) == ("system", None)
    for left in (recent, theirs):
        left.refresh_from_db()
        assert left.status == "OPEN"
    assert "appointment_completion: 0" in run_schedules()


def test_the_gauges_count_appointments_due_for_completion(settings, client, business):
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = ""
    business.auto_complete_after_hours = 1
    business.save()
    ended_appointment(business, 2)
    found = samples(client.get("/metrics", HTTP_ACCEPT=PROMETHEUS_ACCEPT).content.decode())
    assert found[("scheduler_due_records", (("job", "appointment_completion"),))] == 1
    age = found[("scheduler_oldest_due_age_seconds", (("job", "appointment_completion"),))]
    assert 3500 < age < 3700
