"""The status list, now that appointments use it (SPEC §14.5, §17): dependsOn written
through POST and PUT /status, a top-level change refused while appointments are in a
status, a rename re-rendered set-based, a status in use kept from deletion."""

import datetime as dt
import threading

import orjson
import pytest
from django.db import connections, transaction

from appointments.models import Appointment
from events.models import Event
from statuses.models import Status
from statuses.services import StatusList, fork_shared_statuses
from tests.conftest import own_status, requires_postgresql

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(business, api_user):
    fork_shared_statuses(business, by=api_user)


def put(api, changed: Status, **fields):
    body = {
        "statusId": changed.pk,
        "businessId": changed.business_id,
        "status": changed.status,
        "subStatus": changed.sub_status,
        **fields,
    }
    return api.put("/status", body, format="json")


# --- dependsOn -------------------------------------------------------------------------


@pytest.mark.usefixtures("listed")
def test_depends_on_is_written_by_put_and_kept_by_a_put_without_it(api, business):
    completed = own_status(business, "COMPLETED")

    written = put(api, completed, dependsOn=["OPEN", "NO_SHOW"])
    kept = put(api, completed, sortOrder=3)
    cleared = put(api, completed, dependsOn=None)

    assert written.status_code == 200
    assert written.json()["dependsOn"] == ["OPEN", "NO_SHOW"]
    assert kept.json()["dependsOn"] == ["OPEN", "NO_SHOW"]
    assert cleared.json()["dependsOn"] is None


@pytest.mark.usefixtures("listed")
def test_depends_on_written_by_put_governs_change_status(api, business, book):
    appointment = book().json()
    completed = own_status(business, "COMPLETED")
    put(api, completed, dependsOn=["NO_SHOW"])

    refused = api.post(
        f"/v2/appointments/{appointment['id']}/change_status",
        {"status_id": completed.pk},
        format="json",
    )

    assert refused.status_code == 409
    assert "dependsOn" in refused.json()


def test_depends_on_is_written_by_post(api, business):
    response = api.post(
        "/status",
        {
            "businessId": business.pk,
            "status": "COMPLETED",
            "subStatus": "Paid",
            "dependsOn": ["OPEN"],
        },
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["dependsOn"] == ["OPEN"]
    # The shared defaults keep null.
    assert not Status.objects.shared().exclude(depends_on=None).exists()


@pytest.mark.usefixtures("listed")
@pytest.mark.parametrize(
    "depends_on",
    [
        [],
        ["RUNNING_LATE"],
        ["OPEN", "OPEN"],
        ["OPEN"] + ["x"] * 10,
        "OPEN",
        {"OPEN": True},
        [1],
        [
            "PENDING",
            "PENDING_CONFIRMATION",
            "PENDING_WAITLIST",
            "OPEN",
            "READ_ONLY",
            "READ_ONLY_FREE",
            "NO_SHOW",
            "COMPLETED",
            "CANCELLED",
            "DELETED",
            "OPEN",
        ],
    ],
)
def test_a_bad_depends_on_is_400_naming_it(api, business, depends_on):
    completed = own_status(business, "COMPLETED")
    before = list(Status.objects.order_by("pk").values())

    response = put(api, completed, dependsOn=depends_on)

    assert response.status_code == 400
    assert "dependsOn" in response.json()
    assert list(Status.objects.order_by("pk").values()) == before


# --- changes to a status that appointments are in -------------------------------------


@pytest.mark.usefixtures("listed")
def test_a_put_changing_the_top_level_status_of_a_status_in_use_is_409(api, business, book):
    late = own_status(business, "OPEN", "RUNNING_LATE")
    book(status_id=late.pk)
    before = list(Status.objects.order_by("pk").values())
    events = Event.objects.count()

    response = put(api, late, status="PENDING")

    assert response.status_code == 409
    assert "status" in response.json()
    assert list(Status.objects.order_by("pk").values()) == before
    assert Event.objects.count() == events


@pytest.mark.usefixtures("listed")
def test_a_status_only_the_history_refers_to_may_change_its_top_level_status(api, business, book):
    late = own_status(business, "OPEN", "RUNNING_LATE")
    appointment = book(status_id=late.pk).json()
    api.post(
        f"/v2/appointments/{appointment['id']}/change_status",
        {"status": "OPEN", "sub_status": "OPEN"},
        format="json",
    )

    response = put(api, late, status="PENDING", subStatus="Waiting for a deposit")

    assert response.status_code == 200


@pytest.mark.usefixtures("listed")
def test_a_rename_re_renders_every_appointment_in_the_status(api, business, book):
    late = own_status(business, "OPEN", "RUNNING_LATE")
    moved = [
        book(
            status_id=late.pk,
            starts_at=f"2025-03-0{d}T09:00:00Z",
            ends_at=f"2025-03-0{d}T09:30:00Z",
        ).json()
        for d in (4, 5)
    ]
    elsewhere = book(starts_at="2025-03-06T09:00:00Z", ends_at="2025-03-06T09:30:00Z").json()

    response = put(api, late, subStatus="Running late (15 min)")

    assert response.status_code == 200
    for before in moved:
        after = api.get(f"/v2/appointments/{before['id']}").json()
        assert after["sub_status"] == "Running late (15 min)"
        assert after["version"] == before["version"] + 1
    assert api.get(f"/v2/appointments/{elsewhere['id']}").json()["version"] == 1
    updates = Event.objects.filter(type="appointment.updated").order_by("pk")
    assert [event.data["appointment"]["id"] for event in updates] == [a["id"] for a in moved]
    assert {tuple(event.data["changed_fields"]) for event in updates} == {("sub_status",)}
    # Each payload is the appointment as GET shows it now, to the byte.
    for event in updates:
        shown = api.get(f"/v2/appointments/{event.data['appointment']['id']}")
        assert orjson.dumps(event.data["appointment"]) == shown.content


@pytest.mark.usefixtures("listed")
def test_the_admin_refuses_to_delete_a_status_in_use(client, business, book):
    from django.contrib.auth.models import Permission

    from accounts.models import User

    late = own_status(business, "OPEN", "RUNNING_LATE")
    book(status_id=late.pk)
    staff = User.objects.create_user(username="desk", business=business, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="statuses"))
    client.force_login(staff)

    page = client.get(f"/admin/statuses/status/{late.pk}/delete/")
    posted = client.post(f"/admin/statuses/status/{late.pk}/delete/", {"post": "yes"})

    assert "protected related objects" in page.content.decode()
    assert posted.status_code in (200, 403)
    assert Status.objects.filter(pk=late.pk).exists()


