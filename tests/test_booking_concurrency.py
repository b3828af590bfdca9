"""Concurrent writes to one booking (PostgreSQL: real row locks): status changes that
chain, and writes that find the booking deleted while they are in flight."""

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken, Business, User
from bookings.models import Booking, BookingStatus, BookingStatusChange
from core.errors import NotFound
from events.models import Event
from tests.conftest import requires_postgresql

CALLS = 24
STATUS_CYCLE = ["tentative", "definite", "lost", "lead"]


def assert_unbroken_chain(booking: Booking, calls: int) -> None:
    history = list(booking.status_changes.order_by("id"))
    assert len(history) == calls, "one history row per call"
    assert history[0].from_status == BookingStatus.LEAD
    for previous, current in zip(history, history[1:], strict=False):
        assert current.from_status == previous.to_status, "each change starts where the last ended"
    booking.refresh_from_db()
    assert booking.status == history[-1].to_status


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_model_calls_all_succeed_and_chain():
    business = Business.objects.create(id=43111, name="Demo Venue")
    booking = Booking.objects.create(business=business, name="Contended")
    start = threading.Barrier(CALLS)

    def change(number: int) -> str:
        try:
            start.wait(timeout=30)
            Booking.objects.get(pk=booking.pk).change_status(
                STATUS_CYCLE[number % 4], at=dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
            )
            return "ok"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        results = list(pool.map(change, range(CALLS)))

    assert results == ["ok"] * CALLS
    assert_unbroken_chain(booking, CALLS)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_api_calls_all_succeed_and_chain():
    from rest_framework.test import APIClient

    business = Business.objects.create(id=43111, name="Demo Venue")
    _, key = ApiToken.objects.issue(User.objects.create_user("JoeSchmo", business=business))
    booking = Booking.objects.create(business=business, name="Contended")
    start = threading.Barrier(CALLS)

    def change(number: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            start.wait(timeout=30)
            response = client.post(
                f"/v2/bookings/{booking.pk}/change_status",
                {"status": STATUS_CYCLE[number % 4]},
                format="json",
            )
            return response.status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        codes = list(pool.map(change, range(CALLS)))

    assert codes == [200] * CALLS
    assert_unbroken_chain(booking, CALLS)


# --- a booking deleted while a write is in flight ------------------------------------


def wait_until_a_connection_waits_for_a_lock(timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("no write waited for the deleted row")


@contextmanager
def deletion_held_open(booking: Booking):
    """Delete the booking in another transaction (a thread with its own connection)
    that commits only once a write in this one waits for the row: the write starts
    while the booking still exists and finishes after it is gone."""
    deleted, failures = threading.Event(), []

    def delete() -> None:
        try:
            with transaction.atomic():
                Booking.objects.filter(pk=booking.pk).delete()
                deleted.set()
                wait_until_a_connection_waits_for_a_lock()
        except Exception as error:  # reported by the test's thread below
            failures.append(error)
        finally:
            deleted.set()
            connection.close()

    deleter = threading.Thread(target=delete)
    deleter.start()
    deleted.wait(timeout=10)
    try:
        yield
    finally:
        deleter.join(timeout=30)
    assert not failures, failures
    assert not Booking.objects.filter(pk=booking.pk).exists()


@pytest.fixture
def contended(db) -> tuple[Booking, APIClient]:
    business = Business.objects.create(id=43111, name="Demo Venue")
    _, key = ApiToken.objects.issue(User.objects.create_user("JoeSchmo", business=business))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    booking = Booking.objects.create(business=business, name="Contended")
    booking.change_status("tentative", at=dt.datetime(2025, 1, 10, tzinfo=dt.UTC))
    return booking, client


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("patch", "", {"notes": "Balcony"}),
        ("delete", "", None),
        ("post", "/change_status", {"status": "definite"}),
    ],
)
def test_an_api_write_to_a_booking_deleted_meanwhile_is_a_404_and_writes_nothing(
    contended, method, suffix, body
):
    booking, client = contended
    events_before = Event.objects.count()

    with deletion_held_open(booking):
        response = getattr(client, method)(
            f"/v2/bookings/{booking.pk}{suffix}", body, format="json"
        )

    assert response.status_code == 404, response.content
    assert response.json()["detail"]
    assert not BookingStatusChange.objects.filter(booking_id=booking.pk).exists()
    assert Event.objects.count() == events_before


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_change_status_of_a_booking_deleted_meanwhile_is_not_found(contended):
    booking, _client = contended

    with deletion_held_open(booking), pytest.raises(NotFound):
        booking.change_status("lost")

    assert not BookingStatusChange.objects.filter(booking_id=booking.pk).exists()


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("page", "form"),
    [
        (
            "change",
            {
                "business": "43111",
                "name": "Renamed",
                "notes": "",
                "status_changes-TOTAL_FORMS": "0",
                "status_changes-INITIAL_FORMS": "0",
            },
        ),
        ("change_status", {"status": "definite", "status_at": "2025-01-15 14:30:00"}),
        ("delete", {"post": "yes"}),
    ],
)
def test_an_admin_save_of_a_booking_deleted_meanwhile_says_it_does_not_exist(contended, page, form):
    booking, _client = contended
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    events_before = Event.objects.count()

    with deletion_held_open(booking):
        response = admin.post(f"/admin/bookings/booking/{booking.pk}/{page}/", form)

    assert response.status_code == 302
    assert response.url == "/admin/"
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("doesn’t exist" in message for message in shown), shown
    assert not BookingStatusChange.objects.filter(booking_id=booking.pk).exists()
    assert Event.objects.count() == events_before
