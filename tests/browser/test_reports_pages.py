"""The admin's Pipeline page in a real browser: reached from the index, its form
changing the interval and range, the chart's bars, a superuser choosing a business,
a bad range named on the page, and the CSV download read back."""

import csv
import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from bookings.models import Booking
from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2025, month, day, 10, tzinfo=dt.UTC)


@pytest.fixture
def first_quarter(business):
    """Two January bookings, one of them made definite on 15 January; one in March."""
    wedding = Booking.objects.create(business=business, name="Wedding", created_at=at(1, 5))
    wedding.change_status("tentative", at=at(1, 10))
    wedding.change_status("definite", at=at(1, 15))
    Booking.objects.create(business=business, name="Gala", created_at=at(1, 20))
    Booking.objects.create(business=business, name="Retreat", created_at=at(3, 2))


def show(page: Page, **fields: str) -> None:
    """Fill the report form and submit it."""
    for name, value in fields.items():
        if name in ("interval", "business"):
            page.select_option(f"#id_{name}", value)
        else:
            page.fill(f"#id_{name}", value)
    page.get_by_role("button", name="Show").click()


@pytest.mark.usefixtures("first_quarter")
def test_staff_reach_the_pipeline_from_the_index_and_change_the_interval(
    page: Page, log_in, make_staff, business
):
    log_in(page, make_staff("frontdesk", business))
    page.goto("/admin/")
    expect(page).to_have_title("Administration | Booking status")
    expect(page.locator("#site-name")).to_have_text("Booking status")
    page.locator(".app-reports").get_by_role("link", name="Pipeline").click()

    expect(page).to_have_url(re.compile(r"/admin/reports/pipeline/$"))
    expect(page.locator("h1")).to_have_text("Pipeline")
    # The default: the last twelve whole months and this one, by month.
    expect(page.locator("#pipeline-table tbody tr")).to_have_count(13)
    expect(page.locator("#pipeline-chart svg rect.bar")).to_have_count(3 * 13)

    show(page, **{"from": "2025-01-01", "to": "2025-03-31"}, interval="week")

    expect(page).to_have_url(re.compile(r"interval=week"))
    # 30 December 2024 to 31 March 2025: 14 weeks, each from a Monday.
    rows = page.locator("#pipeline-table tbody tr")
    expect(rows).to_have_count(14)
    expect(rows.first.locator("th")).to_have_text("2024-12-30")
    expect(page.locator("#pipeline-chart svg rect.bar")).to_have_count(3 * 14)
    expect(page.locator("#pipeline-chart svg rect.bar-reached_definite title").nth(0)).to_have_text(
        "2024-12-30: 1 reached definite"
    )
    expect(page.locator("#id_interval")).to_have_value("week")

    show(page, **{"from": "2025-03-31", "to": "2025-01-01"})
    expect(page.locator("#report-error")).to_contain_text("from")
    expect(page.locator("#pipeline-chart")).to_have_count(0)


@pytest.mark.usefixtures("first_quarter")
def test_the_pipeline_downloads_as_csv(page: Page, log_in, make_staff, business):
    log_in(page, make_staff("frontdesk", business))
    page.goto("/admin/reports/pipeline/?from=2025-01-01&to=2025-03-31")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the pipeline (CSV)").click()
    download = download_info.value

    assert download.suggested_filename == "pipeline-43111-2025-01-01-2025-03-31.csv"
    with open(download.path(), newline="", encoding="utf-8") as downloaded:
        rows = list(csv.DictReader(downloaded))
    assert [(row["bucket"], row["bookings"], row["reached_definite"]) for row in rows] == [
        ("2025-01-01", "2", "1"),
        ("2025-02-01", "0", "0"),
        ("2025-03-01", "1", "0"),
    ]


@pytest.mark.usefixtures("first_quarter")
def test_superusers_choose_a_business(page: Page, log_in, business, other_business):
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    log_in(page, User.objects.get(username="root"))
    page.goto("/admin/reports/pipeline/")
    expect(page.locator("#choose-business")).to_be_visible()

    show(page, business=str(business.pk), **{"from": "2025-01-01", "to": "2025-03-31"})

    expect(page.locator("#report-window")).to_contain_text("Demo Venue")
    expect(page.locator("#pipeline-table tbody tr").first.locator("td").first).to_have_text("2")

    show(page, business=str(other_business.pk))
    expect(page.locator("#report-window")).to_contain_text("Rival Hall")
    expect(page.locator("#pipeline-table tbody tr").first.locator("td").first).to_have_text("0")
