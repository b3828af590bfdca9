"""GET /v2/reports/pipeline (SPEC §11, §13 "Reports"): hand-built histories with
known answers, on SQLite and PostgreSQL alike."""

import csv
import datetime as dt
import io

import pytest

from bookings.models import Booking
from reports.queries import PIPELINE_COLUMNS, ReportWindow, pipeline


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def booking(business, created: str, *changes: tuple[str, str], **fields) -> Booking:
    made = Booking.objects.create(
        business=business, name="Booking", created_at=at(created), **fields
    )
    for status, moment in changes:
        made.change_status(status, at=at(moment))
    return made


EMPTY = {
    "bookings": 0,
    "reached_tentative": 0,
    "reached_definite": 0,
    "lost": 0,
    "open": 0,
    "conversion_to_definite": None,
    "median_days_to_definite": None,
}


@pytest.fixture
def first_quarter(business, other_business):
    """January: five bookings; February: none; March: two."""
    # Made definite directly (10 days), then re-stamped later: the first moment counts.
    booking(business, "2025-01-05", ("definite", "2025-01-15"), ("definite", "2025-01-20"))
    booking(business, "2025-01-10", ("tentative", "2025-01-12"), ("lost", "2025-01-20"))
    booking(business, "2025-01-20")  # still a lead
    # Legacy: definite without history (2 days to definite_at).
    booking(
        business,
        "2025-01-25",
        status="definite",
        definite_at=at("2025-01-27"),
        definite_date=dt.date(2025, 1, 27),
    )
    booking(business, "2025-01-28", ("definite", "2025-01-26"))  # backdated: 0 days
    booking(business, "2025-03-03", ("tentative", "2025-03-04"))
    booking(business, "2025-03-10", ("definite", "2025-03-12"), ("lost", "2025-03-15"))
    # Another business's bookings, in the same months, are never counted.
    for day in ("2025-01-06", "2025-02-06", "2025-03-06"):
        booking(other_business, day, ("definite", day))


@pytest.mark.django_db
def test_each_month_counts_its_bookings_and_how_far_they_got(api, first_quarter):
    response = api.get("/v2/reports/pipeline?from=2025-01-01&to=2025-03-31")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "bucket": "2025-01-01",
            "bookings": 5,
            "reached_tentative": 4,
            "reached_definite": 3,
            "lost": 1,
            "open": 1,
            "conversion_to_definite": 0.6,
            "median_days_to_definite": 2.0,
        },
        {"bucket": "2025-02-01", **EMPTY},
        {
            "bucket": "2025-03-01",
            "bookings": 2,
            "reached_tentative": 2,
            "reached_definite": 1,
            "lost": 1,
            "open": 1,
            "conversion_to_definite": 0.5,
            "median_days_to_definite": 2.0,
        },
    ]


@pytest.mark.django_db
def test_meta_gives_the_range_the_zone_and_the_definitions(api, first_quarter):
    meta = api.get("/v2/reports/pipeline?from=2025-01-01&to=2025-03-31&interval=week").json()[
        "meta"
    ]

    assert (meta["from"], meta["to"], meta["interval"], meta["time_zone"]) == (
        "2025-01-01",
        "2025-03-31",
        "week",
        "UTC",
    )
    assert set(meta["definitions"]) == set(api.get("/v2/reports/pipeline").json()["results"][0])
    assert "2 places" in meta["rounding"]


@pytest.mark.django_db
def test_a_clipped_bucket_keeps_its_calendar_label_and_counts_only_the_range(api, business):
    booking(business, "2025-01-10")
    booking(business, "2025-01-20")
    booking(business, "2025-02-11")

    results = api.get("/v2/reports/pipeline?from=2025-01-15&to=2025-02-10").json()["results"]

    assert [(row["bucket"], row["bookings"]) for row in results] == [
        ("2025-01-01", 1),
        ("2025-02-01", 0),
    ]


