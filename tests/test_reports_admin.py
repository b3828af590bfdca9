"""The admin's Pipeline page and its CSV downloads (SPEC §11), through Django's test
client: who sees which business, the numbers of a hand-built history, bad parameters,
and the admin's name."""

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Business, User
from bookings.models import Booking
from reports.admin_views import REPORTS

PAGE = "/admin/reports/pipeline/"
FIRST_QUARTER = {"from": "2025-01-01", "to": "2025-03-31", "interval": "month"}

pytestmark = pytest.mark.django_db


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=dt.UTC)


def make_staff(business: Business | None, *, apps=("bookings",)) -> User:
    staff = User.objects.create_user(
        username=f"staff-{business.pk if business else 'none'}-{'-'.join(apps)}",
        password="pw",
        business=business,
        is_staff=True,
    )
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label__in=apps))
    return staff


@pytest.fixture
def staff_client(client, business):
    client.force_login(make_staff(business))
    return client


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def first_quarter(business, other_business):
    """January: one booking made definite through tentative (10 days), one made definite
    directly (2 days), one lost from tentative; February: none; March: one lead. And a
    rival's definite booking in January, never counted."""
    through_tentative = Booking.objects.create(business=business, name="A", created_at=at(1, 5))
    through_tentative.change_status("tentative", at=at(1, 10))
    through_tentative.change_status("definite", at=at(1, 15))
    directly = Booking.objects.create(business=business, name="B", created_at=at(1, 20))
    directly.change_status("definite", at=at(1, 22))
    lost = Booking.objects.create(business=business, name="C", created_at=at(1, 25))
    lost.change_status("tentative", at=at(2, 1))
    lost.change_status("lost", at=at(2, 3))
    Booking.objects.create(business=business, name="D", created_at=at(3, 2))
    rival = Booking.objects.create(business=other_business, name="R", created_at=at(1, 10))
    rival.change_status("definite", at=at(1, 11))


