"""POST /v2/appointments/{id}/change_status (SPEC §14.3, §17): the moves the status list
allows, its checks in their order, each refusal writing nothing, and what a move
stamps."""

import datetime as dt

import pytest
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatusChange
from statuses.models import Status, StatusName
from statuses.services import StatusList, fork_shared_statuses
from tests.conftest import appointment_rows, own_status

pytestmark = pytest.mark.django_db

P, PC, PW = "PENDING", "PENDING_CONFIRMATION", "PENDING_WAITLIST"
OPEN, NO_SHOW, COMPLETED, CANCELLED, DELETED = (
    "OPEN",
    "NO_SHOW",
    "COMPLETED",
    "CANCELLED",
    "DELETED",
)
RO, ROF = "READ_ONLY", "READ_ONLY_FREE"
# SPEC §14.3's table, written out as the SPEC writes it.
ALLOWED = {
    P: {P, PC, PW, OPEN, CANCELLED, DELETED},
    PC: {P, PC, PW, OPEN, CANCELLED, DELETED},
    PW: {P, PC, PW, OPEN, CANCELLED, DELETED},
    OPEN: {OPEN, P, PC, PW, COMPLETED, NO_SHOW, CANCELLED, DELETED},
    NO_SHOW: {NO_SHOW, OPEN, COMPLETED, CANCELLED, DELETED},
    COMPLETED: {COMPLETED, OPEN, DELETED},
    CANCELLED: {CANCELLED, OPEN, P, PC, PW, DELETED},
    RO: {RO, ROF, DELETED},
    ROF: {RO, ROF, DELETED},
    DELETED: set(),
}
PAIRS = [(current, target) for current in StatusName.values for target in StatusName.values]


@pytest.fixture
def listed(business, api_user):
    fork_shared_statuses(business, by=api_user)


def create_in(api, status: str) -> dict:
    """An appointment (no resource) in the business's status `status`; a DELETED one is
    created OPEN and then moved."""
    body = {
        "starts_at": "2025-03-04T09:00:00Z",
        "ends_at": "2025-03-04T09:30:00Z",
        "client_name": "Ada Lovelace",
        "status": OPEN if status == DELETED else status,
        "sub_status": OPEN if status == DELETED else status,
    }
    created = api.post("/v2/appointments", body, format="json")
    assert created.status_code == 201, created.content
    if status == DELETED:
        moved = change(api, created.json()["id"], status=DELETED, sub_status=DELETED)
        assert moved.status_code == 200
        return moved.json()
    return created.json()


def change(api, appointment_id: int, **body):
    return api.post(f"/v2/appointments/{appointment_id}/change_status", body, format="json")


@pytest.mark.usefixtures("listed")
@pytest.mark.parametrize(("current", "target"), PAIRS)
def test_every_pair_of_the_table_is_allowed_or_refused_as_the_spec_says(
    api, business, current, target
):
    appointment = create_in(api, current)
    before = appointment_rows(business)

    response = change(api, appointment["id"], status=target, sub_status=target)

    if target in ALLOWED[current]:
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["status"], body["sub_status"]) == (target, target)
        assert body["status_id"] == own_status(business, target).pk
        assert body["version"] == appointment["version"] + 1
        last = AppointmentStatusChange.objects.filter(appointment_id=appointment["id"]).last()
        assert (last.from_status, last.to_status) == (current, target)
    else:
        assert response.status_code == 409
        message = response.json()["status"][0]
        allowed = ALLOWED[current]
        assert all(name in message for name in allowed)
        if not allowed:
            assert "nothing" in message
        assert appointment_rows(business) == before


@pytest.mark.usefixtures("listed")
@pytest.mark.parametrize("target", [RO, ROF, P, COMPLETED])
def test_create_may_start_in_any_status_but_deleted(api, business, target):
    appointment = create_in(api, target)

    assert appointment["status"] == target
    [entry] = AppointmentStatusChange.objects.filter(appointment_id=appointment["id"])
    assert (entry.from_status, entry.from_list_status_id, entry.to_status) == (None, None, target)


