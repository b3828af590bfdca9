"""The admin's main pages as a staff user sees them, filled with a little demo data.

Always runs (it checks each page renders what it should); writes the PNGs in
docs/screenshots/ only when ADMIN_SCREENSHOTS=1:

    ADMIN_SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_screenshots.py
"""

import datetime as dt
import os
import random
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bookings.models import Booking
from statuses.models import Status
from statuses.services import StatusList, fork_shared_statuses

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def save(page: Page, name: str) -> None:
    if os.environ.get("ADMIN_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=dt.UTC)


def demo_bookings(business) -> Booking:
    """A handful of bookings through their lifecycle; returns the one with most history."""
    Booking.objects.create(business=business, name="Harbour product launch", guest_count=80)
    gala = Booking.objects.create(business=business, name="Autumn charity gala", guest_count=220)
    gala.change_status("tentative", at=at(2, 3, 9, 15), by="JoeSchmo", source="api")
    retreat = Booking.objects.create(business=business, name="Board retreat", guest_count=12)
    retreat.change_status("tentative", at=at(1, 20), by="JoeSchmo", source="api")
    retreat.change_status("lost", at=at(2, 1, 16, 45), by="frontdesk", source="admin")
    wedding = Booking.objects.create(
        business=business,
        name="Spring wedding",
        guest_count=140,
        starts_at=at(5, 17, 14),
        ends_at=at(5, 17, 23, 30),
        notes="Garden ceremony, dinner in the main hall.",
    )
    wedding.change_status("tentative", at=at(1, 10, 9, 15), by="JoeSchmo", source="api")
    wedding.change_status("definite", at=at(1, 15, 14, 30), by="JoeSchmo", source="api")
    return wedding


def test_bookings_pages(page: Page, log_in, make_staff, business):
    wedding = demo_bookings(business)
    log_in(page, make_staff("frontdesk", business))
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto("/admin/bookings/booking/")
    expect(page.locator("#result_list tbody tr")).to_have_count(4)
    save(page, "bookings-list")

    page.goto(f"/admin/bookings/booking/{wedding.pk}/change_status/")
    page.select_option("#id_status", "lost")
    page.fill("#id_status_at_0", "2025-02-20")
    page.fill("#id_status_at_1", "11:00:00")
    save(page, "booking-change-status")
    page.get_by_role("button", name="Change status").click()

    expect(page.locator(".messagelist .success")).to_be_visible()
    expect(page.locator("#status_changes-group tbody tr.has_original")).to_have_count(3)
    save(page, "booking-change")

    wedding.refresh_from_db()
    assert (wedding.status, wedding.lost_at) == ("lost", at(2, 20, 11))


@pytest.mark.usefixtures("shared_statuses")
def test_statuses_list(page: Page, log_in, make_staff, business):
    fork_shared_statuses(business, by="frontdesk")
    running_late = Status.objects.for_business(business.pk).get(sub_status="RUNNING_LATE")
    StatusList.of(running_late.business_id).update(
        running_late.pk, {"sub_status": "Running late (15 min)"}, by="frontdesk"
    )
    StatusList.of(business.pk).update(
        Status.objects.for_business(business.pk).get(sub_status="PENDING_WAITLIST").pk,
        {"active": False},
        by="frontdesk",
    )
    log_in(page, make_staff("frontdesk", business, apps=("statuses",)))
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto("/admin/statuses/status/")
    expect(page.locator("#result_list tbody tr")).to_have_count(28)
    # The list is wide: give it the room the navigation sidebar takes.
    page.click("#toggle-nav-sidebar")
    save(page, "statuses-list")


def demo_year(business) -> None:
    """A year of bookings, a few more each month, most moving on within weeks."""
    chance = random.Random(2025)
    for month in range(1, 13):
        for number in range(6 + month + chance.randrange(6)):
            created = at(month, 1 + chance.randrange(28), 8 + chance.randrange(9))
            booking = Booking.objects.create(
                business=business, name=f"Event {month}-{number}", created_at=created
            )
            fate = chance.random()
            if fate < 0.2:
                continue  # still a lead
            tentative = created + dt.timedelta(days=1 + chance.randrange(10))
            booking.change_status("tentative", at=tentative, by="JoeSchmo", source="api")
            if fate < 0.4:
                continue
            outcome = "definite" if fate < 0.8 else "lost"
            later = tentative + dt.timedelta(days=2 + chance.randrange(25))
            booking.change_status(outcome, at=later, by="JoeSchmo", source="api")
            if fate < 0.5:  # the event was called off after all
                gone = later + dt.timedelta(days=3 + chance.randrange(40))
                booking.change_status("lost", at=gone, by="frontdesk", source="admin")


def test_pipeline_page(page: Page, log_in, make_staff, business):
    demo_year(business)
    log_in(page, make_staff("frontdesk", business))
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto("/admin/reports/pipeline/?from=2025-01-01&to=2025-12-31&interval=month")
    expect(page.locator("#pipeline-chart svg rect.bar")).to_have_count(3 * 12)
    expect(page.locator("#time-in-status-table tbody tr")).to_have_count(4)
    save(page, "pipeline")


def test_deliveries_list(page: Page, log_in, business, other_business, fake_dns):
    """The superuser's deliveries list, every business's, at 1,400 px."""
    from accounts.models import User
    from events.models import Event
    from tests.browser.conftest import PASSWORD
    from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint

    outcomes = [
        (DeliveryStatus.SUCCEEDED, 1, 200, ""),
        (DeliveryStatus.PENDING, 2, 503, "HTTP 503: Service Unavailable"),
        (DeliveryStatus.FAILED, 8, None, "connection refused by the receiver at 93.184.215.14"),
    ]
    for owner, url in [
        (business, "https://hooks.example.com/crm"),
        (other_business, "https://other.example.com/erp"),
    ]:
        endpoint = WebhookEndpoint.objects.create(business=owner, url=url, event_types=["*"])
        for number, (status, attempts, answer, error) in enumerate(outcomes):
            event = Event.objects.create(
                business_id=owner.pk,
                type="booking.status_changed",
                data={"booking": {"id": number}},
            )
            Delivery.objects.create(
                endpoint=endpoint,
                event=event,
                status=status,
                attempts=attempts,
                last_attempt_at=at(2, 20 + number, 11),
                next_attempt_at=at(2, 20 + number, 12)
                if status == DeliveryStatus.PENDING
                else None,
                last_response_status=answer,
                last_error=error,
            )
    log_in(page, User.objects.create_superuser("root", "root@example.com", PASSWORD))
    page.set_viewport_size({"width": 1400, "height": 700})
    page.goto("/admin/webhooks/delivery/")
    page.click("#toggle-nav-sidebar")

    expect(page.locator("#result_list tbody tr")).to_have_count(6)
    save(page, "deliveries-list")