@pytest.mark.usefixtures("listed")
def test_the_list_refuses_to_delete_a_status_the_history_entered(api, business, book):
    from core.errors import Conflict

    late = own_status(business, "OPEN", "RUNNING_LATE")
    appointment = book(status_id=late.pk).json()
    api.post(
        f"/v2/appointments/{appointment['id']}/change_status",
        {"status": "OPEN", "sub_status": "OPEN"},
        format="json",
    )

    with pytest.raises(Conflict):
        StatusList.of(business).remove(late.pk)

    assert Status.objects.filter(pk=late.pk).exists()


# --- PostgreSQL: a status change and an appointment entering it, concurrently --------


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shared_statuses")
def test_a_top_level_change_waits_for_an_appointment_entering_the_status(business, api_user, chair):
    """An appointment entering a status share-locks it: a concurrent PUT that changes
    the status's top-level status waits for it, then sees it and refuses."""
    from appointments.actions import Target, create_appointment
    from core.errors import Conflict

    fork_shared_statuses(business, by=api_user)
    late = own_status(business, "OPEN", "RUNNING_LATE")
    entered, put_done = threading.Event(), threading.Event()
    outcome = {}

    def enter_and_hold():
        try:
            with transaction.atomic():
                create_appointment(
                    business.pk,
                    {
                        "resource_id": chair.pk,
                        "starts_at": dt.datetime(2025, 3, 4, 9, tzinfo=dt.UTC),
                        "ends_at": dt.datetime(2025, 3, 4, 9, 30, tzinfo=dt.UTC),
                        "client_name": "Ada",
                    },
                    target=Target(status_id=late.pk),
                )
                entered.set()
                # The PUT may not finish while this transaction holds the status.
                outcome["put_finished_early"] = put_done.wait(timeout=1)
        finally:
            connections.close_all()

    def change_top_level():
        try:
            entered.wait(timeout=10)
            StatusList.of(business).update(
                late.pk, {"status": "PENDING", "sub_status": "RUNNING_LATE"}, by=api_user
            )
            outcome["put"] = "changed"
        except Conflict:
            outcome["put"] = "refused"
        finally:
            put_done.set()
            connections.close_all()

    threads = [threading.Thread(target=enter_and_hold), threading.Thread(target=change_top_level)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcome == {"put_finished_early": False, "put": "refused"}
    late.refresh_from_db()
    assert late.status == "OPEN"
    assert Appointment.objects.get().status == "OPEN"


@pytest.mark.usefixtures("listed")
def test_the_admin_writes_depends_on_and_refuses_a_top_level_change_in_use(client, business, book):
    from django.contrib.auth.models import Permission

    from accounts.models import User

    staff = User.objects.create_user(username="desk", business=business, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="statuses"))
    client.force_login(staff)
    late = own_status(business, "OPEN", "RUNNING_LATE")
    form = {
        "status": "OPEN",
        "sub_status": "RUNNING_LATE",
        "status_type": "APPOINTMENT",
        "sort_order": late.sort_order,
        "active": "on",
        "user_selectable": "on",
        "_save": "Save",
    }
    url = f"/admin/statuses/status/{late.pk}/change/"

    page = client.get(url).content.decode()
    saved = client.post(url, {**form, "depends_on": ["OPEN", "PENDING"]})
    book(status_id=late.pk)
    refused = client.post(url, {**form, "status": "PENDING"}, follow=True)

    assert 'name="depends_on"' in page
    assert saved.status_code == 302
    late.refresh_from_db()
    assert (late.depends_on, late.status) == (["PENDING", "OPEN"], "OPEN")
    assert "Appointments are in this status" in refused.content.decode()
