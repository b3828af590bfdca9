"""GET /v2/reports/appointments (SPEC §14.6, §17): known answers, in the business's zone,
JSON and CSV, with the pipeline's windows and refusals."""

import csv
import datetime as dt
import io

import pytest

from appointments.actions import Target, change_status, create_appointment, create_resource

pytestmark = pytest.mark.django_db


def appointment(business, starts_at: str, status: str | None = None, resource=None) -> int:
    starts = dt.datetime.fromisoformat(starts_at)
    made = create_appointment(
        business.pk,
        {
            "resource_id": resource.pk if resource else None,
            "starts_at": starts,
            "ends_at": starts + dt.timedelta(minutes=30),
            "client_name": "Client",
        },
    )
    if status:
        change_status(business.pk, made.pk, Target(status=status, sub_status=status))
    return made.pk


@pytest.fixture
def paris_quarter(business):
    """A business in Europe/Paris (UTC+1 in winter, +2 from 30 March) with appointments
    whose local day differs from their UTC day at month ends."""
    business.set_timezone("Europe/Paris")
    chair = create_resource(business.pk, name="Chair")
    # 31 Jan 23:30 UTC is 1 Feb 00:30 in Paris: February's.
    appointment(business, "2025-01-31T23:30:00+00:00", "COMPLETED", chair)
    appointment(business, "2025-01-15T09:00:00+00:00", "COMPLETED")
    appointment(business, "2025-01-16T09:00:00+00:00", "NO_SHOW")
    appointment(business, "2025-01-17T09:00:00+00:00", "CANCELLED", chair)
    appointment(business, "2025-01-18T09:00:00+00:00")  # still open
    appointment(business, "2025-01-19T09:00:00+00:00", "DELETED")  # left out
    # 31 March 22:30 UTC is 1 April 00:30 in Paris (summer time): April's.
    appointment(business, "2025-03-31T22:30:00+00:00", "CANCELLED")
    return chair


@pytest.mark.usefixtures("paris_quarter")
def test_known_answers_by_month_in_the_business_s_zone(api):
    body = api.get("/v2/reports/appointments?from=2025-01-01&to=2025-04-30").json()

    assert body["results"] == [
        {
            "bucket": "2025-01-01",
            "appointments": 4,
            "completed": 1,
            "no_show": 1,
            "cancelled": 1,
            "no_show_rate": 0.25,
            "cancellation_rate": 0.25,
        },
        {
            "bucket": "2025-02-01",
            "appointments": 1,
            "completed": 1,
            "no_show": 0,
            "cancelled": 0,
            "no_show_rate": 0.0,
            "cancellation_rate": 0.0,
        },
        {
            "bucket": "2025-03-01",
            "appointments": 0,
            "completed": 0,
            "no_show": 0,
            "cancelled": 0,
            "no_show_rate": None,
            "cancellation_rate": None,
        },
        {
            "bucket": "2025-04-01",
            "appointments": 1,
            "completed": 0,
            "no_show": 0,
            "cancelled": 1,
            "no_show_rate": 0.0,
            "cancellation_rate": 1.0,
        },
    ]
    assert body["meta"]["time_zone"] == "Europe/Paris"
    assert body["meta"]["interval"] == "month"
    assert list(body["meta"]["definitions"]) == list(body["results"][0])


def test_a_resource_and_weeks_starting_on_monday(api, paris_quarter):
    response = api.get(
        f"/v2/reports/appointments?from=2025-01-13&to=2025-02-02&interval=week"
        f"&resource_id={paris_quarter.pk}"
    )

    rows = response.json()["results"]
    assert [row["bucket"] for row in rows] == ["2025-01-13", "2025-01-20", "2025-01-27"]
    assert [row["appointments"] for row in rows] == [1, 0, 1]
    assert [row["cancelled"] for row in rows] == [1, 0, 0]


def test_days_and_a_clipped_range_keep_each_bucket_s_calendar_start(api, paris_quarter):
    by_day = api.get("/v2/reports/appointments?from=2025-01-31&to=2025-02-01&interval=day")
    clipped = api.get("/v2/reports/appointments?from=2025-01-16&to=2025-02-10")

    assert [r["appointments"] for r in by_day.json()["results"]] == [0, 1]
    assert [(r["bucket"], r["appointments"]) for r in clipped.json()["results"]] == [
        ("2025-01-01", 3),
        ("2025-02-01", 1),
    ]


@pytest.mark.usefixtures("paris_quarter")
def test_csv_has_the_json_row_s_keys_as_its_header(api):
    response = api.get(
        "/v2/reports/appointments?from=2025-01-01&to=2025-02-28", HTTP_ACCEPT="text/csv"
    )

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    json_rows = api.get("/v2/reports/appointments?from=2025-01-01&to=2025-02-28").json()["results"]
    assert rows[0] == list(json_rows[0])
    assert rows[1] == ["2025-01-01", "4", "1", "1", "1", "0.25", "0.25"]
    assert len(rows) == 3


def test_the_default_range_is_the_last_12_whole_months_and_this_one(api):
    assert len(api.get("/v2/reports/appointments").json()["results"]) == 13


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2025-02-01&to=2025-01-01", "from"),
        ("from=2025-1-1", "from"),
        ("interval=year", "interval"),
        ("from=1990-01-01&to=2025-01-01&interval=day", "interval"),
        ("resource_id=abc", "resource_id"),
        ("resource_id=999999", "resource_id"),
        ("format=csv", "format"),
    ],
)
def test_bad_parameters_are_400_naming_them(api, query, field):
    response = api.get(f"/v2/reports/appointments?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_another_business_s_resource_is_unknown(api, other_business):
    theirs = create_resource(other_business.pk, name="Theirs")

    response = api.get(f"/v2/reports/appointments?resource_id={theirs.pk}")

    assert response.status_code == 400
    assert "resource_id" in response.json()
