"""GET /v2/reports/lost_reasons (SPEC §15.1, §17): known answers, the window in the
business's zone, the CSV, the parameters it refuses, and the admin's Pipeline page."""

import csv
import datetime as dt
import io
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from accounts.models import User
from bookings.lost_reasons import LostReasonList
from bookings.models import BookingStatusChange, LostReason

pytestmark = pytest.mark.django_db

MARCH = "?from=2025-03-01&to=2025-03-31"


def shared(code: str) -> LostReason:
    return LostReason.objects.get(business=None, code=code)


def record(reason: LostReason) -> dict:
    return {"id": reason.pk, "code": reason.code, "label": reason.label}


def recorded_on(entry: BookingStatusChange, moment: dt.datetime) -> None:
    BookingStatusChange.objects.filter(pk=entry.pk).update(recorded_at=moment)


def lose(make_booking, moment: dt.datetime, **reason) -> BookingStatusChange:
    """A booking lost, its entry into lost recorded at `moment`."""
    entry = make_booking().change_status("lost", **reason)
    recorded_on(entry, moment)
    return entry


def march(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def march_losses(api, business, make_booking):
    """In March: budget three times (twice from the shared list, then once from the
    business's own copy, relabelled), no_response twice, one without a reason, one hold
    expired by the scheduler; a loss in February and one in April, never counted."""
    lose(make_booking, march(2), lost_reason_id=shared("budget").pk)
    lose(make_booking, march(3), lost_reason_id=shared("budget").pk)
    own = {reason.code: reason for reason in LostReasonList.of(business).fork()}
    own["budget"] = LostReasonList.of(business).update(own["budget"].pk, {"label": "Too expensive"})
    lose(make_booking, march(4), lost_reason_id=own["budget"].pk)
    for day in (5, 6):
        lose(make_booking, march(day), lost_reason_id=own["no_response"].pk)
    revived = lose(make_booking, march(7))
    revived.booking.change_status("lead")  # the entry into lost still counts
    held = make_booking()
    held.change_status(
        "tentative",
        at=dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
        hold_until=dt.datetime(2025, 2, 2, tzinfo=dt.UTC),
    )
    call_command("run_schedules", "--once", stdout=StringIO())
    recorded_on(held.status_changes.get(source="system"), march(8))
    lose(make_booking, dt.datetime(2025, 2, 28, 23, tzinfo=dt.UTC), lost_reason_id=own["budget"].pk)
    lose(make_booking, dt.datetime(2025, 4, 1, 0, 30, tzinfo=dt.UTC))
    return own


def test_known_answers(api, march_losses):
    response = api.get(f"/v2/reports/lost_reasons{MARCH}")
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [
        {"reason": record(march_losses["budget"]), "lost": 3, "share": 0.4286},
        {"reason": record(march_losses["no_response"]), "lost": 2, "share": 0.2857},
        {"reason": record(march_losses["hold_expired"]), "lost": 1, "share": 0.1429},
        {"reason": None, "lost": 1, "share": 0.1429},
    ]
    assert body["results"][0]["reason"]["label"] == "Too expensive"  # the list's, now
    assert body["meta"]["from"] == "2025-03-01"
    assert body["meta"]["to"] == "2025-03-31"
    assert body["meta"]["time_zone"] == "UTC"
    assert "interval" not in body["meta"]
    assert set(body["meta"]["definitions"]) == {"reason", "lost", "share"}


def test_the_null_row_is_left_out_when_every_loss_had_a_reason(api, make_booking):
    lose(make_booking, march(2), lost_reason_id=shared("budget").pk)
    lose(make_booking, march(3), lost_reason_id=shared("no_response").pk)
    body = api.get(f"/v2/reports/lost_reasons{MARCH}").json()
    assert body["results"] == [
        {"reason": record(shared("budget")), "lost": 1, "share": 0.5},
        {"reason": record(shared("no_response")), "lost": 1, "share": 0.5},
    ]


def test_no_losses_no_rows(api):
    assert api.get(f"/v2/reports/lost_reasons{MARCH}").json()["results"] == []


def test_the_window_is_in_the_business_zone(api, business, make_booking):
    business.timezone = "America/New_York"
    business.save()
    # 31 March 23:30 in New York; and 1 March 00:30 UTC, still February there.
    lose(make_booking, dt.datetime(2025, 4, 1, 3, 30, tzinfo=dt.UTC))
    lose(make_booking, dt.datetime(2025, 3, 1, 0, 30, tzinfo=dt.UTC))
    body = api.get(f"/v2/reports/lost_reasons{MARCH}").json()
    assert body["results"] == [{"reason": None, "lost": 1, "share": 1.0}]
    assert body["meta"]["time_zone"] == "America/New_York"


def test_the_csv(api, march_losses):
    response = api.get(f"/v2/reports/lost_reasons{MARCH}", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["reason_code", "reason_label", "lost", "share"],
        ["budget", "Too expensive", "3", "0.4286"],
        ["no_response", "No response", "2", "0.2857"],
        ["hold_expired", "Hold expired", "1", "0.1429"],
        ["", "", "1", "0.1429"],
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?interval=month", "interval"),
        ("?from=2025-04-01&to=2025-03-01", "from"),
        ("?from=2025-02-30", "from"),
        ("?to=tomorrow", "to"),
        ("?page_size=5", "page_size"),
    ],
)
def test_refused_parameters_are_named(api, query, field):
    response = api.get(f"/v2/reports/lost_reasons{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_errors_are_json_even_to_a_csv_client(api):
    response = api.get("/v2/reports/lost_reasons?interval=day", HTTP_ACCEPT="text/csv")
    assert (response.status_code, response["Content-Type"]) == (400, "application/json")


def test_the_default_window_is_the_pipeline_s(api):
    meta = api.get("/v2/reports/lost_reasons").json()["meta"]
    to = dt.date.fromisoformat(meta["to"])
    assert meta["from"] == f"{to.year - 1}-{to.month:02d}-01"


# --- the admin's Pipeline page ------------------------------------------------------------


@pytest.fixture
def staff_client(client, business):
    staff = User.objects.create_user(
        username="staff", password="pw", business=business, is_staff=True
    )
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="bookings"))
    client.force_login(staff)
    return client


def test_the_pipeline_page_shows_the_lost_reasons(staff_client, march_losses):
    response = staff_client.get("/admin/reports/pipeline/?from=2025-03-01&to=2025-03-31")
    assert response.status_code == 200
    page = response.content.decode()
    table = page[page.index('id="lost-reasons-table"') :]
    assert "Too expensive" in table
    assert "42.9 %" in table
    assert "No reason given" in table
    assert [row["lost"] for row in response.context["lost_reasons"]] == [3, 2, 1, 1]


def test_the_pipeline_page_downloads_the_lost_reasons(staff_client, march_losses, business):
    page = staff_client.get("/admin/reports/pipeline/?from=2025-03-01&to=2025-03-31")
    link = page.context["lost_reasons_csv"]
    response = staff_client.get(link)
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="lost_reasons-{business.pk}-2025-03-01-2025-03-31.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["reason_code", "reason_label", "lost", "share"]
    assert rows[1] == ["budget", "Too expensive", "3", "0.4286"]
