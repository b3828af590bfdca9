"""SPEC §9: a business's time zone, its status dates as local dates, and the zone change."""

import datetime as dt
import threading
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Business, User
from bookings import fixes
from bookings.models import Booking, BookingStatusChange
from tests.conftest import requires_postgresql

AUTH = 1
NEW_YORK, HAVANA, SYDNEY = "America/New_York", "America/Havana", "Australia/Sydney"


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def on_zone(business: Business, name: str) -> Business:
    Business.objects.filter(pk=business.pk).update(timezone=name)
    business.refresh_from_db()
    return business


def change(api, booking: Booking, **body):
    return api.post(f"/v2/bookings/{booking.pk}/change_status", body, format="json")


def stored(booking: Booking) -> dict:
    return Booking.objects.filter(pk=booking.pk).values().get()


# --- the zone itself ----------------------------------------------------------


@pytest.mark.django_db
def test_a_business_is_on_utc_unless_it_chooses_another_zone(business):
    assert business.timezone == "UTC"


@pytest.mark.parametrize("name", ["america/new_york", "Eastern", "+05:00", "Mars/Olympus", ""])
@pytest.mark.django_db
def test_a_zone_must_be_an_exact_name_of_the_zone_database(business, name):
    business.timezone = name
    with pytest.raises(ValidationError) as raised:
        business.full_clean()
    assert "timezone" in raised.value.message_dict


@pytest.mark.query_budget("get", "/v2/business")
@pytest.mark.django_db
def test_get_business_returns_the_callers_business(
    api, business, other_business, django_assert_num_queries
):
    on_zone(business, NEW_YORK)
    with django_assert_num_queries(AUTH + 1):
        response = api.get("/v2/business")
    assert response.status_code == 200
    assert response.json() == {
        "id": business.id,
        "name": "Demo Venue",
        "timezone": NEW_YORK,
        "require_lost_reason": False,
        "hold_reminder_hours": 24,
        "auto_complete_after_hours": None,
    }


@pytest.mark.django_db
def test_get_business_needs_a_token(client, business):
    assert client.get("/v2/business").status_code == 401


# --- New York: dates are local ------------------------------------------------


@pytest.mark.django_db
def test_new_york_status_date_is_local_midnight(api, business, make_booking):
    on_zone(business, NEW_YORK)
    booking = make_booking()
    response = change(api, booking, status="tentative", status_date="2025-01-10")
    assert response.status_code == 200
    assert response.json()["tentative_at"] == "2025-01-10T05:00:00Z"
    assert response.json()["tentative_date"] == "2025-01-10"
    assert booking.status_changes.get().status_at == utc(2025, 1, 10, 5)


@pytest.mark.django_db
def test_new_york_9pm_stays_on_the_local_day(api, business, make_booking):
    on_zone(business, NEW_YORK)
    booking = make_booking()
    # 21:00 on 10 January in New York is 02:00Z on the 11th.
    response = change(api, booking, status="definite", status_at="2025-01-10T21:00:00-05:00")
    assert response.status_code == 200
    assert response.json()["definite_at"] == "2025-01-11T02:00:00Z"
    assert response.json()["definite_date"] == "2025-01-10"


@pytest.mark.django_db
def test_new_york_a_naive_moment_is_still_utc(api, business, make_booking):
    on_zone(business, NEW_YORK)
    booking = make_booking()
    response = change(api, booking, status="definite", status_at="2025-01-11T02:00:00")
    assert response.json()["definite_at"] == "2025-01-11T02:00:00Z"
    assert response.json()["definite_date"] == "2025-01-10"


@pytest.mark.django_db
def test_new_york_agreeing_moment_and_date_are_accepted(api, business, make_booking):
    on_zone(business, NEW_YORK)
    booking = make_booking()
    response = change(
        api, booking, status="lost", status_at="2025-01-11T02:00:00Z", status_date="2025-01-10"
    )
    assert response.status_code == 200
    assert (response.json()["lost_at"], response.json()["lost_date"]) == (
        "2025-01-11T02:00:00Z",
        "2025-01-10",
    )


