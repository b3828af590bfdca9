"""Every change writes its event, in its own transaction (SPEC §8.1, §13): through
the API, the admin and the model methods. An event's payload is the resource exactly
as the API shows it right after the change."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import Client

from accounts.models import User
from bookings.models import Booking
from core.errors import NotFound
from events.models import Event
from statuses.models import Status
from statuses.services import StatusList, fork_shared_statuses

pytestmark = pytest.mark.django_db

JAN_15 = "2025-01-15T14:30:00Z"


def events_of(business) -> list[tuple[str, dict]]:
    """The business's events in feed order, as stored (type, decoded data)."""
    return list(Event.objects.for_business(business.pk).in_feed_order().values_list("type", "data"))


def booking_body(api, booking_id: int) -> dict:
    response = api.get(f"/v2/bookings/{booking_id}")
    assert response.status_code == 200
    return response.json()


def history_body(api, booking_id: int) -> list[dict]:
    return api.get(f"/v2/bookings/{booking_id}/status_history").json()["results"]


# --- bookings through the API ---------------------------------------------------------


def test_create_writes_booking_created_with_the_booking_as_get_shows_it(api, business):
    response = api.post(
        "/v2/bookings", {"name": "Gala", "starts_at": "2026-05-01T18:00:00+02:00"}, format="json"
    )
    assert response.status_code == 201

    booking_id = response.json()["id"]
    assert events_of(business) == [("booking.created", {"booking": booking_body(api, booking_id)})]


@pytest.mark.parametrize(
    "moment", [{}, {"status_at": JAN_15}, {"status_date": "2025-01-15"}], ids=str
)
def test_create_with_a_status_writes_created_then_status_changed_with_the_final_booking(
    api, business, moment
):
    response = api.post("/v2/bookings", {"name": "Gala", "status": "tentative", **moment})
    assert response.status_code == 201

    booking_id = response.json()["id"]
    final = booking_body(api, booking_id)
    [entry] = history_body(api, booking_id)
    assert final["status"] == "tentative"
    assert entry["from_status"] == "lead"
    assert events_of(business) == [
        ("booking.created", {"booking": final}),
        ("booking.status_changed", {"booking": final, "change": entry}),
    ]


@pytest.mark.parametrize("status", ["lead", "tentative", "definite", "lost"])
def test_change_status_writes_status_changed_with_the_booking_and_the_entry(
    api, business, make_booking, status
):
    booking = make_booking()

    response = api.post(f"/v2/bookings/{booking.pk}/change_status", {"status": status})
    assert response.status_code == 200

    [entry] = history_body(api, booking.pk)
    assert events_of(business) == [
        ("booking.status_changed", {"booking": booking_body(api, booking.pk), "change": entry})
    ]


def test_patch_writes_booking_updated_naming_the_changed_fields_in_field_order(
    api, business, make_booking
):
    booking = make_booking(name="Gala", notes="old", guest_count=10)

    response = api.patch(
        f"/v2/bookings/{booking.pk}",
        {"notes": "new", "guest_count": 10, "ends_at": "2026-05-01T23:00:00Z", "name": "Ball"},
        format="json",
    )
    assert response.status_code == 200

    assert events_of(business) == [
        (
            "booking.updated",
            {
                "booking": booking_body(api, booking.pk),
                "changed_fields": ["name", "ends_at", "notes"],
            },
        )
    ]