@pytest.mark.usefixtures("listed")
def test_create_in_deleted_is_409_naming_status(api, business):
    before = appointment_rows(business)

    response = api.post(
        "/v2/appointments",
        {
            "starts_at": "2025-03-04T09:00:00Z",
            "ends_at": "2025-03-04T09:30:00Z",
            "client_name": "Ada",
            "status": DELETED,
            "sub_status": DELETED,
        },
        format="json",
    )

    assert response.status_code == 409
    assert "status" in response.json()
    assert appointment_rows(business) == before


# --- the target ---------------------------------------------------------------------


@pytest.mark.usefixtures("listed")
def test_the_target_by_id_and_a_move_within_open_changes_the_sub_status(api, business):
    appointment = create_in(api, OPEN)
    running_late = own_status(business, OPEN, "RUNNING_LATE")

    response = change(api, appointment["id"], status_id=running_late.pk, note="Traffic")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["sub_status"]) == (OPEN, "RUNNING_LATE")
    last = AppointmentStatusChange.objects.last()
    assert (last.from_sub_status, last.to_sub_status, last.note) == (
        OPEN,
        "RUNNING_LATE",
        "Traffic",
    )


@pytest.mark.usefixtures("listed")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "status_id"),
        ({"status_id": 1, "status": OPEN, "sub_status": OPEN}, "status_id"),
        ({"status": OPEN}, "sub_status"),
        ({"sub_status": OPEN}, "status"),
        ({"status": "open", "sub_status": OPEN}, "status"),
        ({"status_id": "5"}, "status_id"),
        ({"status_id": 0}, "status_id"),
        ({"status_id": 999_999}, "status_id"),
        ({"status": OPEN, "sub_status": "No such thing"}, "sub_status"),
        ({"status": COMPLETED, "sub_status": "RUNNING_LATE"}, "sub_status"),
        ({"status_id": 1, "status_at": "2025-03-04"}, "status_at"),
        ({"status_id": 1, "status_at": "1899-12-31T23:59:59Z"}, "status_at"),
        ({"status_id": 1, "note": "x" * 501}, "note"),
        ({"status_id": 1, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_body_is_400_naming_the_field_and_writes_nothing(api, business, body, field):
    appointment = create_in(api, OPEN)
    before = appointment_rows(business)

    response = change(api, appointment["id"], **body)

    assert response.status_code == 400
    assert field in response.json()
    assert appointment_rows(business) == before


@pytest.mark.usefixtures("listed")
def test_another_business_s_status_id_is_unknown(api, business, other_business, other_api):
    appointment = create_in(api, OPEN)
    theirs = other_api.post(
        "/status",
        {"businessId": other_business.pk, "status": "CANCELLED", "subStatus": "Theirs"},
        format="json",
    ).json()["statusId"]

    response = change(api, appointment["id"], status_id=theirs)

    assert response.status_code == 400
    assert "status_id" in response.json()


@pytest.mark.usefixtures("listed")
def test_a_future_moment_is_400(api, business):
    appointment = create_in(api, OPEN)
    later = (timezone.now() + dt.timedelta(minutes=10)).isoformat()

    response = change(
        api, appointment["id"], status=CANCELLED, sub_status=CANCELLED, status_at=later
    )

    assert response.status_code == 400
    assert "status_at" in response.json()


def test_a_shared_status_id_names_the_business_s_copy(api, business, book):
    running_late = Status.objects.shared().get(status=OPEN, sub_status="RUNNING_LATE")

    created = book(status_id=running_late.pk)  # the first appointment: the list is forked

    assert created.status_code == 201
    copy = own_status(business, OPEN, "RUNNING_LATE")
    assert created.json()["status_id"] == copy.pk != running_late.pk
    moved = change(
        api, created.json()["id"], status_id=Status.objects.shared().get(sub_status=CANCELLED).pk
    )
    assert moved.json()["status_id"] == own_status(business, CANCELLED).pk


def test_a_shared_status_id_without_a_copy_is_400(api, business, api_user, book):
    fork_shared_statuses(business, by=api_user)
    copy = own_status(business, CANCELLED)
    StatusList.of(business).update(copy.pk, {"sub_status": "Called off"}, by=api_user)
    appointment = book().json()

    response = change(
        api, appointment["id"], status_id=Status.objects.shared().get(sub_status=CANCELLED).pk
    )

    assert response.status_code == 400
    assert "status_id" in response.json()


# --- the checks after the target, in order --------------------------------------------


@pytest.mark.usefixtures("listed")
def test_an_inactive_target_is_409_naming_status_id(api, business, api_user):
    appointment = create_in(api, OPEN)
    late = own_status(business, OPEN, "RUNNING_LATE")
    StatusList.of(business).update(late.pk, {"active": False}, by=api_user)
    before = appointment_rows(business)

    response = change(api, appointment["id"], status_id=late.pk)

    assert response.status_code == 409
    assert "status_id" in response.json()
    assert appointment_rows(business) == before


@pytest.mark.usefixtures("listed")
def test_an_appointment_in_an_inactive_status_keeps_it_and_shows_it(api, business, api_user):
    appointment = create_in(api, OPEN)
    StatusList.of(business).update(appointment["status_id"], {"active": False}, by=api_user)

    shown = api.get(f"/v2/appointments/{appointment['id']}").json()

    assert (shown["status_id"], shown["sub_status"]) == (appointment["status_id"], OPEN)


@pytest.mark.usefixtures("listed")
def test_inactive_is_checked_before_the_table(api, business, api_user):
    appointment = create_in(api, COMPLETED)
    pending = own_status(business, P)
    StatusList.of(business).update(pending.pk, {"active": False}, by=api_user)

    response = change(api, appointment["id"], status_id=pending.pk)  # COMPLETED → PENDING

    assert response.status_code == 409
    assert "status_id" in response.json()


@pytest.mark.usefixtures("listed")
def test_depends_on_refuses_a_move_from_a_status_it_does_not_list(api, business, api_user):
    completed = own_status(business, COMPLETED)
    StatusList.of(business).update(completed.pk, {"depends_on": [NO_SHOW]}, by=api_user)
    appointment = create_in(api, OPEN)
    before = appointment_rows(business)

    refused = change(api, appointment["id"], status_id=completed.pk)

    assert refused.status_code == 409
    assert "NO_SHOW" in refused.json()["dependsOn"][0]
    assert appointment_rows(business) == before
    assert change(api, appointment["id"], status=NO_SHOW, sub_status=NO_SHOW).status_code == 200
    assert change(api, appointment["id"], status_id=completed.pk).status_code == 200


@pytest.mark.usefixtures("listed")
def test_the_table_is_checked_before_depends_on(api, business, api_user):
    open_status = own_status(business, OPEN)
    StatusList.of(business).update(open_status.pk, {"depends_on": [CANCELLED]}, by=api_user)
    appointment = create_in(api, RO)  # READ_ONLY → OPEN: not in the table

    response = change(api, appointment["id"], status_id=open_status.pk)

    assert response.status_code == 409
    assert "status" in response.json()
    assert "dependsOn" not in response.json()


@pytest.mark.usefixtures("listed")
def test_depends_on_does_not_apply_on_create(api, business, api_user):
    completed = own_status(business, COMPLETED)
    StatusList.of(business).update(completed.pk, {"depends_on": [NO_SHOW]}, by=api_user)

    assert create_in(api, COMPLETED)["status_id"] == completed.pk


@pytest.mark.usefixtures("listed")
@pytest.mark.parametrize("target", [COMPLETED, NO_SHOW])
def test_an_outcome_before_the_start_is_409_naming_status_at(api, business, target):
    appointment = create_in(api, OPEN)
    before = appointment_rows(business)

    response = change(
        api, appointment["id"], status=target, sub_status=target, status_at="2025-03-04T08:59:59Z"
    )

    assert response.status_code == 409
    assert "status_at" in response.json()
    assert appointment_rows(business) == before


@pytest.mark.usefixtures("listed")
def test_cancelling_before_the_start_is_allowed(api, business):
    appointment = create_in(api, OPEN)

    response = change(
        api,
        appointment["id"],
        status=CANCELLED,
        sub_status=CANCELLED,
        status_at="2025-03-01T08:00:00Z",
    )

    assert response.status_code == 200
    assert response.json()["cancelled_at"] == "2025-03-01T08:00:00Z"


@pytest.mark.usefixtures("listed")
def test_create_completed_before_the_start_is_409(api, business, book):
    response = book(status=COMPLETED, sub_status=COMPLETED, status_at="2025-03-04T08:00:00Z")

    assert response.status_code == 409
    assert "status_at" in response.json()


# --- the stamps -------------------------------------------------------------------------


@pytest.mark.usefixtures("listed")
def test_outcomes_are_stamped_and_cleared_on_reopening(api, business):
    appointment = create_in(api, OPEN)
    path = appointment["id"]

    no_show = change(
        api, path, status=NO_SHOW, sub_status=NO_SHOW, status_at="2025-03-04T09:10:00Z"
    )
    completed = change(
        api, path, status=COMPLETED, sub_status=COMPLETED, status_at="2025-03-04T09:40:00Z"
    )
    deleted = change(
        api, path, status=DELETED, sub_status=DELETED, status_at="2025-03-05T10:00:00Z"
    )

    assert (no_show.json()["no_show_at"], no_show.json()["status_at"]) == (
        "2025-03-04T09:10:00Z",
    ) * 2
    # Other outcomes are kept until a re-open; DELETED keeps them all.
    assert completed.json()["no_show_at"] == "2025-03-04T09:10:00Z"
    assert completed.json()["completed_at"] == "2025-03-04T09:40:00Z"
    assert deleted.json()["completed_at"] == "2025-03-04T09:40:00Z"
    assert deleted.json()["status_at"] == "2025-03-05T10:00:00Z"


@pytest.mark.usefixtures("listed")
@pytest.mark.parametrize("reopened_to", [OPEN, P])
def test_reopening_clears_every_outcome(api, business, reopened_to):
    appointment = create_in(api, OPEN)
    change(api, appointment["id"], status=CANCELLED, sub_status=CANCELLED)

    reopened = change(api, appointment["id"], status=reopened_to, sub_status=reopened_to).json()

    assert (reopened["completed_at"], reopened["no_show_at"], reopened["cancelled_at"]) == (
        None,
    ) * 3


@pytest.mark.usefixtures("listed")
def test_a_move_to_the_status_it_is_in_is_a_correction(api, business):
    appointment = create_in(api, COMPLETED)
    path = appointment["id"]

    corrected = change(
        api, path, status=COMPLETED, sub_status=COMPLETED, status_at="2025-03-04T09:45:00Z"
    )

    assert corrected.status_code == 200
    assert corrected.json()["completed_at"] == "2025-03-04T09:45:00Z"
    assert AppointmentStatusChange.objects.filter(appointment_id=path).count() == 2


@pytest.mark.usefixtures("listed")
def test_history_keeps_the_names_a_rename_changes(api, business, api_user):
    appointment = create_in(api, OPEN)
    StatusList.of(business).update(appointment["status_id"], {"sub_status": "Booked"}, by=api_user)

    history = api.get(f"/v2/appointments/{appointment['id']}/status_history").json()["results"]
    shown = api.get(f"/v2/appointments/{appointment['id']}").json()

    assert history[0]["to_sub_status"] == OPEN
    assert shown["sub_status"] == "Booked"


# --- the fork -------------------------------------------------------------------------


def test_the_first_appointment_forks_the_status_list_in_its_transaction(business, book):
    assert not Status.objects.for_business(business.pk).exists()

    created = book()

    assert created.status_code == 201
    own = Status.objects.for_business(business.pk)
    assert own.count() == Status.objects.shared().count()
    assert created.json()["status_id"] == own.get(status=OPEN, sub_status=OPEN).pk


def test_a_refused_first_appointment_leaves_the_list_unforked(business, book):
    response = book(status=DELETED, sub_status=DELETED)

    assert response.status_code == 409
    assert not Status.objects.for_business(business.pk).exists()
    assert not Appointment.objects.exists()


def test_without_an_active_open_status_a_create_needs_a_target(api, business, api_user, book):
    fork_shared_statuses(business, by=api_user)
    for status in Status.objects.for_business(business.pk).filter(status=OPEN):
        StatusList.of(business).update(status.pk, {"active": False}, by=api_user)

    response = book()

    assert response.status_code == 409
    assert "status_id" in response.json()
    assert book(status=P, sub_status=P).status_code == 201


def test_the_default_is_the_first_active_open_status_by_sort_order(api, business, api_user, book):
    fork_shared_statuses(business, by=api_user)
    confirmed = own_status(business, OPEN, "CONFIRMED")
    StatusList.of(business).update(confirmed.pk, {"sort_order": 0}, by=api_user)

    assert book().json()["status_id"] == confirmed.pk
