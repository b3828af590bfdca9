"""The bookings admin in a real browser: logging in, changing a status with a
backdated moment, filtering by a date range, and another business's staff kept out.
Each test checks the database as well as the page."""

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from bookings.models import Booking
from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def booking_row(page: Page, name: str):
    return page.locator("#result_list tbody tr", has_text=name)


def shown_field(page: Page, name: str):
    """A read-only field of the change page (some share a line with another)."""
    return page.locator(
        f".fieldBox.field-{name} > .readonly, .form-row.field-{name}:not(:has(.fieldBox)) .readonly"
    )


def test_staff_log_in_through_the_login_form(page: Page, make_staff, business, make_booking):
    frontdesk = make_staff("frontdesk", business)
    make_booking(name="Spring wedding")

    page.goto("/admin/bookings/booking/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/bookings/booking/$"))
    page.fill("#id_username", "frontdesk")
    page.fill("#id_password", "wrong password")
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_contain_text("enter the correct username and password")
    frontdesk.refresh_from_db()
    assert frontdesk.last_login is None

    page.fill("#id_username", "frontdesk")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    expect(page).to_have_url(re.compile(r"/admin/bookings/booking/$"))
    expect(booking_row(page, "Spring wedding")).to_be_visible()
    frontdesk.refresh_from_db()
    assert frontdesk.last_login is not None


def test_change_status_with_a_backdated_moment_updates_dates_and_history(
    page: Page, log_in, make_staff, business, make_booking
):
    frontdesk = make_staff("frontdesk", business)
    booking = make_booking(name="Spring wedding")
    booking.change_status("tentative", at=at(2025, 1, 10, 9, 15), by="JoeSchmo", source="api")
    log_in(page, frontdesk)

    page.goto("/admin/bookings/booking/")
    booking_row(page, "Spring wedding").get_by_role("link", name="Spring wedding").click()
    page.get_by_role("link", name="Change status").click()
    expect(page.locator("#current-status")).to_have_text("Tentative")
    expect(page.locator("#tentative-dates .status-moment")).to_have_text("2025-01-10 09:15:00")
    page.select_option("#id_status", "definite")
    page.fill("#id_status_at_0", "2025-01-15")
    page.fill("#id_status_at_1", "14:30:00")
    expect(page.locator(".utc-instant[data-for=status_at]")).to_have_text(
        "= 2025-01-15 14:30:00 UTC"
    )
    page.get_by_role("button", name="Change status").click()

    # Back on the booking's page: the result, the new dates and the history entry.
    expect(page.locator(".messagelist .success")).to_have_text(
        "Status of “Spring wedding” changed from Tentative to Definite "
        "as of 2025-01-15 14:30:00 UTC."
    )
    expect(page).to_have_url(re.compile(rf"/admin/bookings/booking/{booking.pk}/change/$"))
    expect(shown_field(page, "status")).to_have_text("Definite")
    expect(shown_field(page, "definite_date")).to_have_text("2025-01-15")
    expect(shown_field(page, "definite_moment")).to_have_text("2025-01-15 14:30:00 UTC")
    expect(shown_field(page, "tentative_date")).to_have_text("2025-01-10")
    expect(shown_field(page, "tentative_moment")).to_have_text("2025-01-10 09:15:00 UTC")
    history = page.locator("#status_changes-group tbody tr.has_original")
    expect(history).to_have_count(2)
    expect(history.nth(0).locator(".field-to_status")).to_have_text("Definite")
    expect(history.nth(0).locator(".field-moment")).to_have_text("2025-01-15 14:30:00 UTC")
    expect(history.nth(0).locator(".field-changed_by")).to_have_text("frontdesk")
    expect(history.nth(0).locator(".field-origin")).to_have_text("admin")
    expect(history.nth(1).locator(".field-to_status")).to_have_text("Tentative")
    # The history cannot be edited or deleted from the page.
    expect(page.locator("#status_changes-group input:not([type=hidden])")).to_have_count(0)

    booking.refresh_from_db()
    assert booking.status == "definite"
    assert (booking.definite_date, booking.definite_at) == (
        dt.date(2025, 1, 15),
        at(2025, 1, 15, 14, 30),
    )
    assert (booking.tentative_date, booking.tentative_at) == (
        dt.date(2025, 1, 10),
        at(2025, 1, 10, 9, 15),
    )
    entry = booking.status_changes.latest("id")
    assert (entry.from_status, entry.to_status, entry.status_at) == (
        "tentative",
        "definite",
        at(2025, 1, 15, 14, 30),
    )
    assert (entry.changed_by, entry.source) == ("frontdesk", "admin")