def test_a_patch_that_changes_no_stored_value_writes_nothing(api, business, make_booking):
    booking = make_booking(name="Gala", starts_at=dt.datetime(2026, 5, 1, 16, tzinfo=dt.UTC))
    before = booking_body(api, booking.pk)

    response = api.patch(
        f"/v2/bookings/{booking.pk}",
        {"name": "Gala", "starts_at": "2026-05-01T18:00:00+02:00", "notes": ""},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == before
    assert booking_body(api, booking.pk)["updated_at"] == before["updated_at"]
    assert events_of(business) == []


def test_delete_writes_booking_deleted_with_the_booking_as_it_was(api, business, make_booking):
    booking = make_booking(name="Gala")
    booking.change_status("definite", at=dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC))
    before = booking_body(api, booking.pk)
    Event.objects.all().delete()

    assert api.delete(f"/v2/bookings/{booking.pk}").status_code == 204

    assert events_of(business) == [("booking.deleted", {"booking": before})]


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("post", "/v2/bookings", {"name": ""}, 400),
        ("post", "/v2/bookings", {"name": "Gala", "status": "won"}, 400),
        (
            "post",
            "/v2/bookings",
            {"name": "Gala", "status": "lost", "status_at": "2999-01-01"},
            400,
        ),
        (
            "post",
            "/v2/bookings",
            {
                "name": "Gala",
                "starts_at": "2026-05-02T00:00:00Z",
                "ends_at": "2026-05-01T00:00:00Z",
            },
            400,
        ),
        ("post", "{mine}/change_status", {"status": "won"}, 400),
        ("post", "{mine}/change_status", {"status": "lost", "status_at": "2999-01-01T00:00Z"}, 400),
        ("patch", "{mine}", {"ends_at": "2020-01-01T00:00:00Z"}, 400),
        ("patch", "{mine}", {"status": "lost"}, 400),
        ("post", "{theirs}/change_status", {"status": "lost"}, 404),
        ("patch", "{theirs}", {"notes": "pwned"}, 404),
        ("patch", "{theirs}", {"guest_count": -1}, 404),
        ("patch", "/v2/bookings/999999", {"status": "lost"}, 404),
        ("delete", "{theirs}", None, 404),
        ("post", "/v2/bookings/999999/change_status", {"status": "lost"}, 404),
        ("patch", "/v2/bookings/999999", {"notes": "x"}, 404),
        ("delete", "/v2/bookings/999999", None, 404),
    ],
)
def test_a_refused_write_writes_no_event(
    api, make_booking, other_business, method, path, body, code
):
    mine = make_booking(starts_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    theirs = Booking.objects.create(business=other_business, name="Theirs")
    path = path.format(mine=f"/v2/bookings/{mine.pk}", theirs=f"/v2/bookings/{theirs.pk}")

    response = getattr(api, method)(path, body, format="json")

    assert response.status_code == code
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/bookings", {"name": "Gala", "status": "lost"}),
        ("{mine}/change_status", {"status": "definite"}),
    ],
)
def test_a_replayed_idempotent_post_writes_no_second_event(api, business, make_booking, path, body):
    path = path.format(mine=f"/v2/bookings/{make_booking().pk}")
    first = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    written = events_of(business)

    replay = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert replay.status_code == first.status_code
    assert written
    assert events_of(business) == written


def test_record_stores_the_data_as_the_api_renders_it_and_leaves_the_order_to_the_database(
    business,
):
    moment = dt.datetime(2025, 1, 15, 14, 30, 0, 120000, tzinfo=dt.UTC)
    event = Event.objects.record(
        business.pk, "booking.created", {"at": moment, "on": moment.date()}
    )

    stored = Event.objects.get(pk=event.pk)
    assert stored.data == {"at": "2025-01-15T14:30:00.120000Z", "on": "2025-01-15"}
    assert stored.transaction_id is not None  # the database's default, not the caller's


# --- bookings through the model methods ------------------------------------------------


@pytest.mark.parametrize(
    "write",
    [
        lambda booking: booking.change_status("lost"),
        lambda booking: booking.edit({"notes": "changed"}),
        lambda booking: booking.delete(),
        lambda booking: Booking.objects.create_booking(
            booking.business_id, {"name": "New"}, status="definite"
        ),
    ],
    ids=["change_status", "edit", "delete", "create_booking"],
)
def test_a_rolled_back_transaction_leaves_no_event(make_booking, write):
    booking = make_booking()
    written_inside = []

    def change_then_fail() -> None:
        with transaction.atomic():
            write(booking)
            written_inside.append(Event.objects.count())
            raise RuntimeError("the caller's transaction fails after the change")

    with pytest.raises(RuntimeError):
        change_then_fail()

    assert written_inside[0] >= 1
    assert not Event.objects.exists()
    assert Booking.objects.count() == 1


