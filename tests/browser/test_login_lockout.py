"""The admin login in a real browser: after too many wrong passwords the account is
locked and staff see why; a superuser's unlock lets them in again."""

import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def submit_login(page: Page, password: str) -> None:
    page.fill("#id_username", "frontdesk")
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def test_repeated_wrong_passwords_lock_the_login(page: Page, make_staff, business):
    frontdesk = make_staff("frontdesk", business)

    page.goto("/admin/login/?next=/admin/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        submit_login(page, "wrong password")
        expect(page.locator(".errornote")).to_contain_text("enter the correct username")
    submit_login(page, "wrong password")

    expect(page).to_have_title(re.compile("Login locked"))
    message = page.locator(".login-locked .errornote")
    expect(message).to_contain_text("Too many failed logins for “frontdesk”")
    expect(message).to_contain_text("locked for 15 minutes")
    assert AccessAttempt.objects.get(username="frontdesk").failures_since_start == (
        settings.AXES_FAILURE_LIMIT
    )

    # The right password is refused too while the lock lasts.
    page.goto("/admin/login/?next=/admin/")
    submit_login(page, PASSWORD)
    expect(message).to_be_visible()
    frontdesk.refresh_from_db()
    assert frontdesk.last_login is None

    call_command("axes_reset_username", "frontdesk")
    page.goto("/admin/login/?next=/admin/")
    submit_login(page, PASSWORD)
    expect(page).to_have_url(re.compile(r"/admin/$"))
    assert User.objects.get(username="frontdesk").last_login is not None
