"""The resources and appointments API (SPEC §14.1, §14.2, §17): shapes, validation,
filters, conditional requests, Idempotency-Key, history, and the methods there are
not."""

import datetime as dt

import pytest

from appointments.actions import RESOURCES_PER_BUSINESS, create_resource
from appointments.models import Appointment, Resource
from events.models import Event
from tests.conftest import appointment_rows

pytestmark = pytest.mark.django_db

APPOINTMENT_KEYS = [
    "id",
    "resource_id",
    "starts_at",
    "ends_at",
    "client_name",
    "client_email",
    "notes",
    "status",
    "sub_status",
    "status_id",
    "status_at",
    "completed_at",
    "no_show_at",
    "cancelled_at",
    "created_at",
    "updated_at",
    "version",
]


# --- resources -----------------------------------------------------------------------


def test_a_resource_is_created_read_listed_and_renamed(api, business):
    created = api.post("/v2/resources", {"name": "Room B"}, format="json")

    assert created.status_code == 201
    resource = created.json()
    assert list(resource) == ["id", "name", "active", "created_at"]
    assert (resource["name"], resource["active"]) == ("Room B", True)
    assert api.get(f"/v2/resources/{resource['id']}").json() == resource
    renamed = api.patch(f"/v2/resources/{resource['id']}", {"name": "Room C"}, format="json")
    assert renamed.json()["name"] == "Room C"
    types = list(Event.objects.filter(business=business).values_list("type", flat=True))
    assert types == ["resource.created", "resource.updated"]


def test_the_resource_list_is_by_name_then_id_with_an_active_filter(api, business):
    for name in ["Chair 2", "Room A", "Chair 1"]:
        create_resource(business.pk, name=name)
    retired = create_resource(business.pk, name="Annex", active=False)

    everything = api.get("/v2/resources").json()
    active = api.get("/v2/resources?active=true").json()["results"]
    inactive = api.get("/v2/resources?active=false").json()["results"]

    assert list(everything) == ["results"]
    assert [r["name"] for r in everything["results"]] == ["Annex", "Chair 1", "Chair 2", "Room A"]
    assert [r["name"] for r in active] == ["Chair 1", "Chair 2", "Room A"]
    assert [r["id"] for r in inactive] == [retired.pk]
    assert api.get("/v2/resources?active=maybe").status_code == 400


@pytest.mark.parametrize("name", ["Chair 1", "CHAIR 1", "chair 1"])
def test_resource_names_are_unique_ignoring_case(api, business, chair, name):
    response = api.post("/v2/resources", {"name": name}, format="json")

    assert response.status_code == 409
    assert "name" in response.json()
    assert Resource.objects.count() == 1


def test_a_rename_onto_another_name_is_409(api, business, chair):
    other = create_resource(business.pk, name="Chair 2")

    response = api.patch(f"/v2/resources/{other.pk}", {"name": "chair 1"}, format="json")

    assert response.status_code == 409
    other.refresh_from_db()
    assert other.name == "Chair 2"


