"""The admin login locks out after repeated failures, per account and per client
address, counted in the database (django-axes); superusers unlock."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.db.models import F
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct-password-1"
LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture
def frontdesk(business) -> User:
    return User.objects.create_user(
        username="frontdesk", password=PASSWORD, business=business, is_staff=True
    )


def log_in(username: str, password: str, address: str = "198.51.100.7", **headers: str):
    return Client(REMOTE_ADDR=address, **headers).post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )


def fail(times: int, username: str = "frontdesk", **where: str) -> list[int]:
    """The status codes of `times` logins with a wrong password."""
    return [log_in(username, "wrong", **where).status_code for _ in range(times)]


def test_the_limit_and_the_lockout_page(frontdesk):
    assert fail(LIMIT - 1) == [200] * (LIMIT - 1)  # the form again, with its error
    assert log_in("frontdesk", PASSWORD).status_code == 302

    fail(LIMIT - 1)
    locked = log_in("frontdesk", "wrong")
    # Locked now: even the right password gets the lockout page and no session.
    right = log_in("frontdesk", PASSWORD)

    for response in (locked, right):
        assert response.status_code == 429
        page = " ".join(response.content.decode().split())
        assert "Too many failed logins for “frontdesk”" in page
        assert f"after {LIMIT} failed attempts, logging in is locked for 15 minutes" in page
        assert 'id="site-name"' in page  # the admin's own page, not a bare text
        assert "sessionid" not in response.cookies


def test_the_count_is_in_the_database(frontdesk):
    fail(2)

    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "frontdesk",
        "198.51.100.7",
        2,
    )


def test_an_account_is_locked_from_every_address(frontdesk):
    for index in range(LIMIT):
        fail(1, address=f"198.51.100.{index + 1}")

    assert log_in("frontdesk", PASSWORD, address="203.0.113.9").status_code == 429


def test_an_address_is_locked_for_every_account(frontdesk):
    for index in range(LIMIT):
        fail(1, username=f"guess{index}")

    assert log_in("frontdesk", PASSWORD).status_code == 429
    # Another address still logs in.
    assert log_in("frontdesk", PASSWORD, address="203.0.113.9").status_code == 302


def test_the_lockout_ends_after_the_cool_off(frontdesk):
    fail(LIMIT)
    assert log_in("frontdesk", PASSWORD).status_code == 429

    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    )

    assert log_in("frontdesk", PASSWORD).status_code == 302


def test_a_try_while_locked_starts_the_wait_again(frontdesk):
    fail(LIMIT)
    almost_over = timezone.now() - settings.AXES_COOLOFF_TIME + dt.timedelta(minutes=1)
    AccessAttempt.objects.update(attempt_time=almost_over)

    assert log_in("frontdesk", "wrong").status_code == 429
    # Two minutes on: past the first lock's end, within the restarted one.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(minutes=2))

    assert log_in("frontdesk", PASSWORD).status_code == 429


def test_a_superuser_unlocks_an_account_with_the_command(frontdesk):
    fail(LIMIT)

    call_command("axes_reset_username", "frontdesk")

    assert log_in("frontdesk", PASSWORD).status_code == 302


def test_a_superuser_unlocks_an_account_in_the_admin(frontdesk):
    fail(LIMIT)
    attempt = AccessAttempt.objects.get()
    root = Client()
    root.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    listed = root.get("/admin/axes/accessattempt/")
    deleted = root.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    assert listed.status_code == 200
    assert "frontdesk" in listed.content.decode()
    assert deleted.status_code == 302
    assert log_in("frontdesk", PASSWORD).status_code == 302


def test_staff_cannot_see_the_attempts(frontdesk):
    staff = Client()
    staff.force_login(frontdesk)

    assert staff.get("/admin/axes/accessattempt/").status_code == 403


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 0})
def test_without_proxies_a_forwarded_for_header_does_not_change_the_address(frontdesk):
    for index in range(LIMIT):
        fail(1, username=f"guess{index}", HTTP_X_FORWARDED_FOR=f"203.0.113.{index}")

    assert log_in("frontdesk", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 429


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1})
def test_behind_a_proxy_the_address_is_the_one_the_proxy_appended(frontdesk):
    proxy = "10.0.0.2"
    for index in range(LIMIT):
        fail(
            1, username=f"guess{index}", address=proxy, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5"
        )

    assert AccessAttempt.objects.filter(ip_address="203.0.113.5").count() == LIMIT
    locked = log_in("frontdesk", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.5")
    another_client = log_in("frontdesk", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert locked.status_code == 429
    assert another_client.status_code == 302
