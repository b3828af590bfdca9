"""The appointments admin in a real browser: the day board (columns, blocks placed by
time and coloured by status, each a link, previous and next day, readable at 1,400 px),
the change-status page offering only the allowed moves, and the Appointments report
page. Each test checks the database as well as the page.

With ADMIN_SCREENSHOTS=1 the board's screenshot is written to docs/screenshots/
(tests/browser/test_screenshots.py)."""

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from appointments.actions import Target, change_status, create_appointment, create_resource
from appointments.models import Appointment
from tests.browser.test_screenshots import save

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shared_statuses")]

DAY = dt.date(2025, 3, 4)
BOARD = "/admin/appointments/appointment/board/"


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute), tzinfo=dt.UTC)


def make(business, resource, start: dt.datetime, minutes: int, name: str, *moves: str):
    appointment = create_appointment(
        business.pk,
        {
            "resource_id": resource.pk if resource else None,
            "starts_at": start,
            "ends_at": start + dt.timedelta(minutes=minutes),
            "client_name": name,
        },
    )
    for status in moves:
        sub_status = "RUNNING_LATE" if status == "LATE" else status
        status = "OPEN" if status == "LATE" else status
        change_status(business.pk, appointment.pk, Target(status=status, sub_status=sub_status))
    return appointment


@pytest.fixture
def salon_day(business):
    """A day of a small salon: four resources, a dozen appointments in every state."""
    anna, ben, colour, treatment = (
        create_resource(business.pk, name=name)
        for name in ("Anna (stylist)", "Ben (stylist)", "Colour room", "Treatment room")
    )
    make(business, anna, at(9), 45, "Ada Lovelace", "COMPLETED")
    make(business, anna, at(10), 60, "Grace Hopper", "NO_SHOW")
    make(business, anna, at(11, 30), 30, "Alan Turing", "CANCELLED")
    make(business, anna, at(11, 30), 90, "Katherine Johnson")
    make(business, anna, at(14), 60, "Edsger Dijkstra", "LATE")
    make(business, ben, at(9, 30), 90, "Barbara Liskov", "COMPLETED")
    make(business, ben, at(13), 45, "Donald Knuth")
    make(business, ben, at(15), 60, "Margaret Hamilton", "PENDING")
    make(business, colour, at(10), 120, "Tim Berners-Lee", "COMPLETED")
    make(business, colour, at(16), 60, "Frances Allen", "PENDING_WAITLIST")
    make(business, treatment, at(12), 240, "Training (blocked)", "DELETED")
    create_appointment(
        business.pk,
        {
            "resource_id": treatment.pk,
            "starts_at": at(12),
            "ends_at": at(16),
            "client_name": "Away (synced)",
        },
        target=Target(status="READ_ONLY", sub_status="READ_ONLY"),
    )
    return anna


def test_the_day_board_at_1400_px(page: Page, log_in, make_staff, business, salon_day):
    log_in(page, make_staff("frontdesk", business, apps=("appointments",)))
    page.set_viewport_size({"width": 1400, "height": 900})

    page.goto("/admin/appointments/appointment/")
    page.get_by_role("link", name="Day board").first.click()
    expect(page).to_have_url(re.compile(r"/admin/appointments/appointment/board/$"))
    page.fill("#id_date", DAY.isoformat())
    page.get_by_role("button", name="Go").click()

    expect(page.locator("#board-day")).to_have_text("Tuesday 4 March 2025")
    columns = page.locator("#day-board .column .head")
    expect(columns).to_have_text(
        ["Anna (stylist)", "Ben (stylist)", "Colour room", "Treatment room"]
    )
    # Every column is on screen at 1,400 px: none scrolled out of view.
    board = page.locator("#day-board").bounding_box()
    assert board["x"] + board["width"] <= 1400
    for box in (columns.nth(n).bounding_box() for n in range(4)):
        assert box["x"] + box["width"] <= board["x"] + board["width"] + 1
        assert box["width"] >= 150
    # Blocks sit by time: 09:00 is 9 × 48 px below midnight; the cancelled and the one
    # that took its slot share it side by side.
    first = page.locator("a.block", has_text="Ada Lovelace")
    expect(first).to_have_class(re.compile(r"status-COMPLETED"))
    assert first.evaluate("element => element.style.top") == "432px"
    cancelled = page.locator("a.block", has_text="Alan Turing").bounding_box()
    taken = page.locator("a.block", has_text="Katherine Johnson").bounding_box()
    assert cancelled["y"] == taken["y"]
    assert cancelled["x"] + cancelled["width"] <= taken["x"] + 1
    expect(page.locator("a.block", has_text="Training")).to_have_count(0)  # DELETED
    page.click("#toggle-nav-sidebar")  # the board wants the room
    save(page, "day-board")

    page.locator("a.block", has_text="Donald Knuth").click()
    expect(page).to_have_url(re.compile(r"/admin/appointments/appointment/\d+/change/$"))
    expect(page.locator("#id_client_name")).to_have_value("Donald Knuth")


