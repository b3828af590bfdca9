"""The reports' range and interval (SPEC §11, §13 "Reports"): defaults, limits, and
a 400 naming the parameter at fault."""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from core.errors import InvalidValue
from reports.queries import Interval, ReportWindow

LONDON = zoneinfo.ZoneInfo("Europe/London")
TODAY = dt.date(2025, 7, 14)


def window(today: dt.date = TODAY, **params: str) -> ReportWindow:
    return ReportWindow.from_params(params, LONDON, today=today)


def test_by_default_the_last_twelve_whole_months_and_the_current_one():
    default = window()

    assert (default.first, default.last, default.interval) == (
        dt.date(2024, 7, 1),
        TODAY,
        Interval.MONTH,
    )
    assert len(default.buckets()) == 13
    assert default.buckets()[0] == dt.date(2024, 7, 1)
    assert default.buckets()[-1] == dt.date(2025, 7, 1)


def test_only_from_runs_to_today():
    assert (window(**{"from": "2025-03-05"}).first, window(**{"from": "2025-03-05"}).last) == (
        dt.date(2025, 3, 5),
        TODAY,
    )


def test_only_to_starts_on_the_first_of_the_month_twelve_months_before():
    only_to = window(to="2025-02-10")

    assert (only_to.first, only_to.last) == (dt.date(2024, 2, 1), dt.date(2025, 2, 10))


def test_january_counts_back_across_the_year():
    assert window(to="2025-01-31").first == dt.date(2024, 1, 1)


def test_an_empty_parameter_means_its_default():
    assert window(**{"from": "", "to": "", "interval": ""}) == window()


def test_the_window_is_the_local_days_as_instants():
    summer = window(**{"from": "2025-06-01", "to": "2025-06-30"})

    assert summer.starts_at == dt.datetime(2025, 5, 31, 23, tzinfo=dt.UTC)
    assert summer.ends_at == dt.datetime(2025, 6, 30, 23, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("month", [dt.date(2025, 1, 1), dt.date(2025, 2, 1)]),
        ("week", [dt.date(2025, 1, 27), dt.date(2025, 2, 3)]),
        ("day", [dt.date(2025, 1, 31) + dt.timedelta(days=n) for n in range(4)]),
    ],
)
def test_buckets_are_labelled_by_their_calendar_start(interval, expected):
    clipped = window(**{"from": "2025-01-31", "to": "2025-02-03", "interval": interval})

    assert clipped.buckets() == expected


def test_four_hundred_buckets_are_allowed_and_one_more_is_not():
    first = dt.date(2025, 1, 1)
    last = first + dt.timedelta(days=399)
    assert len(window(**{"from": str(first), "to": str(last), "interval": "day"}).buckets()) == 400

    with pytest.raises(InvalidValue) as refused:
        window(**{"from": str(first), "to": str(last + dt.timedelta(days=1)), "interval": "day"})
    assert refused.value.field == "interval"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2025-03-01&to=2025-02-01", "from"),
        ("from=2025-02-30", "from"),
        ("from=2025-13-01", "from"),
        ("to=20250101", "to"),
        ("to=2025-1-1", "to"),
        ("to=yesterday", "to"),
        ("to=%EF%BC%92025-01-01", "to"),  # a full-width digit
        ("from=0001-01-01", "from"),
        ("to=9999-12-31", "to"),
        ("interval=year", "interval"),
        ("interval=MONTH", "interval"),
        ("from=2020-01-01&to=2025-01-01&interval=day", "interval"),
        ("from=1900-01-01&to=2025-01-01&interval=month", "interval"),
        ("format=csv", "format"),
        ("page_size=10", "page_size"),
    ],
)
@pytest.mark.parametrize("report", ["pipeline", "time_in_status"])
def test_a_bad_parameter_is_a_400_naming_it(api, report, query, field):
    response = api.get(f"/v2/reports/{report}?{query}")

    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.django_db
def test_the_default_range_ends_today_in_the_business_zone(api, business):
    business.set_timezone("Pacific/Kiritimati")  # UTC+14: often a day ahead of UTC
    today = timezone.now().astimezone(zoneinfo.ZoneInfo("Pacific/Kiritimati")).date()

    meta = api.get("/v2/reports/pipeline").json()["meta"]

    assert meta["to"] == str(today)
    assert meta["from"] == str(today.replace(year=today.year - 1, day=1))