@pytest.mark.django_db
def test_new_york_disagreeing_moment_and_date_are_refused(api, business, make_booking):
    on_zone(business, NEW_YORK)
    booking = make_booking()
    before = stored(booking)
    # The UTC date of the moment, which is not its New York date.
    response = change(
        api, booking, status="lost", status_at="2025-01-11T02:00:00Z", status_date="2025-01-11"
    )
    assert response.status_code == 400
    assert "status_date" in response.json()
    assert stored(booking) == before
    assert not booking.status_changes.exists()


@pytest.mark.django_db
def test_new_york_create_with_status_date(api, business):
    on_zone(business, NEW_YORK)
    response = api.post(
        "/v2/bookings",
        {"name": "Gala", "status": "tentative", "status_date": "2025-01-10"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["tentative_at"] == "2025-01-10T05:00:00Z"
    assert response.json()["tentative_date"] == "2025-01-10"


@pytest.mark.django_db
def test_new_york_create_with_disagreeing_moments_writes_nothing(api, business):
    on_zone(business, NEW_YORK)
    response = api.post(
        "/v2/bookings",
        {
            "name": "Gala",
            "status": "tentative",
            "status_at": "2025-01-11T02:00:00Z",
            "status_date": "2025-01-11",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "status_date" in response.json()
    assert not Booking.objects.exists()


@pytest.mark.django_db
def test_a_local_midnight_in_the_future_is_refused_naming_status_date(api, business, make_booking):
    on_zone(business, NEW_YORK)
    booking = make_booking()
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date().isoformat()
    response = change(api, booking, status="tentative", status_date=tomorrow)
    assert response.status_code == 400
    assert "status_date" in response.json()


# --- zones with a DST midnight, and east of UTC --------------------------------


@pytest.mark.django_db
def test_havana_a_midnight_skipped_by_dst_is_the_days_first_instant(api, business, make_booking):
    # On 2024-03-10 Havana's clocks jumped from 00:00 to 01:00 (UTC-5 to UTC-4).
    on_zone(business, HAVANA)
    booking = make_booking()
    response = change(api, booking, status="tentative", status_date="2024-03-10")
    assert response.status_code == 200
    assert response.json()["tentative_at"] == "2024-03-10T05:00:00Z"  # 01:00 local
    assert response.json()["tentative_date"] == "2024-03-10"


@pytest.mark.django_db
def test_a_day_the_zone_skipped_is_refused_naming_status_date(api, business, make_booking):
    # Samoa skipped 30 December 2011 when it crossed the date line.
    on_zone(business, "Pacific/Apia")
    booking = make_booking()
    response = change(api, booking, status="tentative", status_date="2011-12-30")
    assert response.status_code == 400
    assert "status_date" in response.json()
    assert not booking.status_changes.exists()


@pytest.mark.django_db
def test_sydney_dates_run_ahead_of_utc(api, business, make_booking):
    on_zone(business, SYDNEY)  # UTC+11 in January
    booking = make_booking()
    response = change(api, booking, status="tentative", status_date="2025-01-10")
    assert response.json()["tentative_at"] == "2025-01-09T13:00:00Z"
    assert response.json()["tentative_date"] == "2025-01-10"
    response = change(api, booking, status="definite", status_at="2025-01-10T20:00:00Z")
    assert response.json()["definite_date"] == "2025-01-11"


@pytest.mark.django_db
def test_utc_business_keeps_the_seed_examples(api, make_booking):
    booking = make_booking()
    first = change(api, booking, status="tentative", status_at="2025-01-10T09:15:00Z").json()
    assert (first["tentative_date"], first["tentative_at"]) == (
        "2025-01-10",
        "2025-01-10T09:15:00Z",
    )
    second = change(api, booking, status="definite", status_at="2025-01-15T14:30:00Z").json()
    assert (second["definite_date"], second["definite_at"]) == (
        "2025-01-15",
        "2025-01-15T14:30:00Z",
    )
    assert (second["tentative_date"], second["tentative_at"]) == (
        "2025-01-10",
        "2025-01-10T09:15:00Z",
    )
    other = make_booking()
    third = change(api, other, status="tentative", status_date="2025-01-10").json()
    assert third["tentative_at"] == "2025-01-10T00:00:00Z"


# --- changing the zone realigns the dates ---------------------------------------


@pytest.fixture
def late_evening_bookings(business, make_booking):
    """Bookings of a UTC business: one stamped at 02:00Z (the evening before in New
    York), one at noon (the same day everywhere in the Americas)."""
    evening = make_booking(name="Evening")
    evening.change_status("tentative", at=utc(2025, 1, 10, 9))
    evening.change_status("definite", at=utc(2025, 1, 11, 2))
    noon = make_booking(name="Noon")
    noon.change_status("definite", at=utc(2025, 1, 11, 12))
    return evening, noon


@pytest.mark.django_db
def test_a_zone_change_realigns_the_dates_it_changes(business, late_evening_bookings):
    evening, noon = late_evening_bookings
    history = list(BookingStatusChange.objects.order_by("id").values())
    noon_before = stored(noon)

    changed = business.set_timezone(NEW_YORK)

    assert changed == {"bookings": [evening.pk]}
    evening_now = stored(evening)
    assert evening_now["definite_date"] == dt.date(2025, 1, 10)
    assert evening_now["tentative_date"] == dt.date(2025, 1, 10)  # 04:00 local: same day
    assert evening_now["definite_at"] == utc(2025, 1, 11, 2)  # moments stay
    assert stored(noon) == noon_before  # not touched at all
    assert list(BookingStatusChange.objects.order_by("id").values()) == history
    assert Business.objects.get(pk=business.pk).timezone == NEW_YORK

    # And back: the UTC dates return.
    assert business.set_timezone("UTC") == {"bookings": [evening.pk]}
    assert stored(evening)["definite_date"] == dt.date(2025, 1, 11)


@pytest.mark.django_db
def test_a_zone_change_leaves_other_businesses_alone(
    business, other_business, late_evening_bookings
):
    theirs = Booking.objects.create(business=other_business, name="Theirs")
    theirs.change_status("definite", at=utc(2025, 1, 11, 2))
    before = stored(theirs)
    business.set_timezone(NEW_YORK)
    assert stored(theirs) == before


def set_timezone(*args: str) -> str:
    stdout = StringIO()
    call_command("set_business_timezone", *args, stdout=stdout)
    return stdout.getvalue()


@pytest.mark.django_db
def test_the_command_changes_the_zone_and_realigns(business, late_evening_bookings):
    output = set_timezone("--business", str(business.pk), "--timezone", NEW_YORK)
    assert "1 bookings" in output
    assert stored(late_evening_bookings[0])["definite_date"] == dt.date(2025, 1, 10)
    assert Business.objects.get(pk=business.pk).timezone == NEW_YORK


@pytest.mark.parametrize("zone", ["Eastern", "america/new_york", "UTC+5"])
@pytest.mark.django_db
def test_the_command_refuses_an_unknown_zone_and_changes_nothing(
    business, late_evening_bookings, zone
):
    before = [stored(booking) for booking in late_evening_bookings]
    with pytest.raises(CommandError, match="--timezone"):
        set_timezone("--business", str(business.pk), "--timezone", zone)
    assert Business.objects.get(pk=business.pk).timezone == "UTC"
    assert [stored(booking) for booking in late_evening_bookings] == before


@pytest.mark.django_db
def test_the_command_refuses_an_unknown_business(business):
    with pytest.raises(CommandError, match="no business 999"):
        set_timezone("--business", "999", "--timezone", NEW_YORK)
    assert not Business.objects.filter(pk=999).exists()


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.mark.django_db
def test_the_admin_changes_the_zone_and_realigns(superuser_client, business, late_evening_bookings):
    response = superuser_client.post(
        f"/admin/accounts/business/{business.pk}/change/",
        {"id": business.pk, "name": "Renamed Venue", "timezone": NEW_YORK},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    business.refresh_from_db()
    assert (business.name, business.timezone) == ("Renamed Venue", NEW_YORK)
    assert stored(late_evening_bookings[0])["definite_date"] == dt.date(2025, 1, 10)


@pytest.mark.django_db
def test_the_admin_refuses_an_unknown_zone(superuser_client, business):
    response = superuser_client.post(
        f"/admin/accounts/business/{business.pk}/change/",
        {"id": business.pk, "name": "Demo Venue", "timezone": "Mars/Olympus"},
    )
    assert response.status_code == 200  # the form again, with its error
    assert Business.objects.get(pk=business.pk).timezone == "UTC"


@pytest.mark.django_db
def test_the_booking_admin_shows_moments_in_utc_and_local_time(
    superuser_client, business, late_evening_bookings
):
    evening = late_evening_bookings[0]
    page = superuser_client.get(f"/admin/bookings/booking/{evening.pk}/change/").content.decode()
    assert "2025-01-11 02:00:00 UTC" in page
    assert "America/New_York" not in page
    business.set_timezone(NEW_YORK)
    page = superuser_client.get(f"/admin/bookings/booking/{evening.pk}/change/").content.decode()
    assert "2025-01-11 02:00:00 UTC (2025-01-10 21:00:00 America/New_York)" in page
    status_page = superuser_client.get(
        f"/admin/bookings/booking/{evening.pk}/change_status/"
    ).content.decode()
    assert "2025-01-10 21:00:00" in status_page


@pytest.mark.django_db
def test_the_admin_form_stamps_the_local_date(superuser_client, business, make_booking):
    on_zone(business, NEW_YORK)
    booking = make_booking()
    response = superuser_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        # On the business's clock, as labelled: 21:00 in New York is 02:00 UTC next day.
        {"status": "definite", "status_at_0": "2025-01-10", "status_at_1": "21:00:00"},
    )
    assert response.status_code == 302
    assert (stored(booking)["definite_at"], stored(booking)["definite_date"]) == (
        utc(2025, 1, 11, 2),
        dt.date(2025, 1, 10),
    )


# --- the data fixes on mixed-zone data -------------------------------------------


@pytest.fixture
def mixed_zone_bookings(business, other_business):
    """The same damaged bookings in a UTC, a New York and a Sydney business."""
    third = Business.objects.create(id=60333, name="Harbour Hall", timezone=SYDNEY)
    on_zone(other_business, NEW_YORK)
    made = {}
    for owner in (business, other_business, third):
        made[owner.timezone] = {
            # From before the datetime fields: a date, no moment.
            "legacy": Booking.objects.create(
                business=owner, name="Legacy", status="definite", definite_date=dt.date(2025, 1, 10)
            ),
            # Its date is the UTC date of its moment: right only for the UTC business.
            "utc_dated": Booking.objects.create(
                business=owner,
                name="UTC dated",
                status="definite",
                definite_at=utc(2025, 1, 11, 2),
                definite_date=dt.date(2025, 1, 11),
            ),
            # Its date is missing: stamped from its history entry's moment.
            "missing": Booking.objects.create(business=owner, name="Missing", status="tentative"),
        }
        BookingStatusChange.objects.create(
            booking=made[owner.timezone]["missing"],
            business_id=made[owner.timezone]["missing"].business_id,
            from_status="lead",
            to_status="tentative",
            status_at=utc(2025, 1, 10, 20),
            source="api",
        )
    return made


def run(command: str, *args: str) -> str:
    stdout = StringIO()
    call_command(command, *args, "--no-progress", stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


@pytest.mark.django_db
def test_backfill_uses_each_bookings_local_midnight(mixed_zone_bookings):
    dry = run("backfill_status_datetimes", "--dry-run")
    assert "would backfill 3 bookings (tentative_at 0, definite_at 3, lost_at 0)" in dry

    real = run("backfill_status_datetimes", "--batch-size", "2")

    assert "Backfilled the status datetimes of 3 bookings." in real
    moments = {
        zone: stored(bookings["legacy"])["definite_at"]
        for zone, bookings in mixed_zone_bookings.items()
    }
    assert moments == {
        "UTC": utc(2025, 1, 10),
        NEW_YORK: utc(2025, 1, 10, 5),
        SYDNEY: utc(2025, 1, 9, 13),
    }
    assert "Nothing to backfill" in run("backfill_status_datetimes")


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["backfill_status_datetimes", "repair_booking_status_dates"])
def test_a_data_fix_reads_a_range_once_whatever_the_zones(mixed_zone_bookings, command):
    """One pass per pk range: the businesses' zones come from SQL, so three zones
    cost no more statements than one (the dry run's count, the fix's UPDATE)."""
    with CaptureQueriesContext(connection) as dry_run:
        run(command, "--dry-run")
    with CaptureQueriesContext(connection) as real_run:
        run(command)

    def bookings_statements(queries, verb: str) -> int:
        return sum(
            query["sql"].startswith(verb)
            and 'FROM "bookings_booking"' in query["sql"]
            or query["sql"].startswith(f'{verb} "bookings_booking"')
            for query in queries
        )

    # The look for dates before 1900 (SPEC §17), then one range: MIN/MAX, then one
    # aggregate for the counts.
    assert bookings_statements(dry_run.captured_queries, "SELECT") == 3
    assert bookings_statements(real_run.captured_queries, "UPDATE") == 1


@pytest.mark.django_db
def test_backfill_at_a_midnight_skipped_by_dst(business, make_booking):
    on_zone(business, HAVANA)
    booking = make_booking(status="tentative", tentative_date=dt.date(2024, 3, 10))
    run("backfill_status_datetimes")
    assert stored(booking)["tentative_at"] == utc(2024, 3, 10, 5)


@pytest.mark.django_db
def test_repair_uses_each_bookings_local_date(mixed_zone_bookings):
    dry = run("repair_booking_status_dates", "--dry-run")
    # Mismatched: the UTC-dated booking in New York (02:00Z is the 10th there); the
    # Sydney one is the 11th there too. Missing: one per business.
    assert (
        "would make 4 repairs (missing status dates stamped 3, stray lost dates cleared 0, "
        "mismatched dates corrected 1) and write 3 history entries" in dry
    )

    real = run("repair_booking_status_dates", "--batch-size", "2")

    assert (
        "Made 4 repairs (missing status dates stamped 3, stray lost dates cleared 0, "
        "mismatched dates corrected 1); wrote 3 history entries." in real
    )
    dates = {
        zone: (
            stored(bookings["utc_dated"])["definite_date"],
            stored(bookings["missing"])["tentative_date"],
        )
        for zone, bookings in mixed_zone_bookings.items()
    }
    assert dates == {
        "UTC": (dt.date(2025, 1, 11), dt.date(2025, 1, 10)),
        NEW_YORK: (dt.date(2025, 1, 10), dt.date(2025, 1, 10)),
        SYDNEY: (dt.date(2025, 1, 11), dt.date(2025, 1, 11)),  # 20:00Z is 07:00 next day
    }
    assert "Nothing to repair" in run("repair_booking_status_dates")


@pytest.mark.django_db
def test_generate_bookings_stamps_local_dates(db):
    run(
        "generate_bookings",
        "--count", "300",
        "--businesses", "3",
        "--seed", "7",
        "--timezones", f"UTC,{NEW_YORK},{SYDNEY}",
    )  # fmt: skip
    zones = dict(Business.objects.values_list("pk", "timezone"))
    assert set(zones.values()) == {"UTC", NEW_YORK, SYDNEY}
    assert "Nothing to repair" in run("repair_booking_status_dates", "--dry-run")
    assert Booking.objects.exclude(business__timezone="UTC").exclude(definite_at=None).exists()


@pytest.mark.django_db
def test_generate_bookings_refuses_an_unknown_zone(db):
    with pytest.raises(CommandError, match="--timezones"):
        run("generate_bookings", "--count", "1", "--businesses", "1", "--timezones", "Nowhere")


# --- concurrency: change_status reads the zone after its lock -------------------


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_change_status_waiting_on_a_zone_change_stamps_in_the_new_zone(business, make_booking):
    booking = make_booking()
    locked = threading.Event()
    release = threading.Event()
    outcome = {}

    def change_zone():
        try:
            with transaction.atomic():
                Business.objects.select_for_update(no_key=True).get(pk=business.pk)
                Booking.objects.select_for_update().filter(pk=booking.pk).get()
                locked.set()
                release.wait(5)
                Business.objects.filter(pk=business.pk).update(timezone=NEW_YORK)
                fixes.realign(
                    Booking.objects.for_business(business.pk),
                    Business.objects.get(pk=business.pk).zone,
                )
        finally:
            connection.close()

    def change_status():
        try:
            Booking(pk=booking.pk, business_id=business.pk).change_status(
                "definite", at=utc(2025, 1, 11, 2)
            )
            outcome["done"] = True
        finally:
            connection.close()

    zone_thread = threading.Thread(target=change_zone)
    zone_thread.start()
    assert locked.wait(5)
    status_thread = threading.Thread(target=change_status)
    status_thread.start()
    status_thread.join(0.5)
    assert status_thread.is_alive()  # waiting for the booking's lock
    release.set()
    zone_thread.join(5)
    status_thread.join(5)

    assert outcome == {"done": True}
    assert stored(booking)["definite_date"] == dt.date(2025, 1, 10)  # New York's date
