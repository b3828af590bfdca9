"""Queries per request are part of the contract: none grows with the data."""

import datetime as dt

import pytest

AUTH = 1  # the token lookup (token, user and business in one join)
# Tests run inside a transaction, so each atomic block of a write shows up as a
# SAVEPOINT/RELEASE pair; in production it is the request's BEGIN/COMMIT.
ATOMIC = 2
# Every write inserts its event (SPEC §8.1) in its own transaction: one INSERT each.
EVENT = 1


def add_bookings(make_booking, count: int) -> list:
    bookings = [make_booking(name=f"booking {n}") for n in range(count)]
    for booking in bookings:
        booking.change_status("tentative", at=dt.datetime(2025, 1, 10, tzinfo=dt.UTC))
    return bookings


@pytest.mark.query_budget("get", "/v2/bookings")
@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_a_list_page_costs_the_same_whatever_its_length(
    api, make_booking, django_assert_num_queries, count
):
    add_bookings(make_booking, count)
    with django_assert_num_queries(AUTH + 1):
        response = api.get("/v2/bookings?status=tentative&page_size=50")
    assert len(response.json()["results"]) == count


@pytest.mark.query_budget("get", "/v2/bookings/{id}")
@pytest.mark.django_db
def test_retrieve(api, make_booking, django_assert_num_queries):
    booking = make_booking()
    with django_assert_num_queries(AUTH + 1):
        assert api.get(f"/v2/bookings/{booking.pk}").status_code == 200


@pytest.mark.query_budget("get", "/v2/bookings/{id}/status_history")
@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 20])
def test_status_history_page_costs_the_same_whatever_its_length(
    api, make_booking, django_assert_num_queries, count
):
    booking = make_booking()
    for _ in range(count):
        booking.change_status("lost", at=dt.datetime(2025, 1, 10, tzinfo=dt.UTC))
    with django_assert_num_queries(AUTH + 2):  # the booking, then one page of its history
        response = api.get(f"/v2/bookings/{booking.pk}/status_history")
    assert len(response.json()["results"]) == count


@pytest.mark.query_budget("post", "/v2/bookings/{id}/change_status")
@pytest.mark.django_db
def test_change_status(api, make_booking, django_assert_num_queries):
    booking = make_booking()
    # The locked read (scoped to the business), the business's time zone (read after
    # the lock, SPEC §13: a zone changed meanwhile is seen), the update, the history
    # insert and the event's: the booking and the entry are in hand, so the event reads
    # nothing more.
    with django_assert_num_queries(AUTH + ATOMIC + 4 + EVENT) as captured:
        response = api.post(f"/v2/bookings/{booking.pk}/change_status", {"status": "lost"})
    assert response.status_code == 200
    statements = [query["sql"].split()[0] for query in captured.captured_queries]
    assert statements.count("UPDATE") == 1
    assert statements.count("INSERT") == 2


@pytest.mark.query_budget("post", "/v2/bookings")
@pytest.mark.query_budget("patch", "/v2/bookings/{id}")
@pytest.mark.query_budget("delete", "/v2/bookings/{id}")
@pytest.mark.django_db
def test_create_and_patch_and_delete(api, make_booking, django_assert_num_queries):
    with django_assert_num_queries(AUTH + ATOMIC + 1 + EVENT):
        created = api.post("/v2/bookings", {"name": "Gala"})
    booking_id = created.json()["id"]
    # A write reads the booking locked, in the transaction that writes it (so one
    # deleted meanwhile is a 404).
    with django_assert_num_queries(AUTH + ATOMIC + 2 + EVENT):  # locked read, update
        api.patch(f"/v2/bookings/{booking_id}", {"notes": "Balcony"})
    with django_assert_num_queries(AUTH + ATOMIC + 3 + EVENT):  # locked read, cascade, delete
        assert api.delete(f"/v2/bookings/{booking_id}").status_code == 204


@pytest.mark.django_db
def test_create_with_a_status_is_one_write(api, django_assert_num_queries):
    # The business's time zone (the initial status is stamped in it), the stamped
    # insert, the history entry, and booking.created with booking.status_changed (the
    # one event writer writes a change's events in one INSERT).
    with django_assert_num_queries(AUTH + ATOMIC + 3 + EVENT):
        created = api.post("/v2/bookings", {"name": "Gala", "status": "tentative"})
    assert created.status_code == 201


