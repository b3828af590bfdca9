"""What blocks a resource's time (SPEC §14.4, §17): overlaps refused with the
conflicting ids, what frees a slot, and on PostgreSQL the exclusion constraint under
concurrent writers."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from accounts.models import User
from appointments.actions import create_resource
from appointments.models import Appointment
from tests.conftest import appointment_rows, client_for, requires_postgresql

NINE = {"starts_at": "2025-03-04T09:00:00Z", "ends_at": "2025-03-04T09:30:00Z"}


def change(api, appointment_id: int, status: str):
    return api.post(
        f"/v2/appointments/{appointment_id}/change_status",
        {"status": status, "sub_status": status},
        format="json",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [
        ("2025-03-04T09:00:00Z", "2025-03-04T09:30:00Z"),  # the same slot
        ("2025-03-04T08:45:00Z", "2025-03-04T09:01:00Z"),  # its start
        ("2025-03-04T09:29:00Z", "2025-03-04T10:00:00Z"),  # its end
        ("2025-03-04T09:10:00Z", "2025-03-04T09:20:00Z"),  # inside it
        ("2025-03-04T08:00:00Z", "2025-03-04T11:00:00Z"),  # around it
        ("2025-03-03T10:00:00Z", "2025-03-04T09:15:00Z"),  # a long one from the day before
    ],
)
def test_an_overlap_on_one_resource_is_409_listing_the_conflicts(
    business, book, starts_at, ends_at
):
    taken = book(**NINE).json()
    before = appointment_rows(business)

    response = book(starts_at=starts_at, ends_at=ends_at)

    assert response.status_code == 409
    assert response.json()["conflicts"] == [taken["id"]]
    assert "detail" in response.json()
    assert appointment_rows(business) == before


@pytest.mark.django_db
def test_the_conflicts_are_every_overlapping_appointment_ascending(book):
    first = book(starts_at="2025-03-04T09:00:00Z", ends_at="2025-03-04T09:30:00Z").json()
    second = book(starts_at="2025-03-04T09:30:00Z", ends_at="2025-03-04T10:00:00Z").json()

    response = book(starts_at="2025-03-04T09:15:00Z", ends_at="2025-03-04T09:45:00Z")

    assert response.json()["conflicts"] == [first["id"], second["id"]]


@pytest.mark.django_db
def test_back_to_back_is_no_overlap(book):
    book(**NINE)

    before = book(starts_at="2025-03-04T08:30:00Z", ends_at="2025-03-04T09:00:00Z")
    after = book(starts_at="2025-03-04T09:30:00Z", ends_at="2025-03-04T10:00:00Z")

    assert (before.status_code, after.status_code) == (201, 201)


@pytest.mark.django_db
def test_another_resource_and_no_resource_never_conflict(business, book):
    book(**NINE)
    room = create_resource(business.pk, name="Room")

    assert book(resource_id=room.pk, **NINE).status_code == 201
    assert book(resource_id=None, **NINE).status_code == 201
    assert book(resource_id=None, **NINE).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("freeing", ["CANCELLED", "NO_SHOW", "DELETED", "PENDING_WAITLIST"])
def test_a_status_that_frees_time_frees_the_slot(api, book, freeing):
    taken = book(**NINE).json()
    assert change(api, taken["id"], freeing).status_code == 200

    assert book(**NINE).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "blocks"),
    [
        ("PENDING", True),
        ("PENDING_CONFIRMATION", True),
        ("OPEN", True),
        ("READ_ONLY", True),
        ("COMPLETED", True),
        ("PENDING_WAITLIST", False),
        ("READ_ONLY_FREE", False),
        ("NO_SHOW", False),
        ("CANCELLED", False),
    ],
)
def test_which_statuses_block_time(book, status, blocks):
    created = book(status=status, sub_status=status, status_at="2025-03-04T09:30:00Z", **NINE)
    assert created.status_code == 201

    response = book(**NINE)

    assert response.status_code == (409 if blocks else 201)


@pytest.mark.django_db
def test_a_created_block_that_would_overlap_is_refused_too(book):
    taken = book(**NINE).json()

    response = book(status="READ_ONLY", sub_status="READ_ONLY", **NINE)

    assert response.status_code == 409
    assert response.json()["conflicts"] == [taken["id"]]


@pytest.mark.django_db
def test_reopening_into_a_taken_slot_is_409_and_writes_nothing(api, business, book):
    cancelled = book(**NINE).json()
    change(api, cancelled["id"], "CANCELLED")
    taken = book(**NINE).json()
    before = appointment_rows(business)

    response = change(api, cancelled["id"], "OPEN")

    assert response.status_code == 409
    assert response.json()["conflicts"] == [taken["id"]]
    assert appointment_rows(business) == before


@pytest.mark.django_db
def test_a_move_between_blocking_statuses_does_not_conflict_with_itself(api, book):
    appointment = book(**NINE).json()

    assert change(api, appointment["id"], "PENDING").status_code == 200
    assert change(api, appointment["id"], "OPEN").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "patch",
    [
        {"starts_at": "2025-03-04T09:45:00Z", "ends_at": "2025-03-04T10:15:00Z"},
        {"ends_at": "2025-03-04T10:01:00Z"},
        {"resource_id": "other"},
    ],
)
def test_a_patch_onto_a_taken_slot_is_409_and_writes_nothing(api, business, book, patch):
    room = create_resource(business.pk, name="Room")
    on_room = book(
        resource_id=room.pk, starts_at="2025-03-04T10:00:00Z", ends_at="2025-03-04T10:30:00Z"
    )
    book(starts_at="2025-03-04T10:00:00Z", ends_at="2025-03-04T10:30:00Z")
    moving = book(**NINE).json()
    patch = {name: room.pk if value == "other" else value for name, value in patch.items()}
    if "resource_id" in patch:
        patch.update(starts_at="2025-03-04T10:00:00Z", ends_at="2025-03-04T10:30:00Z")
    before = appointment_rows(business)

    response = api.patch(f"/v2/appointments/{moving['id']}", patch, format="json")

    assert response.status_code == 409
    assert response.json()["conflicts"]
    if "resource_id" in patch:
        assert response.json()["conflicts"] == [on_room.json()["id"]]
    assert appointment_rows(business) == before


@pytest.mark.django_db
def test_a_patch_of_a_freeing_appointment_is_not_checked(api, book):
    book(starts_at="2025-03-04T10:00:00Z", ends_at="2025-03-04T10:30:00Z")
    cancelled = book(**NINE).json()
    change(api, cancelled["id"], "CANCELLED")

    response = api.patch(
        f"/v2/appointments/{cancelled['id']}",
        {"starts_at": "2025-03-04T10:00:00Z", "ends_at": "2025-03-04T10:30:00Z"},
        format="json",
    )

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["READ_ONLY", "READ_ONLY_FREE"])
def test_a_synced_block_is_never_patched(api, business, book, status):
    block = book(status=status, sub_status=status, **NINE).json()
    before = appointment_rows(business)

    response = api.patch(f"/v2/appointments/{block['id']}", {"notes": "x"}, format="json")

    assert response.status_code == 409
    assert "status" in response.json()
    assert appointment_rows(business) == before


# --- PostgreSQL: the database decides between concurrent writers ----------------------

WRITERS = 16


@pytest.fixture
def clients(business, api_user):
    """A client per writer, each with its own token (as separate integrations)."""
    return [
        client_for(User.objects.create_user(username=f"writer{n}", business=business))
        for n in range(WRITERS)
    ]


def all_at_once(calls):
    """Run the calls in threads, released together; their answers in order. Each
    thread's connection is closed after."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=10)
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shared_statuses")
def test_of_16_concurrent_overlapping_creates_exactly_one_succeeds(business, chair, clients):
    def create(client, minute):
        def call():
            return client.post(
                "/v2/appointments",
                {
                    "resource_id": chair.pk,
                    "starts_at": f"2025-03-04T09:{minute:02d}:00Z",
                    "ends_at": f"2025-03-04T10:{minute:02d}:00Z",
                    "client_name": "Racer",
                },
                format="json",
            )

        return call

    answers = all_at_once([create(client, n) for n, client in enumerate(clients)])

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201] + [409] * (WRITERS - 1), [answer.content for answer in answers]
    [winner] = [answer.json()["id"] for answer in answers if answer.status_code == 201]
    refusals = [answer.json() for answer in answers if answer.status_code == 409]
    assert [r for r in refusals if r.get("conflicts") != [winner]] == []
    assert list(Appointment.objects.values_list("pk", flat=True)) == [winner]


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shared_statuses")
def test_of_concurrent_reopens_into_one_slot_exactly_one_succeeds(api, business, book, clients):
    cancelled = []
    for _ in range(4):
        appointment = book(**NINE).json()
        assert change(api, appointment["id"], "CANCELLED").status_code == 200
        cancelled.append(appointment["id"])

    answers = all_at_once(
        [
            lambda c=client, pk=pk: change(c, pk, "OPEN")
            for client, pk in zip(clients, cancelled, strict=False)
        ]
    )

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200, 409, 409, 409], [answer.content for answer in answers]
    [winner] = [answer.json()["id"] for answer in answers if answer.status_code == 200]
    assert [a.json()["conflicts"] for a in answers if a.status_code == 409] == [[winner]] * 3
    assert list(Appointment.objects.filter(status="OPEN").values_list("pk", flat=True)) == [winner]


@requires_postgresql
@pytest.mark.django_db
def test_the_database_refuses_an_overlap_the_check_did_not_see(business, book):
    """The exclusion constraint on its own: a write that goes around the write path."""
    from django.db import IntegrityError, transaction

    taken = Appointment.objects.get(pk=book(**NINE).json()["id"])
    copy = Appointment(
        **{
            field.attname: getattr(taken, field.attname)
            for field in Appointment._meta.concrete_fields
            if not field.primary_key
        }
    )

    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        copy.save()

    assert refused.value.__cause__.sqlstate == "23P01"
