"""Versions, ETags and conditional requests on one booking (SPEC §10, §13)."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ApiToken, Business, User
from bookings.models import Booking, BookingStatusChange
from core.conditional import StaleVersion
from events.models import Event
from tests.conftest import requires_postgresql

T_CHANGE = dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC)


def written_state(booking: Booking) -> tuple:
    """What a refused write must leave as it was: the row, its history, the events."""
    row = Booking.objects.filter(pk=booking.pk).values().first()
    history = list(BookingStatusChange.objects.filter(booking_id=booking.pk).values())
    return row, history, Event.objects.count()


# --- version --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_created_booking_has_version_1_and_its_etag(api):
    response = api.post("/v2/bookings", {"name": "New"}, format="json")

    assert response.status_code == 201
    assert response.json()["version"] == 1
    assert response["ETag"] == '"1"'
    assert Booking.objects.get(pk=response.json()["id"]).version == 1


@pytest.mark.django_db
def test_a_create_with_a_status_is_version_1_in_both_events(api):
    response = api.post("/v2/bookings", {"name": "New", "status": "tentative"}, format="json")

    assert response.json()["version"] == 1
    assert [event.data["booking"]["version"] for event in Event.objects.order_by("id")] == [1, 1]


@pytest.mark.django_db
def test_every_write_adds_one_to_the_version(api, make_booking):
    booking = make_booking()
    path = f"/v2/bookings/{booking.pk}"

    patched = api.patch(path, {"notes": "Bring cake"}, format="json")
    changed = api.post(f"{path}/change_status", {"status": "lost"}, format="json")

    assert (patched.json()["version"], patched["ETag"]) == (2, '"2"')
    assert (changed.json()["version"], changed["ETag"]) == (3, '"3"')
    assert api.get(path)["ETag"] == '"3"'
    booking.refresh_from_db()
    assert booking.version == 3
    latest = Event.objects.order_by("-id").first()
    assert latest.data["booking"]["version"] == 3


@pytest.mark.django_db
def test_a_patch_that_changes_nothing_keeps_the_version(api, make_booking):
    booking = make_booking(notes="Same")

    response = api.patch(f"/v2/bookings/{booking.pk}", {"notes": "Same"}, format="json")

    assert response.json()["version"] == 1
    booking.refresh_from_db()
    assert booking.version == 1


@pytest.mark.django_db
def test_version_in_a_body_is_ignored(api, make_booking):
    booking = make_booking()

    response = api.patch(f"/v2/bookings/{booking.pk}", {"notes": "x", "version": 99}, format="json")

    assert response.status_code == 200
    assert response.json()["version"] == 2


@pytest.mark.django_db
def test_the_data_fixes_add_to_the_version_of_what_they_change(make_booking):
    legacy = make_booking(status="tentative", tentative_date=dt.date(2025, 1, 10))
    stray = make_booking(status="lead", lost_date=dt.date(2025, 1, 1), lost_at=T_CHANGE)
    fine = make_booking(status="tentative", tentative_at=T_CHANGE, tentative_date=T_CHANGE.date())

    call_command("backfill_status_datetimes", stdout=StringIO())
    call_command("repair_booking_status_dates", stdout=StringIO())

    versions = Booking.objects.in_bulk([legacy.pk, stray.pk, fine.pk])
    assert [versions[b.pk].version for b in (legacy, stray, fine)] == [2, 2, 1]


@pytest.mark.django_db
def test_a_zone_change_adds_to_the_version_of_the_bookings_it_realigns(business, make_booking):
    evening = dt.datetime(2025, 1, 10, 20, tzinfo=dt.UTC)  # the 11th in Auckland
    realigned = make_booking(
        status="tentative", tentative_at=evening, tentative_date=evening.date()
    )
    unchanged = make_booking(
        status="tentative", tentative_at=T_CHANGE, tentative_date=T_CHANGE.date()
    )

    business.set_timezone("Pacific/Auckland")

    realigned.refresh_from_db()
    unchanged.refresh_from_db()
    assert (realigned.tentative_date, realigned.version) == (dt.date(2025, 1, 11), 2)
    assert unchanged.version == 1


# --- If-Match ---------------------------------------------------------------------


def write(api, method: str, booking: Booking, **headers):
    path = f"/v2/bookings/{booking.pk}"
    if method == "patch":
        return api.patch(path, {"notes": "Mine"}, format="json", **headers)
    if method == "delete":
        return api.delete(path, **headers)
    return api.post(f"{path}/change_status", {"status": "definite"}, format="json", **headers)


METHODS = ["patch", "delete", "change_status"]


@pytest.mark.django_db
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("header", ['"1"', "*", 'W/"9", "1"', '"7", "1"'])
def test_a_matching_if_match_writes(api, make_booking, method, header):
    booking = make_booking()

    response = write(api, method, booking, HTTP_IF_MATCH=header)

    assert response.status_code in (200, 204)
    assert Booking.objects.filter(pk=booking.pk, version=1).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("header", ['"2"', 'W/"1"', '"01"', '"x"', '""'])
def test_a_stale_if_match_is_412_with_the_current_etag_and_writes_nothing(
    api, make_booking, method, header
):
    booking = make_booking()
    before = written_state(booking)

    response = write(api, method, booking, HTTP_IF_MATCH=header)

    assert response.status_code == 412
    assert response["ETag"] == '"1"'
    assert written_state(booking) == before


@pytest.mark.django_db
@pytest.mark.parametrize("method", METHODS)
def test_a_malformed_if_match_is_a_400_naming_it(api, make_booking, method):
    booking = make_booking()
    before = written_state(booking)

    response = write(api, method, booking, HTTP_IF_MATCH="1")

    assert response.status_code == 400
    assert "If-Match" in response.json()
    assert written_state(booking) == before


@pytest.mark.django_db
@pytest.mark.parametrize("method", METHODS)
def test_another_business_s_booking_is_404_before_412(other_api, make_booking, method):
    booking = make_booking()

    assert write(other_api, method, booking, HTTP_IF_MATCH='"5"').status_code == 404


@pytest.mark.django_db
def test_a_bad_body_is_400_before_412(api, make_booking):
    booking = make_booking(starts_at=T_CHANGE)
    path = f"/v2/bookings/{booking.pk}"
    stale = {"HTTP_IF_MATCH": '"5"'}
    earlier = "2025-01-01T00:00:00Z"

    assert api.patch(path, {"ends_at": earlier}, format="json", **stale).status_code == 400
    future = {"status": "lost", "status_at": "2999-01-01T00:00:00Z"}
    assert api.post(f"{path}/change_status", future, format="json", **stale).status_code == 400
    assert api.post(f"{path}/change_status", {}, format="json", **stale).status_code == 400


@pytest.mark.django_db
def test_a_stale_if_match_on_a_patch_that_changes_nothing_is_still_412(api, make_booking):
    booking = make_booking(notes="Same")

    response = api.patch(
        f"/v2/bookings/{booking.pk}", {"notes": "Same"}, format="json", HTTP_IF_MATCH='"2"'
    )

    assert response.status_code == 412


@pytest.mark.django_db
def test_an_idempotency_replay_wins_over_if_match_with_the_replayed_etag(api, make_booking):
    booking = make_booking()
    path = f"/v2/bookings/{booking.pk}/change_status"
    headers = {"HTTP_IDEMPOTENCY_KEY": "season-close", "HTTP_IF_MATCH": '"1"'}

    first = api.post(path, {"status": "lost"}, format="json", **headers)
    api.patch(f"/v2/bookings/{booking.pk}", {"notes": "later"}, format="json")
    replay = api.post(path, {"status": "lost"}, format="json", **headers)

    assert first.status_code == replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    assert replay["ETag"] == '"2"'
    assert replay.json() == first.json()


@pytest.mark.django_db
def test_a_412_stores_no_idempotency_key(api, make_booking):
    booking = make_booking()
    path = f"/v2/bookings/{booking.pk}/change_status"
    key = {"HTTP_IDEMPOTENCY_KEY": "retry-me"}

    assert (
        api.post(path, {"status": "lost"}, format="json", HTTP_IF_MATCH='"3"', **key).status_code
        == 412
    )
    assert api.post(path, {"status": "lost"}, format="json", **key).status_code == 200


@pytest.mark.django_db
def test_the_model_methods_check_the_version_of_the_locked_row(make_booking):
    booking = make_booking()
    stale = Booking.objects.get(pk=booking.pk)
    booking.edit({"notes": "First"}, expected_versions={1})

    with pytest.raises(StaleVersion) as refused:
        stale.change_status("lost", expected_versions={1})

    assert refused.value.current_version == 2
    assert Booking.objects.get(pk=booking.pk).status == "lead"


# --- If-None-Match ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("header", ['"1"', 'W/"1"', '"4", W/"1"', "*"])
def test_if_none_match_of_the_current_version_is_304_without_a_body(api, make_booking, header):
    booking = make_booking()

    response = api.get(f"/v2/bookings/{booking.pk}", HTTP_IF_NONE_MATCH=header)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == '"1"'


@pytest.mark.django_db
@pytest.mark.parametrize("header", ['"2"', "garbage"])
def test_if_none_match_of_another_version_is_the_booking(api, make_booking, header):
    booking = make_booking()

    response = api.get(f"/v2/bookings/{booking.pk}", HTTP_IF_NONE_MATCH=header)

    assert response.status_code == 200
    assert response.json()["version"] == 1


@pytest.mark.django_db
def test_if_none_match_on_another_business_s_booking_is_404(other_api, make_booking):
    booking = make_booking()

    assert other_api.get(f"/v2/bookings/{booking.pk}", HTTP_IF_NONE_MATCH="*").status_code == 404


# --- concurrency ------------------------------------------------------------------


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_patches_with_one_etag_let_exactly_one_through():
    business = Business.objects.create(id=43111, name="Demo Venue")
    _, key = ApiToken.objects.issue(User.objects.create_user(username="u", business=business))
    booking = Booking.objects.create(business=business, name="Contended")
    calls = 8
    start = threading.Barrier(calls)

    def patch(number: int) -> int:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            start.wait(timeout=30)
            return client.patch(
                f"/v2/bookings/{booking.pk}",
                {"notes": f"writer {number}"},
                format="json",
                HTTP_IF_MATCH='"1"',
            ).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=calls) as pool:
        codes = sorted(pool.map(patch, range(calls)))

    assert codes == [200] + [412] * 7
    booking.refresh_from_db()
    assert booking.version == 2
    assert Event.objects.filter(type="booking.updated").count() == 1


@pytest.mark.django_db
def test_change_status_of_a_missing_booking_is_a_404_before_its_bad_body_is_a_400(
    api, other_api, make_booking
):
    """SPEC §13: 404 (not in the caller's business), then 400 (the body), then 412."""
    booking = make_booking()

    missing = api.post("/v2/bookings/999999/change_status", {"status": "nope"})
    foreign = other_api.post(f"/v2/bookings/{booking.pk}/change_status", {"status": "nope"})
    own = api.post(f"/v2/bookings/{booking.pk}/change_status", {"status": "nope"})

    assert (missing.status_code, foreign.status_code, own.status_code) == (404, 404, 400)
    assert "status" in own.json()