def test_a_future_moment_is_refused_on_the_page_and_nothing_is_written(
    page: Page, log_in, make_staff, business, make_booking
):
    booking = make_booking(name="Spring wedding")
    log_in(page, make_staff("frontdesk", business))
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)

    page.goto(f"/admin/bookings/booking/{booking.pk}/change_status/")
    page.select_option("#id_status", "lost")
    page.fill("#id_status_at_0", tomorrow.strftime("%Y-%m-%d"))
    page.fill("#id_status_at_1", tomorrow.strftime("%H:%M:%S"))
    page.get_by_role("button", name="Change status").click()

    expect(page.locator(".errorlist")).to_contain_text("in the future")
    expect(page.locator("#current-status")).to_have_text("Lead")
    booking.refresh_from_db()
    assert (booking.status, booking.lost_at) == ("lead", None)
    assert not booking.status_changes.exists()


def test_filter_by_a_status_date_range(page: Page, log_in, make_staff, business, make_booking):
    for name, day in [("Early", 5), ("Middle", 15), ("Late", 25)]:
        make_booking(name=name).change_status("tentative", at=at(2025, 1, day, 12))
    make_booking(name="Still a lead")
    log_in(page, make_staff("frontdesk", business))

    page.goto("/admin/bookings/booking/?status__exact=tentative")
    range_form = page.locator("#tentative-date-form")
    range_form.locator("input[name=tentative_date__range__gte]").fill("2025-01-10")
    range_form.locator("input[name=tentative_date__range__lte]").fill("2025-01-25")
    range_form.get_by_role("button", name="Search").click()

    # The other filters stay.
    expect(page).to_have_url(re.compile(r"status__exact=tentative.*range__gte=2025-01-10"))
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    shown = {rows.nth(i).locator(".field-name").inner_text() for i in range(2)}
    expected = Booking.objects.filter(
        tentative_date__range=(dt.date(2025, 1, 10), dt.date(2025, 1, 25))
    ).values_list("name", flat=True)
    assert shown == set(expected) == {"Middle", "Late"}
    # The bounds stay in the form, and "No date" swaps the range for its own filter.
    expect(range_form.locator("input[name=tentative_date__range__gte]")).to_have_value("2025-01-10")
    page.goto("/admin/bookings/booking/")
    page.locator("details[data-filter-title='tentative date']").get_by_role(
        "link", name="No date"
    ).click()
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".field-name")).to_have_text("Still a lead")
    # The form sent with no bound means any date (not "Has date").
    page.get_by_role("link", name="Any date").first.click()
    range_form.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"tentative_date__range__gte=&"))
    expect(rows).to_have_count(4)


def test_staff_of_another_business_get_no_access(
    page: Page, log_in, make_staff, business, other_business, make_booking
):
    booking = make_booking(name="Spring wedding")
    booking.change_status("tentative", at=at(2025, 1, 10, 9, 15))
    rival = make_staff("rival", other_business)
    Booking.objects.create(business=other_business, name="Their gala")
    log_in(page, rival)

    page.goto("/admin/bookings/booking/")
    expect(booking_row(page, "Their gala")).to_be_visible()
    expect(booking_row(page, "Spring wedding")).to_have_count(0)

    # Searching by the id finds nothing either.
    page.goto(f"/admin/bookings/booking/?q={booking.pk}")
    expect(page.locator("#result_list")).to_have_count(0)

    # The change page answers as for a booking that does not exist.
    page.goto(f"/admin/bookings/booking/{booking.pk}/change/")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator(".messagelist .warning")).to_contain_text("doesn’t exist")

    response = page.goto(f"/admin/bookings/booking/{booking.pk}/change_status/")
    assert response is not None
    assert response.status == 404

    # A hand-made POST with a valid CSRF token gets the same answer and writes nothing.
    page.goto("/admin/bookings/booking/")
    csrf_token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    forged = page.request.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        form={"csrfmiddlewaretoken": csrf_token, "status": "lost"},
        headers={"Referer": page.url},
        max_redirects=0,
    )
    assert forged.status == 404

    booking.refresh_from_db()
    assert (booking.status, booking.lost_at) == ("tentative", None)
    assert booking.status_changes.count() == 1
    assert not User.objects.get(username="rival").is_superuser
