"""The reports' queries per request: the token, the business's zone and one statement,
however many bookings and history entries there are."""

import datetime as dt

import pytest
from django.db import connection

AUTH = 1  # the token lookup
ZONE = 1  # the business's time zone
# The report's one statement; on PostgreSQL after `SET LOCAL plan_cache_mode` (a report
# is planned for its own business: reports.queries.run).
REPORT = 2 if connection.vendor == "postgresql" else 1


@pytest.mark.query_budget("get", "/v2/reports/pipeline")
@pytest.mark.query_budget("get", "/v2/reports/time_in_status")
@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 20])
@pytest.mark.parametrize("report", ["pipeline", "time_in_status"])
def test_a_report_costs_the_same_whatever_the_history(
    api, make_booking, django_assert_num_queries, report, count
):
    for _ in range(count):
        booking = make_booking()
        booking.change_status("tentative", at=dt.datetime(2025, 1, 10, tzinfo=dt.UTC))
        booking.change_status("definite", at=dt.datetime(2025, 1, 12, tzinfo=dt.UTC))

    with django_assert_num_queries(AUTH + ZONE + REPORT):
        response = api.get(f"/v2/reports/{report}?from=2025-01-01")

    assert response.status_code == 200


@pytest.mark.query_budget("get", "/v2/reports/lost_reasons")
@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 20])
def test_the_lost_reasons_report_costs_the_same_whatever_the_history(
    api, make_booking, django_assert_num_queries, count
):
    from bookings.models import LostReason

    reasons = list(LostReason.objects.shared().exclude(code="hold_expired"))
    for number in range(count):
        make_booking().change_status("lost", lost_reason_id=reasons[number % len(reasons)].pk)

    # The entries into lost counted per reason recorded (one GROUP BY), then the
    # business's reasons those name.
    with django_assert_num_queries(AUTH + ZONE + 2):
        response = api.get("/v2/reports/lost_reasons")

    assert response.status_code == 200
    assert sum(row["lost"] for row in response.json()["results"]) == count


@pytest.mark.query_budget("get", "/v2/reports/appointments")
@pytest.mark.parametrize("count", [1, 20])
def test_the_appointments_report_costs_the_same_whatever_the_appointments(
    api, business, chair, django_assert_num_queries, count
):
    from appointments.actions import create_appointment

    start = dt.datetime(2025, 1, 10, 9, tzinfo=dt.UTC)
    for n in range(count):
        create_appointment(
            business.pk,
            {
                "resource_id": chair.pk,
                "starts_at": start + dt.timedelta(hours=n),
                "ends_at": start + dt.timedelta(hours=n, minutes=30),
                "client_name": "Client",
            },
        )

    # One statement (the ORM's), and with resource_id the resource's check.
    with django_assert_num_queries(AUTH + ZONE + 1):
        response = api.get("/v2/reports/appointments?from=2025-01-01")
    with django_assert_num_queries(AUTH + ZONE + 2):
        api.get(f"/v2/reports/appointments?from=2025-01-01&resource_id={chair.pk}")

    assert sum(row["appointments"] for row in response.json()["results"]) == count
