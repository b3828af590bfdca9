"""The bookings API over HTTP (SPEC §3)."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from bookings.filters import BookingFilter
from bookings.models import Booking, BookingStatusChange
from core.renderers import JSONRenderer


def snapshot(booking: Booking) -> dict:
    """Every column of a booking plus its history, to prove a refused request wrote nothing."""
    booking.refresh_from_db()
    row = {field.attname: getattr(booking, field.attname) for field in Booking._meta.fields}
    history = list(booking.status_changes.values_list("id", "from_status", "to_status"))
    return {"row": row, "history": history}


# --- the seed's examples ----------------------------------------------------------


@pytest.mark.django_db
def test_seed_example_status_at_sets_definite_and_preserves_tentative(api, make_booking):
    booking = make_booking()
    api.post(
        f"/v2/bookings/{booking.pk}/change_status",
        {"status": "tentative", "status_at": "2025-01-10T09:15:00Z"},
    )

    response = api.post(
        f"/v2/bookings/{booking.pk}/change_status",
        {"status": "definite", "status_at": "2025-01-15T14:30:00Z"},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == booking.pk
    assert body["status"] == "definite"
    assert body["definite_date"] == "2025-01-15"
    assert body["definite_at"] == "2025-01-15T14:30:00Z"
    assert body["tentative_date"] == "2025-01-10"
    assert body["tentative_at"] == "2025-01-10T09:15:00Z"
    assert body["lost_date"] is None
    assert body["lost_at"] is None
    booking.refresh_from_db()
    assert booking.definite_at == dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_seed_example_status_date_means_start_of_that_day(api, make_booking):
    booking = make_booking()
    response = api.post(
        f"/v2/bookings/{booking.pk}/change_status",
        {"status": "tentative", "status_date": "2025-01-10"},
    )

    assert response.status_code == 200
    assert response.json()["tentative_date"] == "2025-01-10"
    assert response.json()["tentative_at"] == "2025-01-10T00:00:00Z"


@pytest.mark.django_db
def test_seed_example_every_response_has_all_status_fields(api, make_booking):
    booking = make_booking()
    body = api.get(f"/v2/bookings/{booking.pk}").json()
    for field in [
        "id",
        "status",
        "tentative_date",
        "definite_date",
        "lost_date",
        "tentative_at",
        "definite_at",
        "lost_at",
    ]:
        assert field in body


# --- change_status: moments ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2025-01-10T09:15:00+02:00", "2025-01-10T07:15:00Z"),
        ("2025-01-10T23:30:00-05:00", "2025-01-11T04:30:00Z"),
        ("2025-01-10T09:15:00", "2025-01-10T09:15:00Z"),
        ("2025-01-10T09:15:00.250Z", "2025-01-10T09:15:00.250000Z"),
        ("2024-02-29T12:00:00+14:00", "2024-02-28T22:00:00Z"),
    ],
)
def test_status_at_offsets_are_converted_to_utc(api, make_booking, sent, stored):
    booking = make_booking()
    response = api.post(
        f"/v2/bookings/{booking.pk}/change_status", {"status": "lost", "status_at": sent}
    )

    assert response.status_code == 200
    assert response.json()["lost_at"] == stored
    assert response.json()["lost_date"] == stored[:10]


@pytest.mark.django_db
def test_both_moments_are_accepted_when_they_agree(api, make_booking):
    booking = make_booking()
    response = api.post(
        f"/v2/bookings/{booking.pk}/change_status",
        {"status": "definite", "status_at": "2025-01-15T14:30:00Z", "status_date": "2025-01-15"},
    )

    assert response.status_code == 200
    assert response.json()["definite_at"] == "2025-01-15T14:30:00Z"


@pytest.mark.django_db
def test_null_moments_count_as_absent(api, make_booking):
    booking = make_booking()
    response = api.post(
        f"/v2/bookings/{booking.pk}/change_status",
        {"status": "tentative", "status_at": None, "status_date": None},
    )

    assert response.status_code == 200
    tentative_at = dt.datetime.fromisoformat(response.json()["tentative_at"])
    assert abs(tentative_at - timezone.now()) < dt.timedelta(seconds=30)


@pytest.mark.django_db
def test_change_status_records_the_caller_and_source_api(api, api_user, make_booking):
    booking = make_booking()
    api.post(f"/v2/bookings/{booking.pk}/change_status", {"status": "tentative"})

    entry = BookingStatusChange.objects.get(booking=booking)
    assert (entry.changed_by, entry.source) == (api_user.username, "api")


TOMORROW = (timezone.now() + dt.timedelta(days=2)).date().isoformat()
IN_AN_HOUR = (timezone.now() + dt.timedelta(hours=1)).isoformat()

BAD_CHANGE_STATUS_BODIES = [
    ({}, "status"),
    ({"status": "confirmed"}, "status"),
    ({"status": ""}, "status"),
    ({"status": None}, "status"),
    ({"status": 3}, "status"),
    ({"status": "TENTATIVE"}, "status"),
    ({"status": "tentative", "status_at": "2025-01-10"}, "status_at"),
    ({"status": "tentative", "status_at": ""}, "status_at"),
    ({"status": "tentative", "status_at": 1736500500}, "status_at"),
    ({"status": "tentative", "status_at": True}, "status_at"),
    ({"status": "tentative", "status_at": ["2025-01-10T09:15:00Z"]}, "status_at"),
    ({"status": "tentative", "status_at": "yesterday"}, "status_at"),
    ({"status": "tentative", "status_at": "2025-02-30T10:00:00Z"}, "status_at"),
    ({"status": "tentative", "status_at": "2025-01-10T25:00:00Z"}, "status_at"),
    ({"status": "tentative", "status_at": "2025-01-10T09:15:00\u0000Z"}, "status_at"),
    ({"status": "tentative", "status_at": "0001-01-01T00:00:00+14:00"}, "status_at"),
    ({"status": "tentative", "status_at": IN_AN_HOUR}, "status_at"),
    ({"status": "tentative", "status_at": "9999-12-31T23:59:59Z"}, "status_at"),
    ({"status": "tentative", "status_date": "2025-02-30"}, "status_date"),
    ({"status": "tentative", "status_date": "2025-1-10"}, "status_date"),
    ({"status": "tentative", "status_date": "10/01/2025"}, "status_date"),
    ({"status": "tentative", "status_date": "2025-01-10T00:00:00Z"}, "status_date"),
    ({"status": "tentative", "status_date": ""}, "status_date"),
    ({"status": "tentative", "status_date": 20250110}, "status_date"),
    ({"status": "tentative", "status_date": TOMORROW}, "status_date"),
    (
        {
            "status": "tentative",
            "status_at": "2025-01-10T23:30:00-05:00",
            "status_date": "2025-01-10",
        },
        "status_date",
    ),
    ({"status": "tentative", "note": "typo'd field"}, "note"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), BAD_CHANGE_STATUS_BODIES)
def test_bad_change_status_input_is_400_naming_the_field_and_writes_nothing(
    api, make_booking, body, field
):
    booking = make_booking()
    booking.change_status("tentative", at=dt.datetime(2025, 1, 5, tzinfo=dt.UTC))
    before = snapshot(booking)

    response = api.post(f"/v2/bookings/{booking.pk}/change_status", body)

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert snapshot(booking) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        ('{"status": ', "application/json", 400),
        ('["tentative"]', "application/json", 400),
        ('"tentative"', "application/json", 400),
        ("status=tentative", "application/x-www-form-urlencoded", 415),
        ("status: tentative", "text/plain", 415),
        (b'{"status": "tentative\xff"}', "application/json", 400),
    ],
)
def test_malformed_bodies_are_refused_and_write_nothing(
    api, make_booking, content, content_type, expected
):
    booking = make_booking()
    before = snapshot(booking)

    response = api.generic(
        "POST", f"/v2/bookings/{booking.pk}/change_status", content, content_type
    )

    assert response.status_code == expected
    assert snapshot(booking) == before


# --- CRUD ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_starts_as_lead_in_the_callers_business(api, business):
    response = api.post(
        "/v2/bookings",
        {
            "name": "Autumn gala",
            "starts_at": "2026-09-01T18:00:00Z",
            "ends_at": "2026-09-01T23:00:00Z",
            "guest_count": 80,
            "notes": "Vegetarian menu",
        },
    )

    assert response.status_code == 201
    body = response.json()
    booking = Booking.objects.get(pk=body["id"])
    assert booking.business == business
    assert booking.status == "lead"
    assert (booking.name, booking.guest_count, booking.notes) == (
        "Autumn gala",
        80,
        "Vegetarian menu",
    )
    assert body["starts_at"] == "2026-09-01T18:00:00Z"
    assert not booking.status_changes.exists()


@pytest.mark.django_db
def test_create_with_a_status_records_it_as_a_change_from_lead(api):
    response = api.post(
        "/v2/bookings",
        {"name": "Gala", "status": "tentative", "status_at": "2025-01-10T09:15:00Z"},
    )

    assert response.status_code == 201
    assert response.json()["status"] == "tentative"
    assert response.json()["tentative_at"] == "2025-01-10T09:15:00Z"
    entry = BookingStatusChange.objects.get(booking_id=response.json()["id"])
    assert (entry.from_status, entry.to_status, entry.source) == ("lead", "tentative", "api")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "nul\u0000byte"}, "name"),
        ({"name": "Gala", "guest_count": -1}, "guest_count"),
        ({"name": "Gala", "guest_count": 2**64}, "guest_count"),
        ({"name": "Gala", "guest_count": "many"}, "guest_count"),
        ({"name": "Gala", "starts_at": "2025-01-10"}, "starts_at"),
        (
            {
                "name": "Gala",
                "starts_at": "2025-01-10T10:00:00Z",
                "ends_at": "2025-01-10T09:00:00Z",
            },
            "ends_at",
        ),
        ({"name": "Gala", "status": "won"}, "status"),
        ({"name": "Gala", "status_at": "2025-01-10T09:15:00Z"}, "status"),
        ({"name": "Gala", "status": "lost", "status_at": IN_AN_HOUR}, "status_at"),
        ({"name": "Gala", "tentative_at": "2025-01-10T09:15:00Z"}, "tentative_at"),
        ({"name": "Gala", "business": 50222}, "business"),
        ({"name": "Gala", "notes": None}, "notes"),
    ],
)
def test_bad_create_input_is_400_naming_the_field_and_creates_nothing(api, body, field):
    response = api.post("/v2/bookings", body)

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Booking.objects.exists()
    assert not BookingStatusChange.objects.exists()


@pytest.mark.django_db
def test_read_only_fields_sent_on_create_are_ignored(api, make_booking):
    existing = make_booking()
    response = api.post(
        "/v2/bookings",
        {"name": "Gala", "id": existing.pk, "created_at": "2020-01-01T00:00:00Z"},
    )

    assert response.status_code == 201
    assert response.json()["id"] != existing.pk
    assert not response.json()["created_at"].startswith("2020")
    existing.refresh_from_db()
    assert existing.name == "Spring wedding"


@pytest.mark.django_db
def test_patch_edits_ordinary_fields(api, make_booking):
    booking = make_booking(guest_count=10)
    response = api.patch(f"/v2/bookings/{booking.pk}", {"guest_count": 12, "notes": "More chairs"})

    assert response.status_code == 200
    booking.refresh_from_db()
    assert (booking.guest_count, booking.notes, booking.name) == (
        12,
        "More chairs",
        "Spring wedding",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field",
    ["status", "status_at", "status_date", "tentative_at", "definite_date", "lost_at", "lost_date"],
)
def test_patch_with_a_status_field_is_400_pointing_to_change_status(api, make_booking, field):
    booking = make_booking()
    before = snapshot(booking)

    response = api.patch(f"/v2/bookings/{booking.pk}", {field: "2025-01-10", "notes": "changed"})

    assert response.status_code == 400
    assert "change_status" in response.json()[field][0]
    assert snapshot(booking) == before


@pytest.mark.django_db
def test_patch_ends_at_before_the_stored_starts_at_is_refused(api, make_booking):
    booking = make_booking(starts_at=dt.datetime(2025, 6, 1, 18, tzinfo=dt.UTC))
    response = api.patch(f"/v2/bookings/{booking.pk}", {"ends_at": "2025-06-01T17:00:00Z"})

    assert response.status_code == 400
    assert "ends_at" in response.json()
    booking.refresh_from_db()
    assert booking.ends_at is None


@pytest.mark.django_db
def test_put_is_not_offered(api, make_booking):
    booking = make_booking()
    response = api.put(f"/v2/bookings/{booking.pk}", {"name": "Replaced"})
    assert response.status_code == 405


@pytest.mark.django_db
def test_delete_removes_the_booking_and_its_history(api, make_booking):
    booking = make_booking()
    booking.change_status("tentative")

    response = api.delete(f"/v2/bookings/{booking.pk}")

    assert response.status_code == 204
    assert not Booking.objects.filter(pk=booking.pk).exists()
    assert not BookingStatusChange.objects.exists()


@pytest.mark.django_db
def test_status_history_lists_changes_oldest_first_as_recorded(api, make_booking, api_user):
    booking = make_booking()
    booking.change_status(
        "tentative", at=dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC), by=api_user
    )
    booking.change_status("definite", at=dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC))
    # A backdated correction appears where it was recorded, not where its moment falls.
    booking.change_status("tentative", at=dt.datetime(2024, 12, 1, tzinfo=dt.UTC))

    response = api.get(f"/v2/bookings/{booking.pk}/status_history")

    assert response.status_code == 200
    entries = response.json()["results"]
    assert [(e["from_status"], e["to_status"]) for e in entries] == [
        ("lead", "tentative"),
        ("tentative", "definite"),
        ("definite", "tentative"),
    ]
    assert entries[0]["status_at"] == "2025-01-10T09:15:00Z"
    assert entries[0]["changed_by"] == "JoeSchmo"
    assert entries[1]["changed_by"] is None
    assert entries[2]["status_at"] == "2024-12-01T00:00:00Z"
    assert set(entries[0]) == {
        "id",
        "from_status",
        "to_status",
        "status_at",
        "recorded_at",
        "changed_by",
        "source",
        "lost_reason",
        "lost_note",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/v2/bookings",
        "/v2/bookings/",
        "/v2/bookings/{pk}",
        "/v2/bookings/{pk}/",
        "/v2/bookings/{pk}/status_history",
        "/v2/bookings/{pk}/status_history/",
    ],
)
def test_paths_work_with_and_without_a_trailing_slash_and_never_redirect(api, make_booking, path):
    booking = make_booking()
    assert api.get(path.format(pk=booking.pk)).status_code == 200


@pytest.mark.django_db
def test_change_status_accepts_a_trailing_slash(api, make_booking):
    booking = make_booking()
    response = api.post(f"/v2/bookings/{booking.pk}/change_status/", {"status": "lost"})
    assert response.status_code == 200
    booking.refresh_from_db()
    assert booking.status == "lost"


@pytest.mark.django_db
@pytest.mark.parametrize("pk", ["0", "99999", str(2**63), str(2**70), "abc", "-1"])
def test_unknown_or_malformed_ids_are_404(api, pk):
    assert api.get(f"/v2/bookings/{pk}").status_code == 404
    assert api.post(f"/v2/bookings/{pk}/change_status", {"status": "lost"}).status_code == 404


# --- tenancy and authentication -----------------------------------------------------


def endpoint_calls(pk: int):
    return [
        ("get", f"/v2/bookings/{pk}", None),
        ("patch", f"/v2/bookings/{pk}", {"notes": "mine now"}),
        ("delete", f"/v2/bookings/{pk}", None),
        ("post", f"/v2/bookings/{pk}/change_status", {"status": "lost"}),
        ("get", f"/v2/bookings/{pk}/status_history", None),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("call", range(5))
def test_another_business_booking_is_404_on_every_endpoint_and_untouched(
    other_api, make_booking, call
):
    booking = make_booking()
    booking.change_status("tentative")
    before = snapshot(booking)
    method, path, body = endpoint_calls(booking.pk)[call]

    response = getattr(other_api, method)(path, body)

    assert response.status_code == 404
    assert snapshot(booking) == before


@pytest.mark.django_db
def test_the_list_shows_only_the_callers_bookings(api, other_api, make_booking, other_business):
    mine = make_booking(name="Mine")
    make_booking(name="Theirs", business=other_business)

    results = api.get("/v2/bookings").json()["results"]

    assert [b["id"] for b in results] == [mine.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [None, "Token not-a-real-key", "Token", "Token a b", "Bearer abc", "Token \u00e9t\u00e9"],
)
def test_missing_or_wrong_token_is_401_everywhere(client, make_booking, authorization):
    booking = make_booking()
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    calls = [("get", "/v2/bookings"), ("post", "/v2/bookings")] + [
        (method, path) for method, path, _ in endpoint_calls(booking.pk)
    ]
    for method, path in calls:
        response = getattr(client, method)(path, content_type="application/json", **headers)
        assert response.status_code == 401, (method, path)
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_a_user_without_a_business_is_refused(client, db):
    from accounts.models import ApiToken, User

    _, key = ApiToken.objects.issue(User.objects.create_user(username="floating"))
    response = client.get("/v2/bookings", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 403


@pytest.mark.django_db
def test_an_inactive_users_token_is_refused(api, api_user):
    api_user.is_active = False
    api_user.save()
    assert api.get("/v2/bookings").status_code == 401


# --- list: filters and pagination ---------------------------------------------------


@pytest.fixture
def bookings_in_each_status(make_booking):
    created = {}
    for status, at in [
        ("lead", None),
        ("tentative", dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC)),
        ("definite", dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC)),
        ("lost", dt.datetime(2025, 1, 20, 8, 0, tzinfo=dt.UTC)),
    ]:
        booking = make_booking(name=f"{status} booking")
        if at:
            booking.change_status(status, at=at)
        created[status] = booking.pk
    return created


def listed_statuses(api, query: str) -> list[str]:
    response = api.get(f"/v2/bookings?{query}")
    assert response.status_code == 200, response.json()
    return sorted(b["status"] for b in response.json()["results"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=tentative", ["tentative"]),
        ("status=tentative&status=lost", ["lost", "tentative"]),
        ("status=tentative,definite", ["definite", "tentative"]),
        ("status=lead,lost&status=definite", ["definite", "lead", "lost"]),
        ("tentative_at__gte=2025-01-10T09:15:00Z", ["tentative"]),
        ("tentative_at__gt=2025-01-10T09:15:00Z", []),
        # 10:15 at +01:00 is 09:15 UTC: the bound is converted, not read as local.
        ("tentative_at__lte=2025-01-10T10:15:00%2B01:00", ["tentative"]),
        ("tentative_at__lt=2025-01-10T10:15:00%2B01:00", []),
        (
            "definite_at__gte=2025-01-15T00:00:00Z&definite_at__lt=2025-01-16T00:00:00Z",
            ["definite"],
        ),
        ("lost_at__lt=2025-01-21T00:00:00Z", ["lost"]),
        ("lost_date=2025-01-20", ["lost"]),
        ("name=lead%20booking", ["lead"]),
    ],
)
def test_list_filters(api, bookings_in_each_status, query, expected):
    assert listed_statuses(api, query) == expected


@pytest.mark.django_db
def test_list_filters_on_created_at_range(api, bookings_in_each_status):
    now = timezone.now()
    before = (now - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    after = (now + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert len(listed_statuses(api, f"created_at__gte={before}&created_at__lte={after}")) == 4
    assert listed_statuses(api, f"created_at__gte={after}") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=won", "status"),
        ("tentative_at__gte=not-a-date", "tentative_at__gte"),
        ("guest_count__gte=many", "guest_count__gte"),
    ],
)
def test_invalid_filter_values_are_400_naming_the_parameter(api, query, field):
    response = api.get(f"/v2/bookings?{query}")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_list_pages_are_bounded_and_walkable(api, make_booking):
    for number in range(7):
        make_booking(name=f"booking {number}")

    first = api.get("/v2/bookings?page_size=3").json()
    assert len(first["results"]) == 3
    second = api.get(first["next"])
    assert len(second.json()["results"]) == 3
    names = [b["name"] for b in first["results"] + second.json()["results"]]
    assert names == [f"booking {n}" for n in range(6, 0, -1)], "newest first, no repeats"


@pytest.mark.django_db
def test_page_size_is_capped(api, make_booking, settings):
    from core.pagination import NewestFirstPagination

    for number in range(NewestFirstPagination.max_page_size + 5):
        make_booking(name=f"booking {number}")
    results = api.get("/v2/bookings?page_size=100000").json()["results"]
    assert len(results) == NewestFirstPagination.max_page_size


@pytest.mark.django_db
def test_datetimes_render_fractional_seconds_only_when_not_zero(api, make_booking):
    booking = make_booking()
    booking.change_status("tentative", at=dt.datetime(2025, 1, 10, 9, 15, 0, 500000, tzinfo=dt.UTC))
    booking.change_status("definite", at=dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC))

    body = api.get(f"/v2/bookings/{booking.pk}").json()

    assert body["tentative_at"] == "2025-01-10T09:15:00.500000Z"
    assert body["definite_at"] == "2025-01-15T14:30:00Z"
    assert body["created_at"].endswith("Z")


def test_moments_in_another_time_zone_are_represented_in_utc():
    from bookings.serializers import BookingSerializer

    paris = dt.timezone(dt.timedelta(hours=1))
    booking = Booking(
        id=1,
        name="x",
        starts_at=dt.datetime(2025, 6, 1, 19, 0, tzinfo=paris),
        created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        updated_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )

    body = json.loads(JSONRenderer().render(BookingSerializer(booking).data))

    assert body["starts_at"] == "2025-06-01T18:00:00Z"
    assert body["created_at"] == "2025-01-01T00:00:00Z"
    assert body["ends_at"] is None


@pytest.mark.django_db
def test_patch_never_writes_back_status_fields_it_read_before_a_concurrent_change(make_booking):
    """An edit of a stale instance (PATCH's and the admin's path) saves only what it
    changes: a status change made since it was read must survive."""
    booking = make_booking(notes="old")
    stale = Booking.objects.get(pk=booking.pk)
    booking.change_status("definite", at=dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC))

    assert stale.edit({"notes": "new"}) == ["notes"]

    booking.refresh_from_db()
    assert booking.notes == "new"
    assert booking.status == "definite"
    assert booking.definite_at == dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(BookingFilter.base_filters))
def test_every_filter_applies_when_its_parameter_is_given(api, bookings_in_each_status, name):
    # The filter set copies only the filters the query string names; none may be lost.
    if name.startswith("name"):
        assert listed_statuses(api, f"{name}=no%20such%20booking") == []
    else:
        response = api.get(f"/v2/bookings?{name}=not-a-value")
        assert response.status_code == 400
        assert name in response.json()


@pytest.mark.django_db
def test_filters_given_together_all_apply(api, bookings_in_each_status):
    assert listed_statuses(api, "status=tentative,lost&lost_at__lt=2025-01-21T00:00:00Z") == [
        "lost"
    ]
    assert listed_statuses(api, "status=lost&name=lead%20booking") == []