def table_rows(response, table_id: str) -> list[list[str]]:
    """The text of each cell of the table's body, row by row."""
    table = re.search(rf'<table id="{table_id}".*?</table>', response.content.decode(), re.S)
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(0), re.S).group(1)
    return [
        [
            re.sub(r"<[^>]+>|\s+", " ", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


@pytest.mark.usefixtures("first_quarter")
def test_staff_see_the_pipeline_of_their_business(staff_client):
    response = staff_client.get(PAGE, FIRST_QUARTER)

    assert response.status_code == 200
    assert table_rows(response, "pipeline-table") == [
        ["2025-01-01", "3", "3", "2", "1", "0", "66.7 %", "6.0"],
        ["2025-02-01", "0", "0", "0", "0", "0", "—", "—"],
        ["2025-03-01", "1", "0", "0", "0", "1", "0.0 %", "—"],
    ]


@pytest.mark.usefixtures("first_quarter")
def test_staff_see_the_time_in_status_of_their_business(staff_client):
    response = staff_client.get(PAGE, FIRST_QUARTER)

    # Lead stays of 5, 2 and 7 days; tentative stays of 5 and 2.
    assert table_rows(response, "time-in-status-table") == [
        ["Lead", "3", "5.0", "6.6"],
        ["Tentative", "2", "3.5", "4.7"],
        ["Definite", "0", "—", "—"],
        ["Lost", "0", "—", "—"],
    ]


@pytest.mark.usefixtures("first_quarter")
def test_the_chart_has_a_titled_bar_per_series_and_bucket(staff_client):
    content = staff_client.get(PAGE, FIRST_QUARTER).content.decode()

    assert content.count('<rect class="bar ') == 3 * 3
    assert "<title>Jan 2025: 2 reached definite</title>" in content
    assert "<title>Feb 2025: 0 bookings</title>" in content
    assert '<title id="pipeline-chart-title">Pipeline of Demo Venue by month</title>' in content


@pytest.mark.usefixtures("first_quarter")
def test_staff_cannot_see_another_business(staff_client, other_business):
    response = staff_client.get(PAGE, {**FIRST_QUARTER, "business": other_business.pk})

    assert response.status_code == 200
    assert "Rival Hall" not in response.content.decode()
    assert table_rows(response, "pipeline-table")[0][:2] == ["2025-01-01", "3"]
    assert 'name="business"' not in response.content.decode()


@pytest.mark.usefixtures("first_quarter")
def test_superusers_choose_the_business(superuser_client, other_business):
    unchosen = superuser_client.get(PAGE)
    assert unchosen.status_code == 200
    assert "Choose a business to see its pipeline." in unchosen.content.decode()
    assert '<option value="50222">Rival Hall (50222)</option>' in unchosen.content.decode()

    chosen = superuser_client.get(PAGE, {**FIRST_QUARTER, "business": other_business.pk})

    assert chosen.status_code == 200
    assert '<option value="50222" selected>' in chosen.content.decode()
    assert table_rows(chosen, "pipeline-table")[0] == [
        "2025-01-01",
        "1",
        "1",
        "1",
        "0",
        "0",
        "100.0 %",
        "1.0",
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2025-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2025-03-01", "to": "2025-02-01"}, "from"),
        ({"interval": "year"}, "interval"),
        ({"from": "2024-01-01", "to": "2025-12-31", "interval": "day"}, "interval"),
    ],
)
def test_bad_parameters_are_named_on_the_page(staff_client, params, field):
    response = staff_client.get(PAGE, params)

    assert response.status_code == 400
    content = response.content.decode()
    error = re.search(r'<p class="errornote" id="report-error">(.*?)</p>', content, re.S)
    assert re.fullmatch(rf"<strong>{field}</strong>: \S.*", error.group(1), re.S)
    assert 'id="pipeline-table"' not in content


@pytest.mark.parametrize("choice", ["99999", "abc", "１２", "9" * 30])
def test_a_superuser_choosing_no_business_is_told_so(superuser_client, choice):
    response = superuser_client.get(PAGE, {"business": choice})

    assert response.status_code == 400
    assert "<strong>business</strong>: No business has the id" in response.content.decode()


def test_the_default_window_is_the_last_twelve_months_and_this_one(staff_client):
    response = staff_client.get(PAGE)

    rows = table_rows(response, "pipeline-table")
    today = dt.date.today()
    assert len(rows) == 13
    assert rows[-1][0] == today.replace(day=1).isoformat()


def test_buckets_follow_the_business_local_months(client, db):
    paris = Business.objects.create(id=61000, name="Paris", timezone="Europe/Paris")
    # 23:30 UTC on 31 January is 00:30 on 1 February in Paris.
    Booking.objects.create(
        business=paris, name="Late", created_at=at(1, 31, 23) + dt.timedelta(minutes=30)
    )
    client.force_login(make_staff(paris))

    rows = table_rows(client.get(PAGE, FIRST_QUARTER), "pipeline-table")

    assert [row[:2] for row in rows] == [
        ["2025-01-01", "0"],
        ["2025-02-01", "1"],
        ["2025-03-01", "0"],
    ]


def test_the_page_queries_do_not_grow_with_the_bookings(staff_client, business):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(PAGE, FIRST_QUARTER).status_code == 200
        return len(queries)

    Booking.objects.create(business=business, name="First", created_at=at(1, 5))
    one = count_queries()
    for month in (1, 2, 3):
        booking = Booking.objects.create(business=business, name="More", created_at=at(month, 9))
        booking.change_status("tentative", at=at(month, 10))
        booking.change_status("definite", at=at(month, 11))

    assert count_queries() == one


@pytest.mark.usefixtures("first_quarter")
def test_the_pipeline_downloads_as_csv(staff_client):
    response = staff_client.get("/admin/reports/pipeline.csv", FIRST_QUARTER)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="pipeline-43111-2025-01-01-2025-03-31.csv"'
    )
    rows = csv_rows(response)
    assert [(row["bucket"], row["bookings"], row["reached_definite"]) for row in rows] == [
        ("2025-01-01", "3", "2"),
        ("2025-02-01", "0", "0"),
        ("2025-03-01", "1", "0"),
    ]
    assert float(rows[0]["conversion_to_definite"]) == pytest.approx(2 / 3, abs=1e-4)
    assert float(rows[0]["median_days_to_definite"]) == pytest.approx(6.0)
    assert (rows[1]["conversion_to_definite"], rows[1]["median_days_to_definite"]) == ("", "")


@pytest.mark.usefixtures("first_quarter")
def test_time_in_status_downloads_as_csv(staff_client):
    response = staff_client.get(
        "/admin/reports/time_in_status.csv", {"from": "2025-01-01", "to": "2025-03-31"}
    )

    assert response.status_code == 200
    rows = {row["status"]: row for row in csv_rows(response)}
    assert list(rows) == ["lead", "tentative", "definite", "lost"]
    assert (rows["lead"]["stays"], float(rows["lead"]["p90_days"])) == ("3", pytest.approx(6.6))
    assert (rows["lost"]["stays"], rows["lost"]["median_days"]) == ("0", "")


def test_the_page_links_the_downloads_of_the_window_shown(staff_client):
    response = staff_client.get(PAGE, FIRST_QUARTER)

    content = response.content.decode()
    query = "business=43111&amp;from=2025-01-01&amp;to=2025-03-31&amp;interval=month"
    assert f'href="/admin/reports/pipeline.csv?{query}"' in content
    assert f'href="/admin/reports/time_in_status.csv?{query}"' in content


@pytest.mark.parametrize(
    ("path", "params", "answer"),
    [
        ("pipeline.csv", {"interval": "year"}, "interval: "),
        ("pipeline.csv", {"from": "2025-02-30"}, "from: "),
        ("time_in_status.csv", {"to": "soon"}, "to: "),
    ],
)
def test_a_bad_download_is_a_400_naming_the_parameter(staff_client, path, params, answer):
    response = staff_client.get(f"/admin/reports/{path}", params)

    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().startswith(answer)


def test_a_superuser_download_needs_a_business(superuser_client):
    response = superuser_client.get("/admin/reports/pipeline.csv")

    assert response.status_code == 400
    assert response.content.decode() == "business: Choose a business."


@pytest.mark.parametrize("path", [PAGE, "/admin/reports/pipeline.csv"])
def test_non_staff_are_sent_to_the_login_page(client, business, path):
    assert client.get(path)["Location"] == f"/admin/login/?next={path}"
    client.force_login(User.objects.create_user(username="guest", business=business))
    assert client.get(path)["Location"] == f"/admin/login/?next={path}"


@pytest.mark.parametrize("path", [PAGE, "/admin/reports/time_in_status.csv"])
@pytest.mark.parametrize("who", ["no business", "no bookings permission"])
def test_staff_who_may_not_view_bookings_are_refused(client, business, path, who):
    if who == "no business":
        client.force_login(make_staff(None))
    else:
        client.force_login(make_staff(business, apps=("statuses",)))

    assert client.get(path).status_code == 403


def test_the_index_and_sidebar_lead_to_the_pipeline(staff_client):
    index = staff_client.get("/admin/").content.decode()
    assert '<a href="/admin/reports/pipeline/">Pipeline</a>' in index

    sidebar = staff_client.get("/admin/bookings/booking/").content.decode()
    assert '<a href="/admin/reports/pipeline/">Pipeline</a>' in sidebar


def test_the_index_offers_no_pipeline_to_staff_who_may_not_view_it(client, business):
    client.force_login(make_staff(business, apps=("statuses",)))

    assert "/admin/reports/pipeline/" not in client.get("/admin/").content.decode()


@pytest.mark.parametrize("path", ["/admin/", PAGE])
def test_the_admin_says_the_product_name(staff_client, path):
    content = staff_client.get(path).content.decode()

    assert '<div id="site-name"><a href="/admin/">Booking status</a></div>' in content
    assert re.search(r"<title>[^<]*\| Booking status</title>", content)
    assert "Django" not in content


def test_the_login_page_says_the_product_name(client, db):
    content = client.get("/admin/login/").content.decode()

    assert "<title>Log in | Booking status</title>" in content
    assert "Django administration" not in content


@pytest.mark.parametrize("path", [PAGE, "/admin/reports/time_in_status.csv"])
def test_an_unreachable_reports_database_is_a_503(staff_client, monkeypatch, path):
    def unreachable(business, window, *query):
        raise OperationalError("connection refused")

    # The page computes the pipeline first; the downloads look their report up.
    monkeypatch.setattr(
        "reports.admin_views.REPORTS",
        {report: (unreachable, *rest) for report, (_, *rest) in REPORTS.items()},
    )
    monkeypatch.setattr("reports.admin_views.pipeline", unreachable)

    response = staff_client.get(path)

    assert response.status_code == 503
    assert "database cannot be reached; try again in a moment." in response.content.decode()
