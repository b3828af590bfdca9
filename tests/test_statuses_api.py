"""GET/POST/PUT /status (SPEC §4; seed 001): the shared default list, copy on first
write, and the checks on every write."""

import datetime as dt
import importlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from django.apps import apps
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, Business, User
from statuses.models import Status
from statuses.services import StatusList, fork_shared_statuses
from tests.conftest import requires_postgresql

STATUS_KEYS = {
    "active",
    "businessId",
    "createdDate",
    "createdUser",
    "dependsOn",
    "modifiedDate",
    "modifiedUser",
    "sortOrder",
    "status",
    "statusId",
    "statusType",
    "subStatus",
    "userSelectable",
}
# The seed's subStatus names, each under its natural status, in list order.
SHARED_DEFAULTS = [
    ("PENDING", "PENDING"),
    ("PENDING_CONFIRMATION", "PENDING_CONFIRMATION"),
    ("PENDING_WAITLIST", "PENDING_WAITLIST"),
    ("OPEN", "OPEN"),
    ("READ_ONLY", "READ_ONLY"),
    ("READ_ONLY_FREE", "READ_ONLY_FREE"),
    ("NO_SHOW", "NO_SHOW"),
    ("OPEN", "RUNNING_LATE"),
    ("OPEN", "INPROGRESS"),
    ("OPEN", "CHECKEDIN"),
    ("COMPLETED", "COMPLETED"),
    ("OPEN", "CONFIRMED"),
    ("CANCELLED", "CANCELLED"),
    ("DELETED", "DELETED"),
]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
BUSINESS_ID = 43111