def test_the_501st_resource_is_409(api, business):
    Resource.objects.bulk_create(
        Resource(business=business, name=f"Chair {n}") for n in range(RESOURCES_PER_BUSINESS)
    )

    response = api.post("/v2/resources", {"name": "One too many"}, format="json")

    assert response.status_code == 409
    assert Resource.objects.count() == RESOURCES_PER_BUSINESS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"name": "Bad\x00name"}, "name"),
        ({"name": "Chair", "active": "yes"}, "active"),
        ({"name": "Chair", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_resource_is_400_naming_the_field(api, business, body, field):
    response = api.post("/v2/resources", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Resource.objects.exists()


def test_a_resource_patch_that_changes_nothing_writes_nothing(api, business, chair):
    before = appointment_rows(business)

    response = api.patch(f"/v2/resources/{chair.pk}", {"name": "Chair 1"}, format="json")

    assert response.status_code == 200
    assert appointment_rows(business) == before


@pytest.mark.parametrize("path", ["/v2/resources/{id}", "/v2/appointments/{id}"])
def test_delete_is_405(api, chair, book, path):
    appointment = book().json()
    record = chair.pk if "resources" in path else appointment["id"]

    response = api.delete(path.format(id=record))

    assert response.status_code == 405
    assert Resource.objects.exists()
    assert Appointment.objects.exists()


# --- appointments: create and read -------------------------------------------------------


def test_create_answers_the_appointment_with_its_etag(api, book, chair):
    response = book(client_email="ada@example.com", notes="First visit")

    assert response.status_code == 201
    body = response.json()
    assert list(body) == APPOINTMENT_KEYS
    assert body["resource_id"] == chair.pk
    assert (body["starts_at"], body["ends_at"]) == ("2025-03-04T09:00:00Z", "2025-03-04T09:30:00Z")
    assert (body["status"], body["sub_status"], body["version"]) == ("OPEN", "OPEN", 1)
    assert response["ETag"] == '"1"'
    shown = api.get(f"/v2/appointments/{body['id']}")
    assert shown.json() == body
    assert shown["ETag"] == '"1"'


def test_offsets_are_converted_to_utc(book):
    body = book(starts_at="2025-03-04T10:00:00+01:00", ends_at="2025-03-04T05:30:00-04:00").json()

    assert (body["starts_at"], body["ends_at"]) == ("2025-03-04T09:00:00Z", "2025-03-04T09:30:00Z")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ends_at": "2025-03-04T09:00:00Z"}, "ends_at"),
        ({"ends_at": "2025-03-04T08:00:00Z"}, "ends_at"),
        ({"ends_at": "2025-03-05T09:00:01Z"}, "ends_at"),
        ({"starts_at": "1899-12-31T23:00:00Z", "ends_at": "1899-12-31T23:30:00Z"}, "starts_at"),
        ({"starts_at": "2025-03-04"}, "starts_at"),
        ({"starts_at": None}, "starts_at"),
        ({"client_name": ""}, "client_name"),
        ({"client_name": "x" * 201}, "client_name"),
        ({"client_email": "not an address"}, "client_email"),
        ({"client_email": 5}, "client_email"),
        ({"notes": 5}, "notes"),
        ({"resource_id": "1"}, "resource_id"),
        ({"resource_id": 0}, "resource_id"),
        ({"resource_id": 999_999}, "resource_id"),
        ({"completed_at": "2025-03-04T09:30:00Z"}, "completed_at"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_create_is_400_naming_the_field_and_writes_nothing(business, book, fields, field):
    before = appointment_rows(business)

    response = book(**fields)

    assert response.status_code == 400
    assert field in response.json()
    assert appointment_rows(business) == before


def test_a_24_hour_appointment_is_allowed(book):
    assert book(ends_at="2025-03-05T09:00:00Z").status_code == 201


def test_another_business_s_resource_is_unknown(business, other_business, book):
    theirs = create_resource(other_business.pk, name="Their chair")

    response = book(resource_id=theirs.pk)

    assert response.status_code == 400
    assert "resource_id" in response.json()


def test_a_retired_resource_takes_no_new_appointment_and_no_move(api, business, book, chair):
    kept = book().json()
    retired = create_resource(business.pk, name="Chair 9", active=False)

    created = book(
        resource_id=retired.pk, starts_at="2025-03-04T10:00:00Z", ends_at="2025-03-04T10:30:00Z"
    )
    moved = api.patch(f"/v2/appointments/{kept['id']}", {"resource_id": retired.pk}, format="json")
    api.patch(f"/v2/resources/{chair.pk}", {"active": False}, format="json")
    edited = api.patch(f"/v2/appointments/{kept['id']}", {"notes": "Still here"}, format="json")

    assert created.status_code == moved.status_code == 400
    assert "resource_id" in created.json()
    assert "resource_id" in moved.json()
    assert edited.status_code == 200
    assert edited.json()["resource_id"] == chair.pk


def test_without_a_resource(book):
    response = book(resource_id=None)

    assert response.status_code == 201
    assert response.json()["resource_id"] is None


# --- the list ------------------------------------------------------------------------


def start(day: int, hour: int) -> dict:
    starts = dt.datetime(2025, 3, day, hour, tzinfo=dt.UTC)
    return {
        "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(minutes=30)).isoformat(),
    }


def test_the_list_is_by_start_then_id_and_pages_with_a_cursor(api, book):
    ids = [book(**start(4, hour)).json()["id"] for hour in (11, 9, 10)]

    first = api.get("/v2/appointments?page_size=2").json()
    second = api.get(first["next"]).json()

    assert [a["id"] for a in first["results"] + second["results"]] == [ids[1], ids[2], ids[0]]
    assert second["next"] is None


def test_deleted_appointments_are_left_out_unless_a_status_filter_asks(api, book):
    kept = book(**start(4, 9)).json()
    gone = api.post(
        f"/v2/appointments/{book(**start(4, 10)).json()['id']}/change_status",
        {"status": "DELETED", "sub_status": "DELETED"},
        format="json",
    ).json()

    def listed(query=""):
        return [a["id"] for a in api.get(f"/v2/appointments{query}").json()["results"]]

    assert listed() == [kept["id"]]
    assert listed("?status=DELETED") == [gone["id"]]
    assert listed(f"?status_id={gone['status_id']}") == [gone["id"]]
    assert listed("?status=OPEN,DELETED") == [kept["id"], gone["id"]]
    assert listed("?status=OPEN&status=DELETED") == [kept["id"], gone["id"]]


def test_filters_by_resource_and_start(api, business, book, chair):
    room = create_resource(business.pk, name="Room")
    on_chair = book(**start(4, 9)).json()
    in_room = book(resource_id=room.pk, **start(5, 9)).json()

    def listed(query):
        response = api.get(f"/v2/appointments?{query}")
        assert response.status_code == 200, response.content
        return [a["id"] for a in response.json()["results"]]

    assert listed(f"resource_id={room.pk}") == [in_room["id"]]
    assert listed("starts_at_after=2025-03-05T00:00:00Z") == [in_room["id"]]
    assert listed("starts_at_before=2025-03-05T09:00:00%2B01:00") == [on_chair["id"]]
    assert listed("starts_at_after=2025-03-04T09:00:00Z&starts_at_before=2025-03-04T09:00:00Z") == [
        on_chair["id"]
    ]


def test_date_is_a_day_in_the_business_s_zone(api, business, book):
    business.set_timezone("America/New_York")  # UTC-5 in early March
    late_evening = book(starts_at="2025-03-05T03:00:00Z", ends_at="2025-03-05T03:30:00Z").json()
    next_morning = book(starts_at="2025-03-05T14:00:00Z", ends_at="2025-03-05T14:30:00Z").json()

    def on(day, extra=""):
        return [a["id"] for a in api.get(f"/v2/appointments?date={day}{extra}").json()["results"]]

    assert on("2025-03-04") == [late_evening["id"]]
    assert on("2025-03-05") == [next_morning["id"]]
    assert on("2025-03-05", "&status=CANCELLED") == []


def test_date_on_a_dst_change_covers_its_23_hours(api, business, book):
    business.set_timezone("Europe/Paris")  # 2025-03-30: 02:00 becomes 03:00
    first = book(starts_at="2025-03-29T23:00:00Z", ends_at="2025-03-29T23:30:00Z").json()
    last = book(starts_at="2025-03-30T21:30:00Z", ends_at="2025-03-30T21:45:00Z").json()
    book(starts_at="2025-03-30T22:00:00Z", ends_at="2025-03-30T22:30:00Z")  # 31 March

    listed = api.get("/v2/appointments?date=2025-03-30").json()["results"]

    assert [a["id"] for a in listed] == [first["id"], last["id"]]


@pytest.mark.parametrize(
    "query",
    [
        "date=2025-3-4",
        "date=04/03/2025",
        "date=2025-02-30",
        "date=1899-12-31",
        "status=open",
        "status_id=x",
        "status_id=99999999999999999999",
        "resource_id=-1",
        "starts_at_after=yesterday",
        "colour=red",
    ],
)
def test_a_bad_filter_is_400_naming_it(api, query):
    response = api.get(f"/v2/appointments?{query}")

    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


# --- PATCH, ETag and If-Match ---------------------------------------------------------------


def test_patch_edits_the_ordinary_fields_and_writes_an_event(api, business, book):
    appointment = book().json()

    response = api.patch(
        f"/v2/appointments/{appointment['id']}",
        {"client_name": "Ada King", "notes": "Allergic to latex", "client_email": ""},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["client_name"], body["notes"], body["version"]) == (
        "Ada King",
        "Allergic to latex",
        2,
    )
    assert response["ETag"] == '"2"'
    event = Event.objects.filter(type="appointment.updated").get()
    assert event.data["changed_fields"] == ["client_name", "notes"]


def test_a_patch_that_changes_nothing_writes_nothing(api, business, book):
    appointment = book().json()
    before = appointment_rows(business)

    response = api.patch(
        f"/v2/appointments/{appointment['id']}", {"client_name": "Ada Lovelace"}, format="json"
    )

    assert response.status_code == 200
    assert appointment_rows(business) == before


@pytest.mark.parametrize(
    "field", ["status", "sub_status", "status_id", "status_at", "note", "cancelled_at"]
)
def test_a_status_field_in_a_patch_is_400_pointing_to_change_status(api, business, book, field):
    appointment = book().json()
    before = appointment_rows(business)

    response = api.patch(f"/v2/appointments/{appointment['id']}", {field: "OPEN"}, format="json")

    assert response.status_code == 400
    assert "change_status" in response.json()[field][0]
    assert appointment_rows(business) == before


def test_patch_times_are_checked_together(api, book):
    appointment = book().json()

    response = api.patch(
        f"/v2/appointments/{appointment['id']}",
        {"starts_at": "2025-03-04T10:00:00Z"},
        format="json",
    )

    assert response.status_code == 400
    assert "ends_at" in response.json()


def test_if_match_on_patch_and_change_status(api, business, book):
    appointment = book().json()
    path = f"/v2/appointments/{appointment['id']}"
    before = appointment_rows(business)

    stale = api.patch(path, {"notes": "x"}, format="json", HTTP_IF_MATCH='"2"')
    stale_change = api.post(
        f"{path}/change_status",
        {"status": "CANCELLED", "sub_status": "CANCELLED"},
        format="json",
        HTTP_IF_MATCH='"7"',
    )

    assert stale.status_code == stale_change.status_code == 412
    assert stale["ETag"] == '"1"'
    assert appointment_rows(business) == before
    fresh = api.patch(path, {"notes": "x"}, format="json", HTTP_IF_MATCH='"1"')
    assert fresh.status_code == 200
    changed = api.post(
        f"{path}/change_status",
        {"status": "CANCELLED", "sub_status": "CANCELLED"},
        format="json",
        HTTP_IF_MATCH='"2"',
    )
    assert changed.status_code == 200
    assert changed["ETag"] == '"3"'


def test_if_none_match_is_a_304(api, book):
    appointment = book().json()
    path = f"/v2/appointments/{appointment['id']}"

    assert api.get(path, HTTP_IF_NONE_MATCH='"1"').status_code == 304
    assert api.get(path, HTTP_IF_NONE_MATCH='W/"1"').status_code == 304
    assert api.get(path, HTTP_IF_NONE_MATCH='"2"').status_code == 200


def test_checks_run_404_then_400_then_412(api, book):
    appointment = book().json()
    path = f"/v2/appointments/{appointment['id']}"

    missing = api.patch(
        "/v2/appointments/999999", {"ends_at": "bad"}, format="json", HTTP_IF_MATCH='"9"'
    )
    bad = api.patch(path, {"ends_at": "bad"}, format="json", HTTP_IF_MATCH='"9"')

    assert (missing.status_code, missing.json()) == (404, {"detail": "Not found."})
    assert bad.status_code == 400


@pytest.mark.parametrize("path", ["/v2/appointments/{}", "/v2/resources/{}"])
@pytest.mark.parametrize("pk", ["999999", "9223372036854775808"])
def test_an_unknown_id_is_404_not_found(api, path, pk):
    response = api.get(path.format(pk))

    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


# --- Idempotency-Key -------------------------------------------------------------------


def test_a_create_replayed_with_its_key_answers_the_same_bytes_and_writes_nothing(api, business):
    body = {
        "starts_at": "2025-03-04T09:00:00Z",
        "ends_at": "2025-03-04T09:30:00Z",
        "client_name": "Ada",
    }
    first = api.post("/v2/appointments", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    rows = appointment_rows(business)

    again = api.post("/v2/appointments", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    other = api.post(
        "/v2/appointments",
        {**body, "client_name": "Bob"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="create-1",
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again["ETag"] == first["ETag"] == '"1"'
    assert other.status_code == 422
    assert appointment_rows(business) == rows


def test_a_change_status_replayed_with_its_key_writes_nothing(api, business, book):
    appointment = book().json()
    path = f"/v2/appointments/{appointment['id']}/change_status"
    body = {"status": "CANCELLED", "sub_status": "CANCELLED"}
    first = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="cancel-1")
    rows = appointment_rows(business)

    again = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="cancel-1")

    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert appointment_rows(business) == rows


# --- history ----------------------------------------------------------------------------


def test_status_history_is_oldest_first_by_recording_and_paginated(api, book, api_user):
    appointment = book().json()
    path = f"/v2/appointments/{appointment['id']}"
    for moment in ["2025-03-04T09:40:00Z", "2025-03-04T09:35:00Z"]:  # a backdated correction
        api.post(
            f"{path}/change_status",
            {"status": "COMPLETED", "sub_status": "COMPLETED", "status_at": moment},
            format="json",
        )

    first_page = api.get(f"{path}/status_history?page_size=2").json()
    rest = api.get(first_page["next"]).json()
    entries = first_page["results"] + rest["results"]

    assert [e["status_at"] for e in entries[1:]] == ["2025-03-04T09:40:00Z", "2025-03-04T09:35:00Z"]
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    assert list(entries[0]) == [
        "id",
        "from_status",
        "from_sub_status",
        "from_status_id",
        "to_status",
        "to_sub_status",
        "to_status_id",
        "status_at",
        "recorded_at",
        "changed_by",
        "source",
        "note",
    ]
    assert (entries[0]["from_status"], entries[0]["source"], entries[0]["changed_by"]) == (
        None,
        "api",
        api_user.username,
    )


def test_the_creation_s_moment_and_note_may_be_given(api, book):
    created = book(status_at="2025-03-01T12:00:00Z", note="Booked by phone").json()

    [entry] = api.get(f"/v2/appointments/{created['id']}/status_history").json()["results"]
    assert created["status_at"] == entry["status_at"] == "2025-03-01T12:00:00Z"
    assert entry["note"] == "Booked by phone"