def test_edit_returns_the_changed_fields_and_nothing_when_nothing_changed(make_booking):
    booking = make_booking(name="Gala", notes="")

    assert booking.edit({"name": "Gala", "notes": ""}) == []
    assert not Event.objects.exists()
    assert booking.edit({"notes": "x", "name": "Ball"}) == ["name", "notes"]
    assert Event.objects.get().type == "booking.updated"


def test_edit_of_a_booking_deleted_meanwhile_raises_and_writes_nothing(make_booking):
    booking = make_booking()
    Booking.objects.filter(pk=booking.pk).delete()

    with pytest.raises(NotFound):
        booking.edit({"notes": "x"})
    assert not Event.objects.exists()


# --- bookings through the admin ---------------------------------------------------------


@pytest.fixture
def staff_client(business) -> Client:
    staff = User.objects.create_user(username="frontdesk", business=business, is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["bookings", "statuses"])
    )
    client = Client()
    client.force_login(staff)
    return client


def booking_form(**fields: str) -> dict:
    return {
        "notes": "",
        "status_changes-TOTAL_FORMS": "0",
        "status_changes-INITIAL_FORMS": "0",
        **fields,
    }


def test_admin_add_form_writes_booking_created(staff_client, api, business):
    response = staff_client.post("/admin/bookings/booking/add/", booking_form(name="Gala"))
    assert response.status_code == 302

    booking = Booking.objects.get(name="Gala")
    assert events_of(business) == [("booking.created", {"booking": booking_body(api, booking.pk)})]


def test_admin_change_form_writes_booking_updated_and_an_unchanged_save_nothing(
    staff_client, api, business, make_booking
):
    booking = make_booking(name="Gala")
    change_page = f"/admin/bookings/booking/{booking.pk}/change/"

    # The page as opened at version 1: the unchanged save keeps it, so it is still 1.
    opened = {"opened_version": "1"}
    assert staff_client.post(change_page, booking_form(name="Gala", **opened)).status_code == 302
    assert events_of(business) == []

    assert staff_client.post(change_page, booking_form(name="Ball", **opened)).status_code == 302
    assert events_of(business) == [
        ("booking.updated", {"booking": booking_body(api, booking.pk), "changed_fields": ["name"]})
    ]


def test_admin_change_status_page_writes_status_changed(staff_client, api, business, make_booking):
    booking = make_booking()

    response = staff_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/", {"status": "tentative"}
    )
    assert response.status_code == 302

    [entry] = history_body(api, booking.pk)
    assert entry["source"] == "admin"
    assert events_of(business) == [
        ("booking.status_changed", {"booking": booking_body(api, booking.pk), "change": entry})
    ]


