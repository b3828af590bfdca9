"""Concurrent status changes on one booking (PostgreSQL: real row locks)."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from accounts.models import ApiToken, Business, User
from bookings.models import Booking, BookingStatus
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