def test_previous_and_next_day(page: Page, log_in, make_staff, business, salon_day):
    make(business, salon_day, at(9) + dt.timedelta(days=1), 30, "Tomorrow's client")
    log_in(page, make_staff("frontdesk", business, apps=("appointments",)))

    page.goto(f"{BOARD}?date={DAY.isoformat()}")
    page.locator("#next-day").click()

    expect(page.locator("#board-day")).to_have_text("Wednesday 5 March 2025")
    expect(page.locator("a.block")).to_have_text(re.compile("Tomorrow's client"))
    page.locator("#previous-day").click()
    page.locator("#previous-day").click()
    expect(page.locator("#board-day")).to_have_text("Monday 3 March 2025")
    expect(page.locator("a.block")).to_have_count(0)


def test_change_status_offers_only_the_allowed_moves(page: Page, log_in, make_staff, business):
    chair = create_resource(business.pk, name="Chair")
    appointment = make(business, chair, at(9), 30, "Ada Lovelace", "COMPLETED")
    log_in(page, make_staff("frontdesk", business, apps=("appointments",)))

    page.goto(f"/admin/appointments/appointment/{appointment.pk}/change/")
    page.get_by_role("link", name="Change status").click()
    expect(page.locator("#id_status")).to_be_visible()
    offered = page.locator("#id_status option").all_inner_texts()
    page.select_option("#id_status", label="OPEN")
    page.fill("#id_note", "Came back for a fix")
    page.get_by_role("button", name="Change status").click()

    assert offered == [
        "OPEN",
        "OPEN / RUNNING_LATE",
        "OPEN / INPROGRESS",
        "OPEN / CHECKEDIN",
        "COMPLETED",
        "OPEN / CONFIRMED",
        "DELETED",
    ]
    expect(page.locator(".messagelist .success")).to_contain_text(
        "COMPLETED / COMPLETED → OPEN / OPEN"
    )
    appointment.refresh_from_db()
    assert (appointment.status, appointment.completed_at) == ("OPEN", None)
    expect(page.locator("#status_changes-group tbody tr.has_original")).to_have_count(3)


def test_the_appointments_report_page(page: Page, log_in, make_staff, business, salon_day):
    log_in(page, make_staff("frontdesk", business, apps=("appointments",)))

    page.goto("/admin/")
    page.locator(".app-reports").get_by_role("link", name="Appointments").click()
    page.fill("#id_from", "2025-03-01")
    page.fill("#id_to", "2025-03-31")
    page.get_by_role("button", name="Show").click()

    row = page.locator("#appointments-table tbody tr").first
    expect(row.locator("th")).to_have_text("2025-03-01")
    # Eleven shown on the board, the DELETED one left out.
    expect(row.locator("td").first).to_have_text("11")
    assert Appointment.objects.exclude(status="DELETED").count() == 11
