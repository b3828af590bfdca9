"""Holds and lost reasons in the admin, in a real browser (SPEC §15): a hold typed on
the business's clock with its UTC instant beside it, the list's hold column and its
"expires within 7 days" filter; a change to lost with a reason chosen from the list;
the business's settings page."""

import datetime as dt
import importlib

import pytest
from django.apps import apps as django_apps
from django.utils import timezone
from playwright.sync_api import Page, expect

from bookings.models import LostReason
from tests.browser import test_local_time_and_lists

pytestmark = pytest.mark.django_db(transaction=True)
new_york = test_local_time_and_lists.new_york  # the business, on New York's clock


@pytest.fixture
def shared_lost_reasons(db) -> None:
    """The shared lost reasons, as their migration installs them (a transactional test
    may start on a database an earlier one flushed)."""
    migration = importlib.import_module("bookings.migrations.0008_lost_reasons")
    migration.install_shared_defaults(django_apps, None)


def test_a_hold_is_set_on_the_business_clock_and_listed(
    page: Page, log_in, make_staff, new_york, make_booking
):
    booking = make_booking(name="Spring wedding")
    log_in(page, make_staff("frontdesk", new_york))
    in_three_days = (timezone.now() + dt.timedelta(days=3)).astimezone(new_york.zone)

    page.goto(f"/admin/bookings/booking/{booking.pk}/change_status/")
    expect(page.locator("#change-status-form label", has_text="Hold until")).to_have_text(
        "Hold until (America/New_York):"
    )
    page.select_option("#id_status", "tentative")
    page.fill("#id_hold_until_0", f"{in_three_days:%Y-%m-%d}")
    page.fill("#id_hold_until_1", "17:00:00")
    held_until = in_three_days.replace(hour=17, minute=0, second=0, microsecond=0)
    expect(page.locator(".utc-instant[data-for=hold_until]")).to_have_text(
        f"= {held_until.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
    )
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    booking.refresh_from_db()
    assert booking.hold_until == held_until

    make_booking(name="Not held")
    page.goto("/admin/bookings/booking/?hold=7d")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Spring wedding")
    expect(rows.first).to_contain_text(f"{held_until:%Y-%m-%d} 17:00 America/New_York")


def test_lost_with_a_reason_chosen_from_the_list(
    page: Page, log_in, make_staff, business, make_booking, shared_lost_reasons
):
    booking = make_booking(name="Autumn gala")
    log_in(page, make_staff("frontdesk", business))

    page.goto(f"/admin/bookings/booking/{booking.pk}/change_status/")
    page.select_option("#id_status", "lost")
    page.select_option("#id_lost_reason", label="Over budget")
    page.fill("#id_lost_note", "Half our minimum spend")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".messagelist .success")).to_be_visible()

    booking.refresh_from_db()
    reason = LostReason.objects.get(business=None, code="budget")
    assert booking.lost_reason == {"id": reason.pk, "code": "budget", "label": "Over budget"}
    expect(page.locator(".inline-group")).to_contain_text("Over budget: Half our minimum spend")


def test_staff_change_their_business_settings(page: Page, log_in, make_staff, business):
    log_in(page, make_staff("manager", business, apps=("bookings", "business_settings")))
    page.goto("/admin/")
    page.locator(".model-businesssettings a").first.click()
    page.fill("#id_hold_reminder_hours", "48")
    page.check("#id_require_lost_reason")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    business.refresh_from_db()
    assert (business.hold_reminder_hours, business.require_lost_reason) == (48, True)