def test_admin_delete_page_writes_booking_deleted(staff_client, api, business, make_booking):
    booking = make_booking()
    before = booking_body(api, booking.pk)

    response = staff_client.post(f"/admin/bookings/booking/{booking.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302

    assert events_of(business) == [("booking.deleted", {"booking": before})]


def test_admin_delete_selected_writes_booking_deleted_for_each_in_id_order(
    staff_client, api, business, make_booking
):
    bookings = [make_booking(name=f"Gala {n}") for n in range(3)]
    before = [booking_body(api, booking.pk) for booking in bookings]

    response = staff_client.post(
        "/admin/bookings/booking/",
        {
            "action": "delete_selected",
            "_selected_action": [booking.pk for booking in reversed(bookings)],
            "post": "yes",
        },
    )
    assert response.status_code == 302

    assert not Booking.objects.exists()
    assert events_of(business) == [("booking.deleted", {"booking": body}) for body in before]


# --- statuses ---------------------------------------------------------------------------


def status_object(api, status_id: int) -> dict:
    return next(item for item in api.get("/status").json() if item["statusId"] == status_id)


def test_first_post_writes_status_created_per_copy_in_list_order_then_the_new_one(api, business):
    response = api.post(
        "/status",
        {"businessId": business.pk, "status": "OPEN", "subStatus": "Ready for clients"},
        format="json",
    )
    assert response.status_code == 201

    listed = api.get("/status").json()  # every status of the list is active here
    assert events_of(business) == [("status.created", {"status": item}) for item in listed]
    assert listed[-1] == response.json()


def test_first_post_of_a_shared_name_writes_that_copy_with_the_posted_values(api, business):
    response = api.post(
        "/status",
        {"businessId": business.pk, "status": "OPEN", "subStatus": "RUNNING_LATE", "sortOrder": 99},
        format="json",
    )
    assert response.status_code == 201

    created = [data["status"] for _type, data in events_of(business)]
    assert len(created) == Status.objects.shared().count()
    assert response.json() in created


def test_later_post_and_put_write_status_created_and_status_updated(api, api_user, business):
    fork_shared_statuses(business, by=api_user)
    Event.objects.all().delete()

    posted = api.post(
        "/status", {"businessId": business.pk, "status": "OPEN", "subStatus": "New"}
    ).json()
    put = api.put(
        "/status",
        {**posted, "subStatus": "Renamed", "active": False},
        format="json",
    )
    assert put.status_code == 200

    assert events_of(business) == [
        ("status.created", {"status": posted}),
        ("status.updated", {"status": put.json()}),
    ]


def test_a_refused_status_write_writes_no_event(api, api_user, business, other_business):
    fork_shared_statuses(business, by=api_user)
    Event.objects.all().delete()
    taken = {"businessId": business.pk, "status": "OPEN", "subStatus": "RUNNING_LATE"}
    shared = Status.objects.shared().first()

    assert api.post("/status", taken, format="json").status_code == 409
    assert api.post("/status", {**taken, "subStatus": ""}, format="json").status_code == 400
    assert api.put("/status", {**taken, "statusId": shared.pk}, format="json").status_code == 403
    assert api.put("/status", {**taken, "statusId": 10**9}, format="json").status_code == 404
    assert not Event.objects.exists()


def test_fork_writes_status_created_per_copy_in_list_order(api, business):
    copies = fork_shared_statuses(business)

    assert [data["status"]["statusId"] for _type, data in events_of(business)] == [
        copy.pk for copy in copies
    ]
    assert {type_ for type_, _data in events_of(business)} == {"status.created"}
    assert StatusList.of(business).fork() == []  # a second fork copies and writes nothing
    assert len(events_of(business)) == len(copies)


def test_admin_status_delete_writes_status_deleted_with_the_status_as_it_was(
    staff_client, api, business
):
    fork_shared_statuses(business)
    status = Status.objects.for_business(business.pk).get(sub_status="RUNNING_LATE")
    before = status_object(api, status.pk)
    Event.objects.all().delete()

    response = staff_client.post(f"/admin/statuses/status/{status.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302

    assert not Status.objects.filter(pk=status.pk).exists()
    assert events_of(business) == [("status.deleted", {"status": before})]


def test_admin_status_delete_selected_writes_status_deleted_for_each(staff_client, business):
    fork_shared_statuses(business)
    chosen = list(Status.objects.for_business(business.pk).order_by("pk")[:2])
    Event.objects.all().delete()

    response = staff_client.post(
        "/admin/statuses/status/",
        {"action": "delete_selected", "_selected_action": [s.pk for s in chosen], "post": "yes"},
    )
    assert response.status_code == 302

    assert [(type_, data["status"]["statusId"]) for type_, data in events_of(business)] == [
        ("status.deleted", status.pk) for status in chosen
    ]


def test_superusers_edits_of_the_shared_list_write_no_event(db):
    shared = StatusList.of(None)
    added = shared.add({"status": "OPEN", "sub_status": "Shared extra"}, by="root")
    shared.update(added.pk, {"status": "OPEN", "sub_status": "Shared renamed"}, by="root")
    shared.remove(added.pk)

    assert not Event.objects.exists()
