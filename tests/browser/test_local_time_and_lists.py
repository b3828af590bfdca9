"""The admin on the business's clock, and lists that fit, in a real browser (SPEC §9,
§17): the UTC instant appears beside a moment as it is typed; lists show each moment
on its business's clock with the zone named; the superuser's deliveries list fits in
1,400 px with a business column; the events list names each event's booking."""

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Business, User
from bookings.models import Booking
from events.models import Event
from tests.browser.conftest import PASSWORD
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.fixture
def new_york(business) -> Business:
    Business.objects.filter(pk=business.pk).update(timezone="America/New_York")
    business.refresh_from_db()
    return business


def test_the_utc_instant_follows_what_is_typed_on_the_business_clock(
    page: Page, log_in, make_staff, new_york, make_booking
):
    booking = make_booking(name="Spring wedding", starts_at=utc(2025, 5, 17, 22))
    log_in(page, make_staff("frontdesk", new_york))

    page.goto(f"/admin/bookings/booking/{booking.pk}/change_status/")
    expect(page.locator("#change-status-form label", has_text="Moment")).to_have_text(
        "Moment (America/New_York):"
    )
    page.select_option("#id_status", "tentative")
    page.fill("#id_status_at_0", "2025-01-10")
    page.fill("#id_status_at_1", "21:00:00")
    expect(page.locator(".utc-instant[data-for=status_at]")).to_have_text(
        "= 2025-01-11 02:00:00 UTC"
    )
    page.fill("#id_status_at_0", "2025-07-10")  # summer time: UTC-4
    expect(page.locator(".utc-instant[data-for=status_at]")).to_have_text(
        "= 2025-07-11 01:00:00 UTC"
    )
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".messagelist .success")).to_be_visible()

    booking.refresh_from_db()
    assert (booking.tentative_at, booking.tentative_date) == (
        utc(2025, 7, 11, 1),
        dt.date(2025, 7, 10),
    )
    # The booking's page: its start on the business's clock, the instant beside it.
    expect(page.locator("#id_starts_at_0")).to_have_value("2025-05-17")
    expect(page.locator("#id_starts_at_1")).to_have_value("18:00:00")
    expect(page.locator(".utc-instant[data-for=starts_at]")).to_have_text(
        "= 2025-05-17 22:00:00 UTC"
    )


def test_the_bookings_list_shows_iso_dates_and_local_times_named(
    page: Page, log_in, make_staff, new_york, make_booking
):
    booking = make_booking(name="Spring wedding", starts_at=utc(2025, 5, 17, 22))
    booking.change_status("tentative", at=utc(2025, 1, 11, 2))
    log_in(page, make_staff("frontdesk", new_york))

    page.goto("/admin/bookings/booking/")
    row = page.locator("#result_list tbody tr", has_text="Spring wedding")
    expect(row.locator(".field-tentative_date")).to_have_text("2025-01-10")
    expect(row.locator(".field-starts")).to_have_text("2025-05-17 18:00 America/New_York")


def test_the_superuser_deliveries_list_fits_1400_px_with_a_business_column(
    page: Page, log_in, new_york, other_business, fake_dns
):
    long_url = "https://hooks.example.com/" + "receiver/" * 30
    for owner in (new_york, other_business):
        endpoint = WebhookEndpoint.objects.create(business=owner, url=long_url, event_types=["*"])
        for number in range(3):
            event = Event.objects.create(
                business_id=owner.pk, type="booking.created", data={"booking": {"id": number}}
            )
            Delivery.objects.create(
                endpoint=endpoint,
                event=event,
                status=DeliveryStatus.PENDING,
                attempts=3,
                last_attempt_at=utc(2025, 1, 11, 2),
                next_attempt_at=utc(2025, 1, 11, 3),
                last_response_status=500,
                last_error="HTTP 500: " + "the receiver said something long " * 10,
            )
    log_in(page, User.objects.create_superuser("root", "root@example.com", PASSWORD))
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/admin/webhooks/delivery/")

    expect(page.locator("#result_list tbody tr")).to_have_count(6)
    expect(page.locator("#result_list thead")).to_contain_text("Business")
    ours = page.locator("#result_list tbody tr", has_text="Demo Venue")
    theirs = page.locator("#result_list tbody tr", has_text="Rival Hall")
    expect(ours).to_have_count(3)
    expect(theirs).to_have_count(3)
    # Each row on its business's clock.
    expect(ours.first.locator(".field-last_attempt")).to_have_text(
        "2025-01-10 21:00 America/New_York"
    )
    expect(theirs.first.locator(".field-last_attempt")).to_have_text("2025-01-11 02:00 UTC")
    # The whole table in view, with the navigation sidebar folded away (as the admin
    # remembers it once folded): no scrolling inside the table's box (the admin lets a
    # wide table scroll there), nor of the page.
    page.click("#toggle-nav-sidebar")
    fits = """() => {
        const box = document.querySelector("#changelist .results");
        const table = document.querySelector("#result_list");
        return [box.scrollWidth <= box.clientWidth, table.getBoundingClientRect().right,
                document.documentElement.scrollWidth];
    }"""
    no_inner_scroll, right, page_width = page.evaluate(fits)
    assert no_inner_scroll
    assert right <= 1400
    assert page_width <= 1400


def test_the_events_list_names_the_booking_of_each_event(
    page: Page, log_in, make_staff, business, make_booking
):
    booking = Booking.objects.create_booking(business.id, {"name": "Spring wedding"})
    log_in(page, make_staff("frontdesk", business, apps=("events", "bookings")))

    page.goto("/admin/events/event/")
    link = page.locator("#result_list .field-concerns a", has_text="Spring wedding")
    expect(link).to_have_text(f"#{booking.pk} Spring wedding")
    link.click()
    expect(page.locator("#id_name")).to_have_value("Spring wedding")
