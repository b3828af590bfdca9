"""GET /v2/reports/time_in_status (SPEC §11): stays from the history with known
answers, the same on SQLite and PostgreSQL (percentile_cont's linear interpolation)."""

import csv
import datetime as dt
import io
import math
import random

import pytest

from bookings.models import Booking
from reports.queries import ReportWindow, time_in_status


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def booking(business, created: str | dt.datetime, *changes) -> Booking:
    created_at = at(created) if isinstance(created, str) else created
    made = Booking.objects.create(business=business, name="Booking", created_at=created_at)
    for status, moment in changes:
        made.change_status(status, at=at(moment) if isinstance(moment, str) else moment)
    return made


@pytest.fixture
def histories(business, other_business):
    # lead 2 days, tentative 5, definite 61 (to lost, which is still open)
    booking(
        business,
        "2025-01-01",
        ("tentative", "2025-01-03"),
        ("definite", "2025-01-08"),
        ("lost", "2025-03-10"),
    )
    # lead 1, tentative 4.5, lost 54 (back to lead, still open)
    booking(
        business,
        "2025-01-01",
        ("tentative", "2025-01-02"),
        ("lost", "2025-01-06 12:00"),
        ("lead", "2025-03-01 12:00"),
    )
    booking(business, "2025-01-10", ("definite", "2025-01-14"))  # lead 4
    # Created after its first (backdated) change: lead 0; tentative 4; lead again 1.
    booking(
        business,
        "2025-02-01",
        ("tentative", "2025-01-30"),
        ("lead", "2025-02-03"),
        ("tentative", "2025-02-04"),
    )
    # Recorded out of moment order: stays run in moment order, lead 2, tentative 10.
    booking(business, "2025-02-08", ("definite", "2025-02-20"), ("tentative", "2025-02-10"))
    # Its stays end before and after the range: not counted.
    booking(business, "2024-12-01", ("tentative", "2024-12-05"), ("definite", "2025-04-05"))
    booking(business, "2025-01-01")  # no history: its lead stay is still open
    # Another business's stays in the same range are never counted.
    booking(other_business, "2025-01-01", ("tentative", "2025-01-02"), ("lost", "2025-01-03"))


EXPECTED = [
    # lead [0, 1, 1, 2, 2, 4]; tentative [4, 4.5, 5, 10]
    {"status": "lead", "stays": 6, "median_days": 1.5, "p90_days": 3.0},
    {"status": "tentative", "stays": 4, "median_days": 4.75, "p90_days": 8.5},
    {"status": "definite", "stays": 1, "median_days": 61.0, "p90_days": 61.0},
    {"status": "lost", "stays": 1, "median_days": 54.0, "p90_days": 54.0},
]


@pytest.mark.django_db
def test_stays_that_ended_in_the_range_with_median_and_p90(api, histories):
    response = api.get("/v2/reports/time_in_status?from=2025-01-01&to=2025-03-31")

    assert response.status_code == 200
    assert response.json()["results"] == EXPECTED
    meta = response.json()["meta"]
    assert (meta["from"], meta["to"], meta["time_zone"]) == ("2025-01-01", "2025-03-31", "UTC")
    assert "interval" not in meta
    assert set(meta["definitions"]) == {"status", "stays", "median_days", "p90_days"}


@pytest.mark.django_db
def test_a_range_without_stays_gives_four_empty_rows(api, histories):
    results = api.get("/v2/reports/time_in_status?from=2020-01-01&to=2020-12-31").json()["results"]

    assert results == [
        {"status": status, "stays": 0, "median_days": None, "p90_days": None}
        for status in ("lead", "tentative", "definite", "lost")
    ]


@pytest.mark.django_db
def test_a_stay_counts_in_the_local_day_its_end_falls_on(api, business):
    business.set_timezone("America/New_York")
    # Ends 2025-03-01 03:00 UTC: still 28 February in New York (EST, UTC-5).
    booking(business, "2025-02-27 03:00", ("tentative", "2025-03-01 03:00"))

    february = api.get("/v2/reports/time_in_status?from=2025-02-01&to=2025-02-28").json()
    march = api.get("/v2/reports/time_in_status?from=2025-03-01&to=2025-03-31").json()

    assert february["results"][0] == {
        "status": "lead",
        "stays": 1,
        "median_days": 2.0,
        "p90_days": 2.0,
    }
    assert march["results"][0]["stays"] == 0


@pytest.mark.django_db
def test_the_function_returns_the_four_statuses_in_order(business, histories):
    window = ReportWindow.from_params(
        {"from": "2025-01-01", "to": "2025-03-31"}, business.zone, interval_allowed=False
    )

    assert time_in_status(business, window) == EXPECTED


def percentile_cont(values: list[float], fraction: float) -> float:
    """PostgreSQL's definition: linear interpolation between the two nearest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    return low + (position - math.floor(position)) * (high - low)


@pytest.mark.django_db
def test_percentiles_are_percentile_cont_for_awkward_lengths(api, business):
    """Lengths to the second; the same figures as the definition on both databases."""
    generator = random.Random(18)
    start = at("2025-01-01")
    lengths = []
    for _ in range(23):
        seconds = generator.randrange(1, 40 * 86400)
        booking(business, start, ("tentative", start + dt.timedelta(seconds=seconds)))
        lengths.append(seconds / 86400)

    lead = api.get("/v2/reports/time_in_status?from=2025-01-01&to=2025-03-31").json()["results"][0]

    assert lead == {
        "status": "lead",
        "stays": 23,
        "median_days": round(percentile_cont(lengths, 0.5), 2),
        "p90_days": round(percentile_cont(lengths, 0.9), 2),
    }


@pytest.mark.django_db
def test_csv_parsed_back_matches_the_json(api, histories):
    path = "/v2/reports/time_in_status?from=2025-01-01&to=2025-03-31"
    response = api.get(path, HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert lines[0] == "status,stays,median_days,p90_days"
    assert list(csv.DictReader(io.StringIO(response.content.decode()))) == [
        {key: str(value) for key, value in row.items()} for row in EXPECTED
    ]


@pytest.mark.django_db
def test_interval_is_not_a_parameter_here(api):
    response = api.get("/v2/reports/time_in_status?interval=week")

    assert response.status_code == 400
    assert "interval" in response.json()
