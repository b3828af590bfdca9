"""Idempotency-Key on POST: a retry replays the first answer and writes nothing."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ApiToken, Business, User
from bookings.models import Booking, BookingStatusChange
from core.models import IdempotencyKey
from tests.conftest import requires_postgresql


def post(api, path, body, key):
    return api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_a_retried_create_replays_the_first_response_and_creates_once(api):
    first = post(api, "/v2/bookings", {"name": "Gala"}, "create-1")
    retry = post(api, "/v2/bookings", {"name": "Gala"}, "create-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_a_retried_change_status_writes_one_history_entry(api, make_booking):
    booking = make_booking()
    body = {"status": "tentative", "status_at": "2025-01-10T09:15:00Z"}
    path = f"/v2/bookings/{booking.pk}/change_status"

    responses = [post(api, path, body, "change-1") for _ in range(3)]

    assert {response.status_code for response in responses} == {200}
    assert BookingStatusChange.objects.filter(booking=booking).count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422_and_writes_nothing(api):
    post(api, "/v2/bookings", {"name": "Gala"}, "key-1")

    response = post(api, "/v2/bookings", {"name": "Another gala"}, "key-1")

    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()
    assert list(Booking.objects.values_list("name", flat=True)) == ["Gala"]


@pytest.mark.django_db
def test_the_same_key_on_another_endpoint_is_422(api, make_booking):
    booking = make_booking()
    post(api, "/v2/bookings", {"name": "Gala", "status": "lost"}, "key-1")

    response = post(api, f"/v2/bookings/{booking.pk}/change_status", {"status": "lost"}, "key-1")

    assert response.status_code == 422
    booking.refresh_from_db()
    assert booking.status == "lead"


@pytest.mark.django_db
def test_keys_are_scoped_to_the_business(api, other_api):
    post(api, "/v2/bookings", {"name": "Ours"}, "shared-key")

    response = post(other_api, "/v2/bookings", {"name": "Theirs"}, "shared-key")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert sorted(Booking.objects.values_list("name", flat=True)) == ["Ours", "Theirs"]


@pytest.mark.django_db
def test_a_failed_request_stores_nothing_so_a_corrected_retry_runs(api):
    refused = post(api, "/v2/bookings", {"name": ""}, "key-1")
    corrected = post(api, "/v2/bookings", {"name": "Gala"}, "key-1")

    assert refused.status_code == 400
    assert corrected.status_code == 201
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_keys_expire_after_24_hours(api):
    post(api, "/v2/bookings", {"name": "Gala"}, "old-key")
    IdempotencyKey.objects.update(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25))

    response = post(api, "/v2/bookings", {"name": "Gala"}, "old-key")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Booking.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\tkey", "ключ"])
def test_a_malformed_key_is_400_naming_the_header(api, key):
    response = post(api, "/v2/bookings", {"name": "Gala"}, key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not Booking.objects.exists()


@pytest.mark.django_db
def test_without_the_header_every_post_writes(api):
    api.post("/v2/bookings", {"name": "Gala"}, format="json")
    api.post("/v2/bookings", {"name": "Gala"}, format="json")
    assert Booking.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_write_once():
    business = Business.objects.create(id=43111, name="Demo Venue")
    _, key = ApiToken.objects.issue(User.objects.create_user("JoeSchmo", business=business))
    requests = 8
    start = threading.Barrier(requests)

    def create(_: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            start.wait(timeout=30)
            response = post(client, "/v2/bookings", {"name": "Gala"}, "same-key")
            return response.status_code, response.json()["id"]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=requests) as pool:
        results = list(pool.map(create, range(requests)))

    assert {code for code, _ in results} == {201}
    assert len({booking_id for _, booking_id in results}) == 1
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_a_retried_status_post_creates_once_and_replays_201(api, business):
    from statuses.models import Status

    body = {"businessId": business.id, "status": "OPEN", "subStatus": "Ready for clients"}
    first = post(api, "/status", body, "status-1")
    retry = post(api, "/status", body, "status-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert Status.objects.filter(business=business, sub_status="Ready for clients").count() == 1


@pytest.mark.django_db
def test_purge_deletes_only_expired_keys_and_a_rerun_deletes_nothing(api):
    from io import StringIO

    from django.core.management import call_command

    post(api, "/v2/bookings", {"name": "Old"}, "old-key")
    post(api, "/v2/bookings", {"name": "New"}, "new-key")
    IdempotencyKey.objects.filter(key="old-key").update(
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
    )

    def purge(*arguments: str) -> str:
        out = StringIO()
        call_command("purge_idempotency_keys", *arguments, stdout=out)
        return out.getvalue()

    assert "Would delete 1" in purge("--dry-run")
    assert IdempotencyKey.objects.count() == 2
    assert "Deleted 1" in purge()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new-key"]
    assert "Deleted 0" in purge()
