"""The appointments admin (SPEC §14.6): lists scoped to the staff member's business,
forms that write through the actions, a change-status page offering only the moves
the list allows, and the day board."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from appointments.actions import Target, change_status, create_appointment, create_resource
from appointments.models import Appointment, AppointmentStatusChange, Resource
from appointments.rules import allowed_moves
from events.models import Event
from statuses.models import Status
from statuses.services import StatusList, fork_shared_statuses
from tests.conftest import own_status

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/appointments/appointment/"
BOARD = "/admin/appointments/appointment/board/"


@pytest.fixture
def staff(business):
    user = User.objects.create_user(username="desk", password="x", business=business, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["appointments", "statuses"])
    )
    return user


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def make(business, starts: str, minutes: int = 30, resource=None, status=None, name="Ada"):
    starts_at = dt.datetime.fromisoformat(starts)
    appointment = create_appointment(
        business.pk,
        {
            "resource_id": resource.pk if resource else None,
            "starts_at": starts_at,
            "ends_at": starts_at + dt.timedelta(minutes=minutes),
            "client_name": name,
        },
    )
    if status:
        change_status(business.pk, appointment.pk, Target(status=status, sub_status=status))
        appointment.refresh_from_db()
    return appointment


def split(moment: dt.datetime, prefix: str) -> dict:
    """The admin's split date/time inputs for a moment on the (UTC) business's clock."""
    return {f"{prefix}_0": f"{moment:%Y-%m-%d}", f"{prefix}_1": f"{moment:%H:%M:%S}"}


def test_staff_see_only_their_business_and_not_deleted_ones(
    staff_client, business, other_business, chair
):
    mine = make(business, "2025-03-04T09:00:00+00:00", resource=chair, name="Mine")
    make(business, "2025-03-04T10:00:00+00:00", status="DELETED", name="Gone")
    make(other_business, "2025-03-04T09:00:00+00:00", name="Theirs")

    page = staff_client.get(CHANGELIST).content.decode()
    deleted = staff_client.get(f"{CHANGELIST}?status=DELETED").content.decode()

    assert "Mine" in page
    assert "Gone" not in page
    assert "Theirs" not in page
    assert "Gone" in deleted
    assert staff_client.get(f"{CHANGELIST}{mine.pk}/change/").status_code == 200


def test_filters_by_resource_and_local_day_and_search_by_client(staff_client, business, chair):
    business.set_timezone("America/New_York")
    room = create_resource(business.pk, name="Room")
    make(business, "2025-03-05T03:00:00+00:00", resource=chair, name="Evening client")
    make(business, "2025-03-05T15:00:00+00:00", resource=room, name="Morning client")

    on_4th = staff_client.get(f"{CHANGELIST}?day=2025-03-04").content.decode()
    in_room = staff_client.get(f"{CHANGELIST}?resource={room.pk}").content.decode()
    searched = staff_client.get(f"{CHANGELIST}?q=evening").content.decode()

    assert "Evening client" in on_4th and "Morning client" not in on_4th  # noqa: PT018
    assert "Morning client" in in_room and "Evening client" not in in_room  # noqa: PT018
    assert "Evening client" in searched and "Morning client" not in searched  # noqa: PT018


def test_no_appointment_or_resource_is_deleted_in_the_admin(staff_client, business, chair):
    appointment = make(business, "2025-03-04T09:00:00+00:00")

    assert staff_client.get(f"{CHANGELIST}{appointment.pk}/delete/").status_code == 403
    assert staff_client.get(f"/admin/appointments/resource/{chair.pk}/delete/").status_code == 403


def test_the_add_form_creates_through_the_write_path(staff_client, business, chair):
    start = dt.datetime(2025, 3, 4, 9, tzinfo=dt.UTC)
    data = {
        "resource": chair.pk,
        **split(start, "starts_at"),
        **split(start + dt.timedelta(minutes=45), "ends_at"),
        "client_name": "Grace Hopper",
        "client_email": "grace@example.com",
        "notes": "",
        "initial_status": "",
        "status_changes-TOTAL_FORMS": "0",
        "status_changes-INITIAL_FORMS": "0",
    }

    response = staff_client.post(f"{CHANGELIST}add/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    created = Appointment.objects.get()
    assert (created.client_name, created.status, created.ends_at) == (
        "Grace Hopper",
        "OPEN",
        start + dt.timedelta(minutes=45),
    )
    entry = AppointmentStatusChange.objects.get()
    assert (entry.source, entry.changed_by) == ("admin", "desk")
    assert Event.objects.filter(type="appointment.created").count() == 1


def test_the_add_form_names_the_conflicts(staff_client, business, chair):
    taken = make(business, "2025-03-04T09:00:00+00:00", resource=chair)
    start = dt.datetime(2025, 3, 4, 9, 15, tzinfo=dt.UTC)
    data = {
        "resource": chair.pk,
        **split(start, "starts_at"),
        **split(start + dt.timedelta(minutes=30), "ends_at"),
        "client_name": "Late comer",
        "status_changes-TOTAL_FORMS": "0",
        "status_changes-INITIAL_FORMS": "0",
    }

    response = staff_client.post(f"{CHANGELIST}add/", data)

    assert response.status_code == 200
    assert f"appointment(s) {taken.pk}" in response.content.decode()
    assert Appointment.objects.count() == 1


def test_the_change_form_edits_and_refuses_a_stale_version(staff_client, business, chair):
    appointment = make(business, "2025-03-04T09:00:00+00:00", resource=chair)
    data = {
        "resource": chair.pk,
        **split(appointment.starts_at, "starts_at"),
        **split(appointment.ends_at, "ends_at"),
        "client_name": "Ada",
        "client_email": "",
        "notes": "Prefers mornings",
        "opened_version": appointment.version,
        "status_changes-TOTAL_FORMS": "1",
        "status_changes-INITIAL_FORMS": "1",
    }

    saved = staff_client.post(f"{CHANGELIST}{appointment.pk}/change/", data)
    stale = staff_client.post(f"{CHANGELIST}{appointment.pk}/change/", {**data, "notes": "x"})

    assert saved.status_code == stale.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.notes, appointment.version) == ("Prefers mornings", 2)
    assert Event.objects.filter(type="appointment.updated").count() == 1


def offered(staff_client, appointment) -> list[str]:
    page = staff_client.get(f"{CHANGELIST}{appointment.pk}/change_status/").content.decode()
    return re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', page)


def test_the_change_status_page_offers_only_what_the_list_allows_and_staff_may_choose(
    staff_client, business, api_user
):
    fork_shared_statuses(business, by=api_user)
    StatusList.of(business).update(
        own_status(business, "OPEN", "CONFIRMED").pk, {"user_selectable": False}, by=api_user
    )
    StatusList.of(business).update(
        own_status(business, "OPEN", "CHECKEDIN").pk, {"active": False}, by=api_user
    )
    StatusList.of(business).update(
        own_status(business, "OPEN", "INPROGRESS").pk, {"depends_on": ["OPEN"]}, by=api_user
    )
    completed = make(business, "2025-03-04T09:00:00+00:00", status="COMPLETED")

    assert offered(staff_client, completed) == [
        "OPEN",
        "OPEN / RUNNING_LATE",
        "COMPLETED",
        "DELETED",
    ]


def test_the_change_status_page_says_so_when_no_status_may_be_chosen(
    staff_client, business, api_user
):
    fork_shared_statuses(business, by=api_user)
    completed = make(business, "2025-03-04T09:00:00+00:00", status="COMPLETED")
    statuses = StatusList.of(business)
    for status in Status.objects.filter(business=business, status__in=allowed_moves("COMPLETED")):
        statuses.update(status.pk, {"user_selectable": False}, by=api_user)

    page = staff_client.get(f"{CHANGELIST}{completed.pk}/change_status/").content.decode()

    assert offered(staff_client, completed) == []
    assert '<p id="no-moves">No status of your list may be chosen from COMPLETED.</p>' in page
    assert re.search(r'<input type="submit" class="default" value="Change status" disabled>', page)


def test_the_change_status_page_changes_through_the_write_path(staff_client, business, chair):
    appointment = make(business, "2025-03-04T09:00:00+00:00", resource=chair)
    cancelled = own_status(business, "CANCELLED")

    response = staff_client.post(
        f"{CHANGELIST}{appointment.pk}/change_status/",
        {
            "status": cancelled.pk,
            "status_at_0": "2025-03-03",
            "status_at_1": "18:00:00",
            "note": "Ill",
        },
    )

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancelled_at) == (
        "CANCELLED",
        dt.datetime(2025, 3, 3, 18, tzinfo=dt.UTC),
    )
    entry = AppointmentStatusChange.objects.last()
    assert (entry.source, entry.note) == ("admin", "Ill")


def test_the_change_status_page_shows_a_refusal_on_the_form(staff_client, business, chair):
    appointment = make(business, "2025-03-04T09:00:00+00:00", resource=chair)
    completed = own_status(business, "COMPLETED")

    response = staff_client.post(
        f"{CHANGELIST}{appointment.pk}/change_status/",
        {"status": completed.pk, "status_at_0": "2025-03-04", "status_at_1": "08:00:00"},
    )

    assert response.status_code == 200
    assert "cannot take effect before the appointment starts" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == "OPEN"


def test_another_business_s_appointment_is_a_404(staff_client, other_business):
    theirs = make(other_business, "2025-03-04T09:00:00+00:00")

    assert staff_client.get(f"{CHANGELIST}{theirs.pk}/change_status/").status_code == 404


def test_a_resource_is_added_and_retired_through_the_write_path(staff_client, business):
    added = staff_client.post("/admin/appointments/resource/add/", {"name": "Room", "active": "on"})
    resource = Resource.objects.get()
    retired = staff_client.post(
        f"/admin/appointments/resource/{resource.pk}/change/", {"name": "Room"}
    )

    assert added.status_code == retired.status_code == 302
    resource.refresh_from_db()
    assert (resource.business_id, resource.active) == (business.pk, False)
    assert [e.type for e in Event.objects.order_by("pk")] == [
        "resource.created",
        "resource.updated",
    ]


# --- the day board ------------------------------------------------------------------


def test_the_board_has_a_column_per_active_resource_and_links_each_block(
    staff_client, business, chair
):
    room = create_resource(business.pk, name="Room")
    create_resource(business.pk, name="Old room", active=False)
    morning = make(business, "2025-03-04T09:00:00+00:00", resource=chair, name="Morning")
    make(
        business, "2025-03-04T11:00:00+00:00", resource=room, status="CANCELLED", name="Called off"
    )
    make(business, "2025-03-05T09:00:00+00:00", resource=chair, name="Tomorrow")

    page = staff_client.get(f"{BOARD}?date=2025-03-04").content.decode()

    columns = re.findall(r'data-column="([^"]+)"', page)
    assert columns == ["Chair 1", "Room"]
    assert f'href="/admin/appointments/appointment/{morning.pk}/change/"' in page
    assert "status-CANCELLED" in page
    assert "Tomorrow" not in page
    # 09:00 is 9 hours of 48 pixels down.
    assert re.search(r'class="block status-OPEN"[^>]*\s+style="top: 432px; height: 24px', page)
    assert "?date=2025-03-03" in page
    assert "?date=2025-03-05" in page


def test_the_board_of_a_dst_change_has_23_or_25_hours(staff_client, business):
    business.set_timezone("Europe/Paris")

    spring = staff_client.get(f"{BOARD}?date=2025-03-30").content.decode()
    autumn = staff_client.get(f"{BOARD}?date=2025-10-26").content.decode()
    plain = staff_client.get(f"{BOARD}?date=2025-03-04").content.decode()

    def hours(page):
        gutter = page.split('class="gutter"')[1].split('class="column"')[0]
        return re.findall(r'class="hour" style="top: \d+px">([^<]+)</div>', gutter)

    assert len(hours(spring)) == 23
    assert "02:00 CET" not in hours(spring)
    assert len(hours(autumn)) == 25
    assert hours(autumn).count("02:00 CEST") == 1
    assert hours(autumn).count("02:00 CET") == 1
    assert len(hours(plain)) == 24


def test_the_board_shows_a_retired_resource_s_appointments_and_those_without_one(
    staff_client, business
):
    retired = create_resource(business.pk, name="Old room", active=False)
    Appointment.objects.filter(pk=make(business, "2025-03-04T09:00:00+00:00").pk).update(
        resource=retired
    )
    make(business, "2025-03-04T10:00:00+00:00", name="Walk-in")

    page = staff_client.get(f"{BOARD}?date=2025-03-04").content.decode()

    assert re.findall(r'data-column="([^"]+)"', page) == ["Old room", "No resource"]
    assert "Walk-in" in page


def test_the_board_needs_the_view_permission(client, business):
    user = User.objects.create_user(username="nobody", business=business, is_staff=True)
    client.force_login(user)

    assert client.get(BOARD).status_code == 403


# --- the appointments report's page, beside the Pipeline --------------------------


def test_the_report_page_shows_the_table_and_links_its_csv(staff_client, business, chair):
    make(business, "2025-03-04T09:00:00+00:00", resource=chair, status="NO_SHOW")
    make(business, "2025-03-05T09:00:00+00:00", name="Other")
    query = "?from=2025-03-01&to=2025-03-31&interval=month"

    page = staff_client.get(f"/admin/reports/appointments/{query}")
    narrowed = staff_client.get(f"/admin/reports/appointments/{query}&resource={chair.pk}")
    download = staff_client.get(f"/admin/reports/appointments.csv{query}&business={business.pk}")

    rows = re.findall(r'<td class="number">([^<]+)</td>', page.content.decode())
    assert rows[:5] == ["2", "0", "1", "0", "0.50"]
    assert re.findall(r'<td class="number">([^<]+)</td>', narrowed.content.decode())[0] == "1"
    assert 'id="appointments-csv"' in page.content.decode()
    assert download.content.decode().splitlines() == [
        "bucket,appointments,completed,no_show,cancelled,no_show_rate,cancellation_rate",
        "2025-03-01,2,0,1,0,0.5,0.0",
    ]


def test_the_reports_section_offers_each_page_to_whoever_may_view_it(client, business, staff):
    client.force_login(staff)  # appointments and statuses, no bookings

    index = client.get("/admin/").content.decode()

    assert "/admin/reports/appointments/" in index
    assert "/admin/reports/pipeline/" not in index
    assert client.get("/admin/reports/pipeline/").status_code == 403
