"""Queries per request of the resources and appointments API: none grows with the data.
Each test names the operations it budgets (`query_budget`), which
tests/test_query_budget_coverage.py checks against the published schema."""

import datetime as dt

import pytest

from appointments.actions import Target, change_status, create_appointment, create_resource

AUTH = 1  # the token lookup (token, user and business in one join)
# Tests run inside a transaction, so each atomic block of a write shows up as a
# SAVEPOINT/RELEASE pair; in production it is the request's BEGIN/COMMIT.
ATOMIC = 2
EVENT = 1  # every write inserts its event

pytestmark = pytest.mark.django_db


def add_appointments(business, resource, count: int) -> list:
    start = dt.datetime(2025, 3, 4, 8, tzinfo=dt.UTC)
    appointments = []
    for n in range(count):
        starts_at = start + dt.timedelta(minutes=30 * n)
        appointments.append(
            create_appointment(
                business.pk,
                {
                    "resource_id": resource.pk,
                    "starts_at": starts_at,
                    "ends_at": starts_at + dt.timedelta(minutes=30),
                    "client_name": f"Client {n}",
                },
            )
        )
    return appointments


@pytest.mark.query_budget("get", "/v2/resources")
@pytest.mark.parametrize("count", [1, 20])
def test_resource_list(api, business, django_assert_num_queries, count):
    for n in range(count):
        create_resource(business.pk, name=f"Chair {n}")
    with django_assert_num_queries(AUTH + 1):
        assert len(api.get("/v2/resources").json()["results"]) == count


@pytest.mark.query_budget("post", "/v2/resources")
@pytest.mark.query_budget("get", "/v2/resources/{id}")
@pytest.mark.query_budget("patch", "/v2/resources/{id}")
def test_resource_create_read_and_patch(api, business, django_assert_num_queries):
    # The business row locked (so that the count is one at a time), the count, the
    # insert and its event.
    with django_assert_num_queries(AUTH + ATOMIC + 3 + EVENT):
        created = api.post("/v2/resources", {"name": "Chair"}, format="json")
    path = f"/v2/resources/{created.json()['id']}"
    with django_assert_num_queries(AUTH + 1):
        assert api.get(path).status_code == 200
    # The locked read, the update and its event.
    with django_assert_num_queries(AUTH + ATOMIC + 2 + EVENT):
        assert api.patch(path, {"name": "Armchair"}, format="json").status_code == 200


@pytest.mark.query_budget("get", "/v2/appointments")
@pytest.mark.parametrize("count", [1, 20])
@pytest.mark.parametrize(
    "query", ["", "?status=OPEN,CANCELLED&resource_id={chair}", "?date=2025-03-04"]
)
def test_appointment_list(api, business, chair, django_assert_num_queries, count, query):
    add_appointments(business, chair, count)
    zone = 1 if "date" in query else 0  # the business's zone, for the local day
    with django_assert_num_queries(AUTH + zone + 1):
        response = api.get(f"/v2/appointments{query.format(chair=chair.pk)}")
    assert len(response.json()["results"]) == count


@pytest.mark.query_budget("post", "/v2/appointments")
def test_appointment_create(api, business, chair, django_assert_num_queries):
    add_appointments(business, chair, 1)  # the list is forked by then
    body = {
        "resource_id": chair.pk,
        "starts_at": "2025-03-05T09:00:00Z",
        "ends_at": "2025-03-05T09:30:00Z",
        "client_name": "Ada",
    }
    # The resource, the default status found then share-locked, the conflict check,
    # the insert, its history entry and its event.
    with django_assert_num_queries(AUTH + ATOMIC + 6 + EVENT):
        assert api.post("/v2/appointments", body, format="json").status_code == 201


@pytest.mark.query_budget("get", "/v2/appointments/{id}")
@pytest.mark.query_budget("patch", "/v2/appointments/{id}")
def test_appointment_read_and_patch(api, business, chair, django_assert_num_queries):
    [appointment] = add_appointments(business, chair, 1)
    path = f"/v2/appointments/{appointment.pk}"
    with django_assert_num_queries(AUTH + 1):
        assert api.get(path).status_code == 200
    # The locked read, the update and its event.
    with django_assert_num_queries(AUTH + ATOMIC + 2 + EVENT):
        assert api.patch(path, {"notes": "Window seat"}, format="json").status_code == 200
    # New times of a time-blocking appointment: the conflict check too.
    with django_assert_num_queries(AUTH + ATOMIC + 3 + EVENT):
        response = api.patch(path, {"ends_at": "2025-03-04T08:45:00Z"}, format="json")
    assert response.status_code == 200


@pytest.mark.query_budget("post", "/v2/appointments/{id}/change_status")
def test_appointment_change_status(api, business, chair, django_assert_num_queries):
    [appointment] = add_appointments(business, chair, 1)
    path = f"/v2/appointments/{appointment.pk}/change_status"
    cancelled = {"status": "CANCELLED", "sub_status": "CANCELLED"}
    # The target found then share-locked, the appointment locked, the update, the
    # history entry and the event.
    with django_assert_num_queries(AUTH + ATOMIC + 5 + EVENT):
        assert api.post(path, cancelled, format="json").status_code == 200
    # Re-opened, it blocks time again: the conflict check too.
    with django_assert_num_queries(AUTH + ATOMIC + 6 + EVENT):
        response = api.post(path, {"status": "OPEN", "sub_status": "OPEN"}, format="json")
    assert response.status_code == 200


@pytest.mark.query_budget("get", "/v2/appointments/{id}/status_history")
@pytest.mark.parametrize("count", [1, 20])
def test_appointment_status_history(api, business, chair, django_assert_num_queries, count):
    [appointment] = add_appointments(business, chair, 1)
    for _ in range(count - 1):
        change_status(business.pk, appointment.pk, Target(status="OPEN", sub_status="OPEN"))
    with django_assert_num_queries(AUTH + 2):  # the appointment, then one page
        response = api.get(f"/v2/appointments/{appointment.pk}/status_history")
    assert len(response.json()["results"]) == count