def epoch_ms(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


def all_rows() -> list[dict]:
    """Every status row as it is: compared before and after a refused request."""
    return list(Status.objects.order_by("id").values())


def new_status(**overrides) -> dict:
    body = {"businessId": BUSINESS_ID, "status": "OPEN", "subStatus": "Ready for clients"}
    body.update(overrides)
    return body


def as_sent_back(status: Status, /, **overrides) -> dict:
    """The minimal PUT body for `status`, as a client holding it would send it."""
    body = {
        "statusId": status.pk,
        "businessId": status.business_id,
        "status": status.status,
        "subStatus": status.sub_status,
    }
    body.update(overrides)
    return body


def put_raw(api: APIClient, text: str):
    return api.generic("PUT", "/status", text, content_type="application/json")


def post_raw(api: APIClient, text: str):
    return api.generic("POST", "/status", text, content_type="application/json")


@pytest.fixture
def own_list(business, api_user) -> list[Status]:
    """The business's own list: a copy of the shared one."""
    return fork_shared_statuses(business, by=api_user)


@pytest.fixture
def own_status(own_list) -> Status:
    return next(status for status in own_list if status.sub_status == "RUNNING_LATE")


@pytest.fixture
def shared_status(db) -> Status:
    return Status.objects.shared().get(status="OPEN", sub_status="RUNNING_LATE")


# --- GET /status --------------------------------------------------------------------


def test_get_without_token_is_401(client):
    response = client.get("/status")

    assert response.status_code == 401


def test_get_before_any_post_returns_the_shared_defaults_in_seed_order(api):
    response = api.get("/status")

    assert response.status_code == 200
    assert [(s["status"], s["subStatus"]) for s in response.json()] == SHARED_DEFAULTS
    assert [s["sortOrder"] for s in response.json()] == list(range(1, 15))
    assert {s["businessId"] for s in response.json()} == {None}


def test_get_returns_exactly_the_13_keys_with_dates_as_epoch_milliseconds(api, own_list):
    response = api.get("/status")

    assert response.status_code == 200
    first = response.json()[0]
    assert set(first) == STATUS_KEYS
    assert first["createdDate"] == epoch_ms(own_list[0].created_at)
    assert type(first["createdDate"]) is int
    assert first["modifiedDate"] is None
    assert first["statusType"] == "APPOINTMENT"
    assert first["dependsOn"] is None


def test_get_returns_the_own_list_once_the_business_has_one(api, own_list, business):
    response = api.get("/status")

    assert response.status_code == 200
    assert {s["businessId"] for s in response.json()} == {business.pk}
    assert [s["statusId"] for s in response.json()] == [s.pk for s in own_list]


def test_get_leaves_out_inactive_statuses(api, own_status):
    StatusList.of(own_status.business_id).update(own_status.pk, {"active": False}, by=None)

    response = api.get("/status")

    assert response.status_code == 200
    assert own_status.pk not in [s["statusId"] for s in response.json()]
    assert len(response.json()) == len(SHARED_DEFAULTS) - 1


def test_get_returns_an_empty_own_list_rather_than_the_shared_one(api, own_list, business):
    Status.objects.for_business(business.pk).update(active=False)

    response = api.get("/status")

    assert response.status_code == 200
    assert response.json() == []


def test_get_orders_by_sort_order_then_status_id(api, own_list, business):
    Status.objects.for_business(business.pk).update(sort_order=7)
    last = own_list[0]
    StatusList.of(last.business_id).update(last.pk, {"sort_order": 8}, by=None)

    response = api.get("/status")

    ids = [s["statusId"] for s in response.json()]
    assert ids == sorted(s.pk for s in own_list if s.pk != last.pk) + [last.pk]


def test_get_never_shows_another_business_statuses(api, other_business):
    fork_shared_statuses(other_business)

    response = api.get("/status")

    assert response.status_code == 200
    assert {s["businessId"] for s in response.json()} == {None}


def test_get_accepts_a_trailing_slash_without_redirect(api):
    response = api.get("/status/")

    assert response.status_code == 200
    assert len(response.json()) == len(SHARED_DEFAULTS)


@pytest.mark.query_budget("get", "/status")
@pytest.mark.parametrize("extra_statuses", [0, 1, 40])
def test_get_takes_the_same_queries_whatever_the_list_length(
    api, own_list, business, extra_statuses, django_assert_num_queries
):
    Status.objects.bulk_create(
        Status(business=business, status="OPEN", sub_status=f"Extra {n}", sort_order=100 + n)
        for n in range(extra_statuses)
    )

    with django_assert_num_queries(2):  # the token, then the list in one query
        response = api.get("/status")

    assert len(response.json()) == len(SHARED_DEFAULTS) + extra_statuses


def test_get_of_shared_defaults_takes_the_same_queries(api, django_assert_num_queries):
    # the token; the business's own list (none); the shared list
    with django_assert_num_queries(3):
        response = api.get("/status")

    assert len(response.json()) == len(SHARED_DEFAULTS)


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_other_methods_are_405(api, method):
    response = getattr(api, method)("/status", {}, format="json")

    assert response.status_code == 405


# --- POST /status: the first one forks the shared list -------------------------------


def test_first_post_copies_the_shared_list_and_adds_the_status(api, business):
    response = api.post("/status", new_status(), format="json")

    assert response.status_code == 201
    own = Status.objects.for_business(business.pk).in_list_order()
    assert [(s.status, s.sub_status) for s in own] == [
        *SHARED_DEFAULTS,
        ("OPEN", "Ready for clients"),
    ]
    assert Status.objects.shared().count() == len(SHARED_DEFAULTS), "shared list untouched"
    assert response.json()["statusId"] == own.last().pk


def test_first_post_copies_carry_the_fork_time_and_the_posting_user(api, business):
    before = timezone.now()

    response = api.post("/status", new_status(), format="json")

    assert response.status_code == 201
    copies = Status.objects.for_business(business.pk).exclude(pk=response.json()["statusId"])
    assert {c.created_user for c in copies} == {"JoeSchmo"}
    assert len({c.created_at for c in copies}) == 1
    assert before <= copies[0].created_at <= timezone.now()
    assert {(c.modified_at, c.modified_user) for c in copies} == {(None, None)}


def test_first_post_copies_inactive_shared_statuses_too(api, business):
    Status.objects.shared().filter(sub_status="NO_SHOW").update(active=False)

    response = api.post("/status", new_status(), format="json")

    assert response.status_code == 201
    copy = Status.objects.for_business(business.pk).get(sub_status="NO_SHOW")
    assert copy.active is False


def test_first_post_of_a_shared_name_makes_the_posted_values_that_copy(api, business):
    body = new_status(subStatus="RUNNING_LATE", sortOrder=3, userSelectable=False)

    response = api.post("/status", body, format="json")

    assert response.status_code == 201
    own = Status.objects.for_business(business.pk)
    assert own.count() == len(SHARED_DEFAULTS), "no second RUNNING_LATE"
    copy = own.get(status="OPEN", sub_status="RUNNING_LATE")
    assert response.json()["statusId"] == copy.pk
    assert (copy.sort_order, copy.user_selectable, copy.active) == (3, False, True)
    assert copy.created_user == "JoeSchmo"


def test_first_post_of_a_shared_name_keeps_the_copy_values_not_posted(api, business):
    response = api.post("/status", new_status(subStatus="RUNNING_LATE"), format="json")

    assert response.status_code == 201
    assert response.json()["sortOrder"] == 8


def test_post_of_the_seed_example_body_is_201(api, business):
    seed_body = {
        "active": True,
        "businessId": BUSINESS_ID,
        "dependsOn": None,
        "sortOrder": 7,
        "status": "OPEN",
        "statusId": None,
        "statusType": "APPOINTMENT",
        "subStatus": "DOZING",
        "userSelectable": True,
    }

    response = api.post("/status", seed_body, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == STATUS_KEYS
    assert body["businessId"] == BUSINESS_ID
    assert body["createdUser"] == "JoeSchmo"
    assert type(body["createdDate"]) is int
    assert (body["modifiedDate"], body["modifiedUser"]) == (None, None)
    created = Status.objects.get(pk=body["statusId"])
    assert (created.business_id, created.sub_status, created.sort_order) == (
        BUSINESS_ID,
        "DOZING",
        7,
    )


def test_a_failed_first_post_leaves_no_half_forked_list(api, business, monkeypatch):
    def database_goes_away(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    # The copies are inserted (in bulk); saving the new status then fails.
    monkeypatch.setattr(Status, "save", database_goes_away)

    response = api.post("/status", new_status(), format="json")

    assert response.status_code == 503
    assert not Status.objects.for_business(business.pk).exists()


def test_first_post_whose_default_sort_order_overflows_is_400_and_forks_nothing(api, business):
    Status.objects.shared().filter(sub_status="DELETED").update(sort_order=2_147_483_647)
    before = all_rows()

    response = api.post("/status", new_status(), format="json")

    assert response.status_code == 400
    assert "sortOrder" in response.json()
    assert all_rows() == before


# --- POST /status: later ones ------------------------------------------------------


def test_post_after_the_fork_adds_one_status(api, own_list, business):
    response = api.post("/status", new_status(), format="json")

    assert response.status_code == 201
    assert Status.objects.for_business(business.pk).count() == len(SHARED_DEFAULTS) + 1
    assert Status.objects.get(pk=response.json()["statusId"]).sub_status == "Ready for clients"


def test_post_defaults_active_and_user_selectable_to_true_and_sort_order_after_the_last(
    api, own_list, business
):
    Status.objects.for_business(business.pk).filter(sub_status="DELETED").update(
        sort_order=40, active=False
    )

    response = api.post("/status", new_status(), format="json")

    assert response.status_code == 201
    created = Status.objects.get(pk=response.json()["statusId"])
    assert (created.active, created.user_selectable, created.sort_order) == (True, True, 41)
    assert response.json()["sortOrder"] == 41


def test_post_takes_the_given_writable_fields(api, own_list):
    body = new_status(active=False, userSelectable=False, sortOrder=0, statusType="APPOINTMENT")

    response = api.post("/status", body, format="json")

    assert response.status_code == 201
    created = Status.objects.get(pk=response.json()["statusId"])
    assert (created.active, created.user_selectable, created.sort_order) == (False, False, 0)


def test_post_stamps_the_creation_and_leaves_modification_empty(api, own_list):
    before = timezone.now()

    response = api.post("/status", new_status(), format="json")

    created = Status.objects.get(pk=response.json()["statusId"])
    assert created.created_user == "JoeSchmo"
    assert before <= created.created_at <= timezone.now()
    assert response.json()["createdDate"] == epoch_ms(created.created_at)
    assert (created.modified_at, created.modified_user) == (None, None)


@pytest.mark.parametrize("active", [True, False])
def test_post_of_an_existing_status_and_sub_status_is_409(api, own_status, active):
    StatusList.of(own_status.business_id).update(own_status.pk, {"active": active}, by=None)
    before = all_rows()

    response = api.post("/status", new_status(subStatus="RUNNING_LATE"), format="json")

    assert response.status_code == 409
    assert all_rows() == before


def test_post_of_an_existing_sub_status_under_another_status_is_201(api, own_list, business):
    response = api.post("/status", new_status(status="PENDING", subStatus="OPEN"), format="json")

    assert response.status_code == 201
    assert Status.objects.for_business(business.pk).filter(sub_status="OPEN").count() == 2


def test_post_sub_status_match_is_exact(api, own_list, business):
    response = api.post("/status", new_status(subStatus="running_late"), format="json")

    assert response.status_code == 201
    assert Status.objects.for_business(business.pk).filter(sub_status="running_late").exists()


def test_post_reads_back_fields_sent_as_a_copy_of_a_get_object_and_ignores_them(api, own_list):
    body = new_status(
        statusId=None,
        createdDate=1541101742804,
        createdUser="Mallory",
        modifiedDate=1541102830700,
        modifiedUser="Mallory",
    )

    response = api.post("/status", body, format="json")

    assert response.status_code == 201
    created = Status.objects.get(pk=response.json()["statusId"])
    assert (created.created_user, created.modified_user) == ("JoeSchmo", None)


# --- POST /status: refused ---------------------------------------------------------


@pytest.mark.parametrize("status_id", [1, 0, 1948])
def test_post_with_a_status_id_is_400(api, business, status_id):
    response = api.post("/status", new_status(statusId=status_id), format="json")

    assert response.status_code == 400
    assert "statusId" in response.json()
    assert not Status.objects.for_business(business.pk).exists()


@pytest.mark.parametrize("business_id", ["absent", None])
def test_post_without_a_business_id_is_400(api, business, business_id):
    body = new_status(businessId=business_id)
    if business_id == "absent":
        del body["businessId"]

    response = api.post("/status", body, format="json")

    assert response.status_code == 400
    assert "businessId" in response.json()
    assert not Status.objects.for_business(business.pk).exists()


def test_post_for_another_business_is_403(api, business, other_business):
    response = api.post("/status", new_status(businessId=other_business.pk), format="json")

    assert response.status_code == 403
    assert not Status.objects.exclude(business=None).exists()


@pytest.mark.parametrize("business_id", ["43111", True, 43111.0, 2**64, -(2**63) - 1])
def test_post_with_a_business_id_that_is_not_a_64_bit_integer_is_400(api, business, business_id):
    response = api.post("/status", new_status(businessId=business_id), format="json")

    assert response.status_code == 400
    assert "businessId" in response.json()
    assert not Status.objects.for_business(business.pk).exists()


@pytest.mark.parametrize("missing", ["status", "subStatus"])
def test_post_without_a_required_field_is_400(api, business, missing):
    body = new_status()
    del body[missing]

    response = api.post("/status", body, format="json")

    assert response.status_code == 400
    assert missing in response.json()
    assert not Status.objects.for_business(business.pk).exists()


@pytest.mark.parametrize("status", ["open", "WAITING", "", None, 3, ["OPEN"]])
def test_post_with_an_unknown_status_is_400(api, business, status):
    response = api.post("/status", new_status(status=status), format="json")

    assert response.status_code == 400
    assert "status" in response.json()
    assert not Status.objects.for_business(business.pk).exists()


@pytest.mark.parametrize("status_type", ["CLASS", "appointment", None])
def test_post_with_a_status_type_other_than_appointment_is_400(api, business, status_type):
    response = api.post("/status", new_status(statusType=status_type), format="json")

    assert response.status_code == 400
    assert "statusType" in response.json()
    assert not Status.objects.for_business(business.pk).exists()


@pytest.mark.parametrize(
    "sub_status",
    ["", "   ", "x" * 65, "a\x00b", "tab\there", "line\nbreak", 123, True, None, ["OPEN"]],
)
def test_post_with_a_bad_sub_status_is_400(api, business, sub_status):
    response = api.post("/status", new_status(subStatus=sub_status), format="json")

    assert response.status_code == 400
    assert "subStatus" in response.json()
    assert not Status.objects.for_business(business.pk).exists()


def test_post_with_a_lone_surrogate_in_the_sub_status_is_400(api, business):
    text = '{"businessId": 43111, "status": "OPEN", "subStatus": "Ready \\ud800"}'

    response = post_raw(api, text)

    assert response.status_code == 400
    assert "subStatus" in response.json()
    assert not Status.objects.for_business(business.pk).exists()


def test_post_sub_status_of_64_characters_and_unicode_is_201(api, business):
    sub_status = "é" * 63 + "✓"

    response = api.post("/status", new_status(subStatus=sub_status), format="json")

    assert response.status_code == 201
    assert Status.objects.get(pk=response.json()["statusId"]).sub_status == sub_status


def test_post_trims_the_spaces_around_the_sub_status(api, business):
    response = api.post("/status", new_status(subStatus="  Ready  "), format="json")

    assert response.status_code == 201
    assert Status.objects.get(pk=response.json()["statusId"]).sub_status == "Ready"


@pytest.mark.parametrize("field", ["active", "userSelectable"])
@pytest.mark.parametrize("value", ["true", "false", 1, 0, "yes", None])
def test_post_booleans_must_be_json_booleans(api, business, field, value):
    response = api.post("/status", new_status(**{field: value}), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Status.objects.for_business(business.pk).exists()


@pytest.mark.parametrize("sort_order", ["5", 5.0, 5.5, True, -1, 2**31, 2**64, None])
def test_post_sort_order_must_be_a_non_negative_32_bit_integer(api, business, sort_order):
    response = api.post("/status", new_status(sortOrder=sort_order), format="json")

    assert response.status_code == 400
    assert "sortOrder" in response.json()
    assert not Status.objects.for_business(business.pk).exists()


def test_post_with_an_unknown_key_is_400_naming_it(api, business):
    response = api.post("/status", new_status(color="red", sub_status="x"), format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"color", "sub_status"}
    assert not Status.objects.for_business(business.pk).exists()


def test_post_with_a_lone_surrogate_in_an_unknown_key_is_400(api, business):
    response = post_raw(
        api, '{"businessId": 43111, "status": "OPEN", "subStatus": "x", "\\ud800": 1}'
    )

    assert response.status_code == 400
    assert not Status.objects.for_business(business.pk).exists()


@pytest.mark.parametrize("text", ["[]", '"OPEN"', "null", "{", '{"sortOrder": NaN}'])
def test_post_of_a_body_that_is_not_a_json_object_is_400(api, business, text):
    response = post_raw(api, text)

    assert response.status_code == 400
    assert not Status.objects.for_business(business.pk).exists()


def test_post_without_token_is_401(client, business):
    response = client.post("/status", new_status(), content_type="application/json")

    assert response.status_code == 401
    assert not Status.objects.for_business(business.pk).exists()


@pytest.mark.query_budget("post", "/status")
def test_first_post_takes_a_fixed_number_of_queries(api, business, django_assert_num_queries):
    # token; in the list's transaction (a savepoint inside the test's): the business
    # lock, the list's last sortOrder (none: no own list yet), the shared list, the
    # copies' insert, the new status's insert, and the events (SPEC §8.1): one INSERT
    # for the copies' status.created, one for the new status's
    with django_assert_num_queries(10):
        response = api.post("/status", new_status(), format="json")

    assert response.status_code == 201


def test_later_post_takes_a_fixed_number_of_queries(api, own_list, django_assert_num_queries):
    # token; in the list's transaction (a savepoint inside the test's): the business
    # lock, the list's last sortOrder, the insert, its status.created event
    with django_assert_num_queries(7):
        response = api.post("/status", new_status(), format="json")

    assert response.status_code == 201


# --- PUT /status ---------------------------------------------------------------------


def test_put_updates_the_status_and_returns_it(api, own_status):
    body = as_sent_back(own_status, subStatus="Late", sortOrder=30, active=False)

    response = api.put("/status", body, format="json")

    assert response.status_code == 200
    assert response.json()["subStatus"] == "Late"
    assert set(response.json()) == STATUS_KEYS
    own_status.refresh_from_db()
    assert (own_status.sub_status, own_status.sort_order, own_status.active) == ("Late", 30, False)


def test_put_stamps_the_modification_and_keeps_the_creation(api, own_status):
    created = (own_status.created_at, own_status.created_user)
    before = timezone.now()

    response = api.put("/status", as_sent_back(own_status, sortOrder=2), format="json")

    assert response.status_code == 200
    own_status.refresh_from_db()
    assert own_status.modified_user == "JoeSchmo"
    assert before <= own_status.modified_at <= timezone.now()
    assert response.json()["modifiedDate"] == epoch_ms(own_status.modified_at)
    assert (own_status.created_at, own_status.created_user) == created


def test_put_changes_only_the_optional_fields_present(api, own_status):
    StatusList.of(own_status.business_id).update(
        own_status.pk, {"active": False, "sort_order": 30, "user_selectable": False}, by=None
    )

    response = api.put("/status", as_sent_back(own_status, subStatus="Late"), format="json")

    assert response.status_code == 200
    own_status.refresh_from_db()
    assert (own_status.active, own_status.sort_order, own_status.user_selectable) == (
        False,
        30,
        False,
    )


def test_put_ignores_read_only_fields_sent_back(api, own_status):
    body = as_sent_back(
        own_status,
        createdDate=1,
        createdUser="Mallory",
        modifiedDate=2,
        modifiedUser="Mallory",
    )

    response = api.put("/status", body, format="json")

    assert response.status_code == 200
    own_status.refresh_from_db()
    assert own_status.created_user == "JoeSchmo"
    assert own_status.modified_user == "JoeSchmo"
    assert epoch_ms(own_status.created_at) != 1


def test_put_of_a_whole_get_object_sent_back_is_200(api, own_status):
    sent_back = next(s for s in api.get("/status").json() if s["statusId"] == own_status.pk)
    sent_back["sortOrder"] = 5

    response = api.put("/status", sent_back, format="json")

    assert response.status_code == 200
    own_status.refresh_from_db()
    assert own_status.sort_order == 5


def test_put_keeping_its_own_status_and_sub_status_is_not_a_duplicate(api, own_status):
    response = api.put("/status", as_sent_back(own_status), format="json")

    assert response.status_code == 200
    own_status.refresh_from_db()
    assert own_status.modified_user == "JoeSchmo"


@pytest.mark.parametrize("active", [True, False])
def test_put_onto_another_status_and_sub_status_is_409(api, own_list, own_status, active):
    taken = next(s for s in own_list if s.sub_status == "CHECKEDIN")
    StatusList.of(taken.business_id).update(taken.pk, {"active": active}, by=None)
    before = all_rows()

    response = api.put("/status", as_sent_back(own_status, subStatus="CHECKEDIN"), format="json")

    assert response.status_code == 409
    assert all_rows() == before


@pytest.mark.parametrize("value", ["absent", None])
@pytest.mark.parametrize("field", ["statusId", "businessId"])
def test_put_without_a_required_id_is_400(api, own_status, field, value):
    body = as_sent_back(own_status, **{field: value}, sortOrder=99)
    if value == "absent":
        del body[field]
    before = all_rows()

    response = api.put("/status", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert all_rows() == before


@pytest.mark.parametrize("status_id", ["1948", True, 1948.0])
def test_put_with_a_status_id_that_is_not_an_integer_is_400(api, own_status, status_id):
    before = all_rows()

    response = api.put("/status", as_sent_back(own_status, statusId=status_id), format="json")

    assert response.status_code == 400
    assert "statusId" in response.json()
    assert all_rows() == before


def test_put_of_a_shared_status_is_403_saying_to_post_a_copy_first(api, shared_status):
    before = all_rows()

    response = api.put("/status", as_sent_back(shared_status, sortOrder=1), format="json")

    assert response.status_code == 403
    assert "POST a copy" in response.json()["statusId"][0]
    assert all_rows() == before


def test_put_of_a_shared_status_is_403_even_with_the_callers_business_id(
    api, shared_status, own_list
):
    body = as_sent_back(shared_status, businessId=BUSINESS_ID, sortOrder=1)
    before = all_rows()

    response = api.put("/status", body, format="json")

    assert response.status_code == 403
    assert all_rows() == before


@pytest.mark.parametrize("status_id", [999_999, 0, -1, 2**63, 2**64, 10**30])
def test_put_of_an_unknown_status_id_is_404(api, own_status, status_id):
    before = all_rows()

    response = api.put("/status", as_sent_back(own_status, statusId=status_id), format="json")

    assert response.status_code == 404
    assert all_rows() == before


def test_put_of_another_business_status_is_404(api, other_business):
    theirs = fork_shared_statuses(other_business)[0]
    before = all_rows()

    response = api.put(
        "/status", as_sent_back(theirs, businessId=BUSINESS_ID, sortOrder=99), format="json"
    )

    assert response.status_code == 404
    assert all_rows() == before


def test_put_of_another_business_status_is_404_before_its_business_id_is_checked(
    api, other_business
):
    theirs = fork_shared_statuses(other_business)[0]
    before = all_rows()

    response = api.put("/status", as_sent_back(theirs, sortOrder=99), format="json")

    assert response.status_code == 404
    assert all_rows() == before


def test_put_with_another_business_id_is_403(api, own_status, other_business):
    body = as_sent_back(own_status, businessId=other_business.pk, sortOrder=99)
    before = all_rows()

    response = api.put("/status", body, format="json")

    assert response.status_code == 403
    assert "businessId" in response.json()
    assert all_rows() == before


@pytest.mark.parametrize("missing", ["status", "subStatus"])
def test_put_without_a_required_field_is_400(api, own_status, missing):
    body = as_sent_back(own_status, sortOrder=99)
    del body[missing]
    before = all_rows()

    response = api.put("/status", body, format="json")

    assert response.status_code == 400
    assert missing in response.json()
    assert all_rows() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("active", "false"),
        ("active", 0),
        ("active", None),
        ("userSelectable", "true"),
        ("sortOrder", "5"),
        ("sortOrder", None),
        ("sortOrder", -1),
        ("status", "CLOSED"),
        ("statusType", "CLASS"),
        ("subStatus", "a\x00b"),
        ("subStatus", ""),
    ],
)
def test_put_with_a_bad_value_is_400_naming_the_field(api, own_status, field, value):
    before = all_rows()

    response = api.put("/status", as_sent_back(own_status, **{field: value}), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert all_rows() == before


def test_put_with_a_lone_surrogate_in_the_sub_status_is_400(api, own_status):
    before = all_rows()
    text = (
        f'{{"statusId": {own_status.pk}, "businessId": 43111, "status": "OPEN", '
        '"subStatus": "\\udfff"}'
    )

    response = put_raw(api, text)

    assert response.status_code == 400
    assert "subStatus" in response.json()
    assert all_rows() == before


def test_put_with_an_unknown_key_is_400_naming_it(api, own_status):
    before = all_rows()

    response = api.put("/status", as_sent_back(own_status, statusID=1), format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"statusID"}
    assert all_rows() == before


def test_put_without_token_is_401(client, own_status):
    before = all_rows()

    response = client.put("/status", as_sent_back(own_status), content_type="application/json")

    assert response.status_code == 401
    assert all_rows() == before


@pytest.mark.query_budget("put", "/status")
def test_put_takes_a_fixed_number_of_queries(api, own_status, django_assert_num_queries):
    # token, the status (which settles the refusal order before the fields are read);
    # in the list's transaction (a savepoint inside the test's): the business lock, the
    # status's locked re-read, the update, its status.updated event; a renamed
    # sub-status is written to the appointments in the status (here none)
    with django_assert_num_queries(9):
        response = api.put("/status", as_sent_back(own_status, subStatus="Late"), format="json")

    assert response.status_code == 200


# --- the unique constraint decides duplicates ----------------------------------------
# No write checks a name beforehand, so two concurrent writers cannot both pass a check.


def test_a_put_that_only_the_constraint_catches_is_409_and_writes_nothing(
    api, own_list, own_status
):
    # PUT checks no name beforehand: its one UPDATE meets the constraint directly.
    before = all_rows()

    response = api.put(
        "/status",
        as_sent_back(own_status, subStatus="PENDING", status="PENDING"),
        format="json",
    )

    assert response.status_code == 409
    assert all_rows() == before
    assert api.get("/status").status_code == 200  # the connection is still usable


def test_a_post_that_only_the_constraint_catches_is_409_and_writes_nothing(api, own_list):
    # POST checks no name beforehand either: its INSERT meets the constraint directly.
    before = all_rows()

    body = new_status(status="OPEN", subStatus="RUNNING_LATE")
    response = api.post("/status", body, format="json")

    assert response.status_code == 409
    assert all_rows() == before
    assert api.get("/status").status_code == 200


# --- concurrency (PostgreSQL) --------------------------------------------------------

FIRST_POSTERS = 8


def concurrent_first_posts(sub_status_of) -> list[int]:
    """FIRST_POSTERS users of business 43111 POST at once, each its first POST; returns
    the status codes."""
    business = Business.objects.create(id=BUSINESS_ID, name="Demo Venue")
    keys = [
        ApiToken.objects.issue(User.objects.create_user(f"poster{n}", business=business))[1]
        for n in range(FIRST_POSTERS)
    ]
    start = threading.Barrier(FIRST_POSTERS)

    def post(number: int) -> int:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {keys[number]}")
            start.wait(timeout=30)
            body = new_status(subStatus=sub_status_of(number))
            return client.post("/status", body, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=FIRST_POSTERS) as pool:
        return list(pool.map(post, range(FIRST_POSTERS)))


def assert_one_copy_of_each_shared_status() -> None:
    own = Status.objects.for_business(BUSINESS_ID)
    copied = [(s.status, s.sub_status) for s in own if (s.status, s.sub_status) in SHARED_DEFAULTS]
    assert sorted(copied) == sorted(SHARED_DEFAULTS)


@pytest.fixture
def shared_defaults_installed():
    """A transactional test may start on a database that an earlier one emptied: put the
    shared list back, as its migration does (it skips what is there)."""
    migration = importlib.import_module("statuses.migrations.0002_shared_default_statuses")
    migration.install_shared_defaults(apps, None)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shared_defaults_installed")
def test_concurrent_first_posts_fork_the_shared_list_once():
    codes = concurrent_first_posts(lambda number: f"Room {number}")

    assert codes == [201] * FIRST_POSTERS
    assert_one_copy_of_each_shared_status()
    assert Status.objects.for_business(BUSINESS_ID).count() == (
        len(SHARED_DEFAULTS) + FIRST_POSTERS
    )


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shared_defaults_installed")
def test_concurrent_first_posts_of_one_name_create_it_once():
    codes = concurrent_first_posts(lambda number: "Ready for clients")

    assert sorted(codes) == [201] + [409] * (FIRST_POSTERS - 1)
    assert_one_copy_of_each_shared_status()
    assert Status.objects.for_business(BUSINESS_ID).count() == len(SHARED_DEFAULTS) + 1


@contextmanager
def deleted_meanwhile(status: Status) -> Iterator[None]:
    """Run the block while another transaction (a thread with its own connection) holds
    `status` deleted but not committed; that transaction commits once this thread's
    connection waits for it (on the deleted row's lock), so the block's write finds the
    row gone only after it has started."""
    deleted, outcome = threading.Event(), {}

    def delete_and_commit_once_waited_for() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                Status.objects.filter(pk=status.pk).delete()
                deleted.set()
                outcome["waited_for"] = wait_until_someone_waits_for(cursor)
        except Exception as error:  # reported by the test, not lost in the thread
            outcome["error"] = error
        finally:
            deleted.set()
            connection.close()

    deleter = threading.Thread(target=delete_and_commit_once_waited_for)
    deleter.start()
    deleted.wait(timeout=30)
    try:
        yield
    finally:
        deleter.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["waited_for"], "the write never waited for the deleting transaction"


def wait_until_someone_waits_for(cursor, seconds: float = 10) -> bool:
    """Whether another connection came to wait on this one's locks within `seconds`."""
    deadline = timezone.now() + dt.timedelta(seconds=seconds)
    while timezone.now() < deadline:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity, afresh
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
            "WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid)))"
        )
        if cursor.fetchone()[0]:
            return True
        threading.Event().wait(0.02)
    return False


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shared_defaults_installed")
def test_a_put_whose_status_is_deleted_while_it_runs_is_404_and_writes_nothing(api, own_status):
    body = as_sent_back(own_status, subStatus="Late", sortOrder=30)

    with deleted_meanwhile(own_status):
        response = api.put("/status", body, format="json")

    assert response.status_code == 404
    assert not Status.objects.filter(pk=own_status.pk).exists()
    assert not Status.objects.filter(sub_status="Late").exists()