@pytest.mark.django_db
def test_weeks_start_on_monday_and_days_are_days(api, business):
    booking(business, "2025-01-05 23:59:59")  # a Sunday
    booking(business, "2025-01-06 00:00:00")  # the Monday after

    weeks = api.get("/v2/reports/pipeline?from=2025-01-01&to=2025-01-12&interval=week").json()
    days = api.get("/v2/reports/pipeline?from=2025-01-05&to=2025-01-06&interval=day").json()

    assert [(row["bucket"], row["bookings"]) for row in weeks["results"]] == [
        ("2024-12-30", 1),
        ("2025-01-06", 1),
    ]
    assert [(row["bucket"], row["bookings"]) for row in days["results"]] == [
        ("2025-01-05", 1),
        ("2025-01-06", 1),
    ]


@pytest.mark.django_db
def test_buckets_follow_the_business_local_calendar_across_dst(api, business):
    business.set_timezone("Europe/London")
    booking(business, "2025-05-31 22:30")  # 23:30 BST on 31 May
    booking(business, "2025-05-31 23:30")  # 00:30 BST on 1 June: June, not the UTC May
    booking(business, "2025-03-30 23:30")  # 00:30 BST on Monday 31 March, after the change
    booking(business, "2025-03-29 23:30")  # 23:30 GMT on Saturday 29 March

    months = api.get("/v2/reports/pipeline?from=2025-05-01&to=2025-06-30").json()
    june = api.get("/v2/reports/pipeline?from=2025-06-01&to=2025-06-30").json()
    weeks = api.get("/v2/reports/pipeline?from=2025-03-24&to=2025-04-06&interval=week").json()

    assert [(row["bucket"], row["bookings"]) for row in months["results"]] == [
        ("2025-05-01", 1),
        ("2025-06-01", 1),
    ]
    assert [row["bookings"] for row in june["results"]] == [1]
    assert [(row["bucket"], row["bookings"]) for row in weeks["results"]] == [
        ("2025-03-24", 1),
        ("2025-03-31", 1),
    ]
    assert months["meta"]["time_zone"] == "Europe/London"


@pytest.mark.django_db
def test_days_to_definite_take_the_median_by_interpolation(api, business):
    for days in (1, 2, 4, 7):
        booking(business, "2025-01-01", ("definite", f"2025-01-{1 + days:02d}"))
    booking(business, "2025-01-01 00:00", ("definite", "2025-01-01 06:00"))  # 0.25 days

    results = api.get("/v2/reports/pipeline?from=2025-01-01&to=2025-01-31").json()["results"]

    assert results[0]["median_days_to_definite"] == 2.0
    booking(business, "2025-01-01", ("definite", "2025-01-03 12:00"))  # 2.5: median of six
    results = api.get("/v2/reports/pipeline?from=2025-01-01&to=2025-01-31").json()["results"]
    assert results[0]["median_days_to_definite"] == 2.25


@pytest.mark.django_db
def test_csv_has_a_header_and_one_line_per_bucket(api, first_quarter):
    json_rows = api.get("/v2/reports/pipeline?from=2025-01-01&to=2025-03-31").json()["results"]

    response = api.get("/v2/reports/pipeline?from=2025-01-01&to=2025-03-31", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == list(json_rows[0])
    assert rows == [
        {key: "" if value is None else str(value) for key, value in row.items()}
        for row in json_rows
    ]


@pytest.mark.django_db
def test_an_error_asked_for_as_csv_is_answered_in_json(api):
    response = api.get("/v2/reports/pipeline?from=2025-02-01&to=2025-01-01", HTTP_ACCEPT="text/csv")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "from" in response.json()


@pytest.mark.django_db
def test_the_function_returns_dates_and_the_documented_keys(business, first_quarter):
    window = ReportWindow.from_params({"from": "2025-02-01", "to": "2025-03-31"}, business.zone)

    rows = pipeline(business, window)

    assert [row["bucket"] for row in rows] == [dt.date(2025, 2, 1), dt.date(2025, 3, 1)]
    assert tuple(rows[0]) == PIPELINE_COLUMNS  # the keys r2's admin page reads
    assert rows[0] == {"bucket": dt.date(2025, 2, 1), **EMPTY}


@pytest.mark.django_db
def test_without_a_token_it_is_401(client):
    assert client.get("/v2/reports/pipeline").status_code == 401
