"""POST /v2/bookings/change_status: many bookings' status at once (SPEC §10, §13)."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ApiToken, Business, User
from bookings.models import Booking, BookingStatusChange
from events.models import Event
from tests.conftest import requires_postgresql
from tests.test_booking_concurrency import assert_unbroken_chain
from tests.test_bookings_query_budget import ATOMIC, AUTH

PATH = "/v2/bookings/change_status"
T_CHANGE = dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC)


def everything_written() -> tuple:
    return (
        list(Booking.objects.order_by("pk").values()),
        list(BookingStatusChange.objects.order_by("pk").values()),
        Event.objects.count(),
    )


@pytest.mark.django_db
def test_changes_every_booking_and_answers_in_the_order_of_ids(api, make_booking):
    first, second, third = (make_booking(name=f"b{n}") for n in range(3))
    first.change_status("lost", at=T_CHANGE - dt.timedelta(days=3))
    ids = [third.pk, first.pk, second.pk]

    response = api.post(
        PATH,
        {"ids": ids, "status": "tentative", "status_at": "2025-01-15T14:30:00Z"},
        format="json",
    )

    assert response.status_code == 200
    results = response.json()["results"]
    assert [booking["id"] for booking in results] == ids
    assert {booking["tentative_at"] for booking in results} == {"2025-01-15T14:30:00Z"}
    assert [booking["version"] for booking in results] == [2, 3, 2]
    assert results[1]["lost_at"] is None  # leaving lost clears it, as change_status does
    assert "ETag" not in response
    for booking in (first, second, third):
        booking.refresh_from_db()
        assert (booking.status, booking.tentative_at) == ("tentative", T_CHANGE)


@pytest.mark.django_db
def test_one_entry_and_one_event_per_booking_in_ascending_id(api, api_user, make_booking):
    bookings = [make_booking(name=f"b{n}") for n in range(3)]
    ids = [bookings[2].pk, bookings[0].pk, bookings[1].pk]
    Event.objects.all().delete()

    api.post(PATH, {"ids": ids, "status": "definite"}, format="json")

    entries = list(BookingStatusChange.objects.order_by("id"))
    assert [entry.booking_id for entry in entries] == sorted(ids)
    assert {(e.from_status, e.to_status, e.source, e.changed_by) for e in entries} == {
        ("lead", "definite", "api", api_user.username)
    }
    assert len({entry.status_at for entry in entries}) == 1  # "now" is taken once
    events = list(Event.objects.order_by("id"))
    assert [event.type for event in events] == ["booking.status_changed"] * 3
    assert [event.data["booking"]["id"] for event in events] == sorted(ids)
    assert [event.data["change"]["id"] for event in events] == [entry.id for entry in entries]
    assert {event.data["booking"]["version"] for event in events} == {2}


@pytest.mark.django_db
def test_a_missing_or_foreign_id_is_404_listing_them_and_nothing_is_written(
    api, make_booking, other_business
):
    mine = make_booking()
    foreign = Booking.objects.create(business=other_business, name="Theirs")
    before = everything_written()

    response = api.post(
        PATH, {"ids": [999_999, mine.pk, foreign.pk], "status": "lost"}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["ids"] == [999_999, foreign.pk]
    assert "detail" in response.json()
    assert everything_written() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ids",
    [[], list(range(1, 502)), [1, 1], [0], [-3], ["1"], [1.5], [True], [None], "1", None, [2**63]],
)
def test_ids_other_than_1_to_500_distinct_positive_integers_are_400_naming_ids(
    api, make_booking, ids
):
    make_booking()
    before = everything_written()

    response = api.post(PATH, {"ids": ids, "status": "lost"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["ids"]
    assert everything_written() == before


@pytest.mark.django_db
def test_500_ids_are_accepted(api, make_booking):
    bookings = Booking.objects.bulk_create(
        Booking(business_id=43111, name=f"b{n}") for n in range(500)
    )
    ids = [booking.pk for booking in bookings]

    response = api.post(PATH, {"ids": ids, "status": "tentative"}, format="json")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 500
    assert BookingStatusChange.objects.count() == 500


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "closed"}, "status"),
        ({"status": "lost", "status_at": "2999-01-01T00:00:00Z"}, "status_at"),
        ({"status": "lost", "status_date": "2025-02-30"}, "status_date"),
        ({"status": "lost", "version": 3}, "version"),
    ],
)
def test_a_bad_status_or_moment_is_400_naming_it(api, make_booking, body, field):
    booking = make_booking()
    before = everything_written()

    response = api.post(PATH, {"ids": [booking.pk], **body}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert everything_written() == before


@pytest.mark.django_db
def test_if_match_on_bulk_is_400(api, make_booking):
    booking = make_booking()
    before = everything_written()

    response = api.post(
        PATH, {"ids": [booking.pk], "status": "lost"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 400
    assert "If-Match" in response.json()
    assert everything_written() == before


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_first_answer(api, make_booking):
    booking = make_booking()
    body = {"ids": [booking.pk], "status": "lost"}

    first = api.post(PATH, body, format="json", HTTP_IDEMPOTENCY_KEY="close-season")
    again = api.post(PATH, body, format="json", HTTP_IDEMPOTENCY_KEY="close-season")

    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert BookingStatusChange.objects.count() == 1


@pytest.mark.query_budget("post", "/v2/bookings/change_status")
@pytest.mark.django_db
@pytest.mark.parametrize("count", [2, 90])
def test_the_statements_do_not_grow_with_the_number_of_ids(api, django_assert_num_queries, count):
    bookings = Booking.objects.bulk_create(
        Booking(business_id=43111, name=f"b{n}") for n in range(count)
    )
    ids = [booking.pk for booking in bookings]

    # The lock (the bookings, read), the business's zone, one UPDATE, one history
    # INSERT, one event INSERT. (SQLite splits an INSERT at 999 parameters: beyond
    # 99 bookings the history's takes more than one there; PostgreSQL never does.)
    with django_assert_num_queries(AUTH + ATOMIC + 5) as captured:
        response = api.post(PATH, {"ids": ids, "status": "lost"}, format="json")

    assert response.status_code == 200
    statements = [query["sql"].split()[0] for query in captured.captured_queries]
    assert (statements.count("UPDATE"), statements.count("INSERT")) == (1, 2)


@requires_postgresql
@pytest.mark.django_db
def test_500_ids_take_one_statement_each_on_postgresql(api, django_assert_num_queries):
    bookings = Booking.objects.bulk_create(
        Booking(business_id=43111, name=f"b{n}") for n in range(500)
    )

    with django_assert_num_queries(AUTH + ATOMIC + 5):
        response = api.post(
            PATH, {"ids": [b.pk for b in bookings], "status": "lost"}, format="json"
        )

    assert response.status_code == 200


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_bulk_changes_in_opposite_orders_all_succeed_and_chain():
    business = Business.objects.create(id=43111, name="Demo Venue")
    _, key = ApiToken.objects.issue(User.objects.create_user(username="u", business=business))
    bookings = [Booking.objects.create(business=business, name=f"b{n}") for n in range(10)]
    ids = [booking.pk for booking in bookings]
    calls = 24
    start = threading.Barrier(calls)

    def change(number: int) -> int:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            order = ids if number % 2 else ids[::-1]
            start.wait(timeout=30)
            status = ["tentative", "definite", "lost", "lead"][number % 4]
            return client.post(PATH, {"ids": order, "status": status}, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=calls) as pool:
        codes = list(pool.map(change, range(calls)))

    assert codes == [200] * calls
    for booking in bookings:
        assert_unbroken_chain(booking, calls)
        booking.refresh_from_db()
        assert booking.version == 1 + calls