@pytest.mark.django_db
def test_a_patch_that_changes_nothing_only_reads(api, make_booking, django_assert_num_queries):
    booking = make_booking(notes="Balcony")
    with django_assert_num_queries(AUTH + ATOMIC + 1):  # the locked read
        response = api.patch(f"/v2/bookings/{booking.pk}", {"notes": "Balcony"})
    assert response.status_code == 200


@pytest.mark.django_db
def test_if_match_and_if_none_match_cost_no_query(api, make_booking, django_assert_num_queries):
    booking = make_booking()
    path = f"/v2/bookings/{booking.pk}"
    # Compared with the row the write locks anyway, and the row the read reads.
    with django_assert_num_queries(AUTH + ATOMIC + 4 + EVENT):
        response = api.post(f"{path}/change_status", {"status": "lost"}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 200
    with django_assert_num_queries(AUTH + 1):
        assert api.get(path, HTTP_IF_NONE_MATCH='"2"').status_code == 304


@pytest.mark.django_db
def test_change_status_with_a_reason_reads_the_reason_once(
    api, make_booking, django_assert_num_queries
):
    from bookings.models import LostReason

    booking = make_booking()
    reason = LostReason.objects.shared().get(code="budget")
    # As without one, plus one statement that reads the reason and, for a shared one,
    # whether the business has a list of its own (which would replace the shared one).
    with django_assert_num_queries(AUTH + ATOMIC + 5 + EVENT):
        response = api.post(
            f"/v2/bookings/{booking.pk}/change_status",
            {"status": "lost", "lost_reason_id": reason.pk, "lost_note": "Dear"},
        )
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_hold_costs_no_query(api, make_booking, django_assert_num_queries):
    booking = make_booking()
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    with django_assert_num_queries(AUTH + ATOMIC + 4 + EVENT):
        response = api.post(
            f"/v2/bookings/{booking.pk}/change_status",
            {"status": "tentative", "hold_until": until},
        )
    assert response.status_code == 200
    with django_assert_num_queries(AUTH + ATOMIC + 2 + EVENT):  # locked read, update
        response = api.patch(f"/v2/bookings/{booking.pk}", {"hold_until": None})
    assert response.status_code == 200


@pytest.mark.query_budget("get", "/v2/lost_reasons")
@pytest.mark.query_budget("get", "/v2/lost_reasons/{id}")
@pytest.mark.query_budget("patch", "/v2/lost_reasons/{id}")
@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 30])
def test_the_lost_reasons_cost_the_same_whatever_the_list(
    api, business, django_assert_num_queries, count
):
    from bookings.lost_reasons import LostReasonList

    for number in range(count):
        LostReasonList.of(business).add({"code": f"reason_{number}", "label": f"R {number}"})
    with django_assert_num_queries(AUTH + 1):  # the list, own or shared, in one statement
        response = api.get("/v2/lost_reasons?active=all")
    assert len(response.json()["results"]) == 6 + count
    reason_id = response.json()["results"][0]["id"]
    with django_assert_num_queries(AUTH + 1):
        assert api.get(f"/v2/lost_reasons/{reason_id}").status_code == 200
    # The business's row locked, the reason locked, the update.
    with django_assert_num_queries(AUTH + ATOMIC + 3):
        response = api.patch(f"/v2/lost_reasons/{reason_id}", {"label": "Renamed"})
    assert response.status_code == 200


@pytest.mark.query_budget("post", "/v2/lost_reasons")
@pytest.mark.django_db
def test_the_first_post_forks_in_one_insert(api, django_assert_num_queries):
    # The business's row locked, its list's last sort order (none: the first write),
    # the shared list read and copied in one INSERT, the new reason's INSERT.
    with django_assert_num_queries(AUTH + ATOMIC + 5):
        response = api.post("/v2/lost_reasons", {"code": "weather", "label": "Weather"})
    assert response.status_code == 201
    with django_assert_num_queries(AUTH + ATOMIC + 3):  # lock, last sort order, insert
        response = api.post("/v2/lost_reasons", {"code": "storm", "label": "Storm"})
    assert response.status_code == 201


@pytest.mark.query_budget("patch", "/v2/business")
@pytest.mark.django_db
def test_the_business_and_its_settings(api, django_assert_num_queries):
    with django_assert_num_queries(AUTH + 1):
        assert api.get("/v2/business").status_code == 200
    # The row locked and read, its update, the event.
    with django_assert_num_queries(AUTH + ATOMIC + 2 + EVENT):
        response = api.patch("/v2/business", {"hold_reminder_hours": 6})
    assert response.status_code == 200
