"""What the scheduler will call to complete appointments (SPEC §16, §17): the due
queryset and the batch that moves them through the one change_status path."""

import datetime as dt

import pytest

from appointments.actions import (
    Target,
    change_status,
    complete_due_appointments,
    create_appointment,
)
from appointments.models import Appointment, AppointmentStatusChange
from events.models import Event
from statuses.services import StatusList
from tests.conftest import own_status

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)


def ended(business, hours_ago: float, *, target: Target | None = None) -> Appointment:
    ends_at = NOW - dt.timedelta(hours=hours_ago)
    return create_appointment(
        business.pk,
        {
            "resource_id": None,
            "starts_at": ends_at - dt.timedelta(minutes=30),
            "ends_at": ends_at,
            "client_name": "Client",
        },
        target=target or Target(),
    )


def test_the_due_are_open_ones_ended_that_many_hours_ago(business):
    due = ended(business, 24)
    late = ended(business, 30, target=Target(status="OPEN", sub_status="RUNNING_LATE"))
    ended(business, 23)  # not yet
    ended(business, 48, target=Target(status="CANCELLED", sub_status="CANCELLED"))
    ended(business, 48, target=Target(status="PENDING", sub_status="PENDING"))

    found = Appointment.objects.for_business(business.pk).due_for_completion(NOW, after_hours=24)

    assert list(found) == [late, due]


def test_completion_moves_them_as_of_their_end_by_the_system(business):
    due = ended(business, 30)
    ended(business, 1)

    moved = complete_due_appointments(business.pk, NOW, after_hours=24)

    assert [appointment.pk for appointment in moved] == [due.pk]
    due.refresh_from_db()
    assert (due.status, due.status_at, due.completed_at, due.version) == (
        "COMPLETED",
        due.ends_at,
        due.ends_at,
        2,
    )
    entry = AppointmentStatusChange.objects.filter(appointment=due).last()
    assert (entry.source, entry.changed_by, entry.status_at) == ("system", None, due.ends_at)
    event = Event.objects.filter(type="appointment.status_changed").get()
    assert event.data["appointment"]["completed_at"] == due.ends_at.isoformat().replace(
        "+00:00", "Z"
    )
    assert complete_due_appointments(business.pk, NOW, after_hours=24) == []


def test_the_target_is_the_first_active_completed_status_open_may_enter(business, api_user):
    due = ended(business, 30)
    completed = own_status(business, "COMPLETED")
    lists = StatusList.of(business)
    paid = lists.add({"status": "COMPLETED", "sub_status": "Paid", "sort_order": 0}, by=api_user)
    lists.update(paid.pk, {"depends_on": ["NO_SHOW"]}, by=api_user)

    complete_due_appointments(business.pk, NOW, after_hours=24)

    due.refresh_from_db()
    assert due.list_status_id == completed.pk


def test_without_such_a_target_nothing_moves(business, api_user):
    due = ended(business, 30)
    StatusList.of(business).update(
        own_status(business, "COMPLETED").pk, {"active": False}, by=api_user
    )

    assert complete_due_appointments(business.pk, NOW, after_hours=24) == []
    due.refresh_from_db()
    assert due.status == "OPEN"


def test_a_batch_is_bounded_and_moved_in_one_transaction(business, django_assert_num_queries):
    for hours in range(30, 40):
        ended(business, hours)

    # The target, the due ids; then the target share-locked, the rows locked, one
    # UPDATE, one INSERT of entries, one of events (and the savepoint pair).
    with django_assert_num_queries(2 + 2 + 5):
        moved = complete_due_appointments(business.pk, NOW, after_hours=24, limit=4)

    assert len(moved) == 4
    assert Appointment.objects.filter(status="COMPLETED").count() == 4


def test_a_change_a_person_made_wins(business):
    due = ended(business, 30)
    change_status(business.pk, due.pk, Target(status="NO_SHOW", sub_status="NO_SHOW"))

    # As if the scheduler had picked it before the person's change committed.
    from appointments.actions import change_statuses
    from appointments.models import due_for_completion

    moved = change_statuses(
        business.pk,
        [due.pk],
        Target(status_id=own_status(business, "COMPLETED").pk),
        still=due_for_completion(NOW, 24),
    )

    assert moved == []
    due.refresh_from_db()
    assert due.status == "NO_SHOW"
