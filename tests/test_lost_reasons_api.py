"""GET/POST/PATCH /v2/lost_reasons (SPEC §15.1, §17): the shared defaults, copy on first
write (the status list's mechanism), and the checks on every write."""

import pytest

from bookings.lost_reasons import LostReasonList
from bookings.models import LostReason

# The shared defaults, in list order (SPEC §15.1).
DEFAULTS = [
    ("another_venue", "Chose another venue"),
    ("budget", "Over budget"),
    ("date_unavailable", "Date unavailable"),
    ("no_response", "No response"),
    ("event_cancelled", "Event cancelled"),
    ("hold_expired", "Hold expired"),
]
REASON_KEYS = ["id", "code", "label", "active", "sort_order", "shared"]


def all_rows() -> list[dict]:
    return list(LostReason.objects.order_by("id").values())


def shared(code: str) -> LostReason:
    return LostReason.objects.get(business=None, code=code)


@pytest.fixture
def own_list(business):
    """The business's own copy of the shared list."""
    return LostReasonList.of(business).fork()


def codes(response) -> list[str]:
    return [reason["code"] for reason in response.json()["results"]]


# --- the defaults ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_shared_defaults_are_installed_by_the_migration():
    rows = LostReason.objects.shared().in_list_order()
    assert [(row.code, row.label, row.active) for row in rows] == [
        (code, label, True) for code, label in DEFAULTS
    ]
    assert [row.sort_order for row in rows] == list(range(1, 7))


@pytest.mark.django_db
def test_a_business_without_its_own_list_sees_the_shared_defaults(api):
    response = api.get("/v2/lost_reasons")
    assert response.status_code == 200
    [first, *_] = response.json()["results"]
    assert list(first) == REASON_KEYS
    assert first == {
        "id": shared("another_venue").pk,
        "code": "another_venue",
        "label": "Chose another venue",
        "active": True,
        "sort_order": 1,
        "shared": True,
    }
    assert codes(response) == [code for code, _ in DEFAULTS]
    assert api.get("/v2/lost_reasons/").json() == response.json()  # trailing slash too


@pytest.mark.django_db
def test_once_forked_the_list_is_the_business_own(api, own_list):
    response = api.get("/v2/lost_reasons")
    assert {reason["id"] for reason in response.json()["results"]} == {c.pk for c in own_list}
    assert not any(reason["shared"] for reason in response.json()["results"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "",
            ["another_venue", "date_unavailable", "no_response", "event_cancelled", "hold_expired"],
        ),
        (
            "?active=true",
            ["another_venue", "date_unavailable", "no_response", "event_cancelled", "hold_expired"],
        ),
        ("?active=false", ["budget"]),
        ("?active=all", [code for code, _ in DEFAULTS]),
    ],
)
def test_active_chooses_which_reasons_are_listed(api, business, query, expected):
    LostReasonList.of(business).add({"code": "budget", "label": "Over budget", "active": False})
    assert codes(api.get(f"/v2/lost_reasons{query}")) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?active=yes", "?active=", "?active=1"])
def test_another_active_value_is_refused_naming_it(api, query):
    response = api.get(f"/v2/lost_reasons{query}")
    assert response.status_code == 400
    assert "active" in response.json()


@pytest.mark.django_db
def test_an_unknown_query_parameter_is_refused(api):
    response = api.get("/v2/lost_reasons?page_size=2")
    assert response.status_code == 400
    assert "page_size" in response.json()


@pytest.mark.django_db
def test_get_one_reason_own_or_shared(api, other_business):
    reason = shared("budget")
    response = api.get(f"/v2/lost_reasons/{reason.pk}")
    assert response.status_code == 200
    assert response.json()["code"] == "budget"
    [theirs, *_] = LostReasonList.of(other_business).fork()
    assert api.get(f"/v2/lost_reasons/{theirs.pk}").json() == {"detail": "Not found."}
    assert api.get("/v2/lost_reasons/99999999999999999999").status_code == 404


# --- POST: copy on first write ---------------------------------------------------------


@pytest.mark.django_db
def test_the_first_post_copies_the_shared_list_then_adds(api, business):
    response = api.post(
        "/v2/lost_reasons", {"code": "competitor_price", "label": "Competitor was cheaper"}
    )
    assert response.status_code == 201
    body = response.json()
    assert list(body) == REASON_KEYS
    assert (body["code"], body["active"], body["sort_order"], body["shared"]) == (
        "competitor_price",
        True,
        7,
        False,
    )
    own = LostReason.objects.for_business(business.id).in_list_order()
    assert [row.code for row in own] == [code for code, _ in DEFAULTS] + ["competitor_price"]
    assert LostReason.objects.shared().count() == 6  # the shared list is untouched


@pytest.mark.django_db
def test_a_first_post_of_a_default_code_becomes_that_copy(api, business):
    response = api.post(
        "/v2/lost_reasons", {"code": "budget", "label": "Too expensive", "sort_order": 20}
    )
    assert response.status_code == 201
    copy = LostReason.objects.get(business=business, code="budget")
    assert response.json() == {
        "id": copy.pk,
        "code": "budget",
        "label": "Too expensive",
        "active": True,
        "sort_order": 20,
        "shared": False,
    }
    assert LostReason.objects.for_business(business.id).count() == 6


@pytest.mark.django_db
def test_after_the_fork_a_post_adds_one_reason(api, business, own_list):
    response = api.post("/v2/lost_reasons", {"code": "weather", "label": "Weather"})
    assert response.status_code == 201
    assert LostReason.objects.for_business(business.id).count() == 7


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "budget", "label": "Something else"}, "code"),
        ({"code": "pricey", "label": "Over budget"}, "label"),
    ],
)
def test_codes_and_labels_are_unique_per_list(api, own_list, body, field):
    before = all_rows()
    response = api.post("/v2/lost_reasons", body)
    assert response.status_code == 409
    assert field in response.json()
    assert all_rows() == before


@pytest.mark.django_db
def test_another_business_may_use_the_same_code_and_label(api, other_api):
    body = {"code": "weather", "label": "Weather"}
    assert api.post("/v2/lost_reasons", body).status_code == 201
    assert other_api.post("/v2/lost_reasons", body).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code",
    ["", "Over_Budget", "over budget", "über", "a-b", "x" * 41, 7, None, " budget"],
)
def test_the_code_is_a_slug_of_1_to_40(api, code):
    before = all_rows()
    response = api.post("/v2/lost_reasons", {"code": code, "label": "A label"})
    assert response.status_code == 400
    assert "code" in response.json()
    assert all_rows() == before


@pytest.mark.django_db
def test_a_code_of_40_characters_is_accepted(api):
    response = api.post("/v2/lost_reasons", {"code": "a_0" * 13 + "z", "label": "Long"})
    assert response.status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("label", ["", "x" * 101, "tab\there", 5, None])
def test_the_label_is_1_to_100_characters(api, label):
    response = api.post("/v2/lost_reasons", {"code": "odd", "label": label})
    assert response.status_code == 400
    assert "label" in response.json()
    assert LostReason.objects.exclude(business=None).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["code", "label"])
def test_code_and_label_are_required(api, missing):
    body = {"code": "weather", "label": "Weather"}
    del body[missing]
    response = api.post("/v2/lost_reasons", body)
    assert response.status_code == 400
    assert missing in response.json()


@pytest.mark.django_db
def test_unknown_keys_are_refused_and_read_only_ones_ignored(api):
    response = api.post("/v2/lost_reasons", {"code": "a", "label": "A", "colour": "red"})
    assert (response.status_code, list(response.json())) == (400, ["colour"])
    response = api.post("/v2/lost_reasons", {"code": "a", "label": "A", "id": 5, "shared": True})
    assert response.status_code == 201
    assert response.json()["shared"] is False


@pytest.mark.django_db
def test_posting_an_inactive_hold_expired_is_a_conflict_naming_active(api):
    before = all_rows()
    response = api.post(
        "/v2/lost_reasons", {"code": "hold_expired", "label": "Hold expired", "active": False}
    )
    assert response.status_code == 409
    assert "active" in response.json()
    assert all_rows() == before


@pytest.mark.django_db
def test_post_replays_with_an_idempotency_key(api, business):
    body = {"code": "weather", "label": "Weather"}
    first = api.post("/v2/lost_reasons", body, HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post("/v2/lost_reasons", body, HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert LostReason.objects.for_business(business.id).filter(code="weather").count() == 1


# --- PATCH -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_patch_of_a_shared_reason_is_refused_saying_to_post_first(api):
    before = all_rows()
    response = api.patch(f"/v2/lost_reasons/{shared('budget').pk}", {"label": "Pricey"})
    assert response.status_code == 403
    assert "POST" in response.json()["detail"]
    assert all_rows() == before


@pytest.mark.django_db
def test_patch_of_a_shared_reason_is_refused_after_the_fork_too(api, own_list):
    response = api.patch(f"/v2/lost_reasons/{shared('budget').pk}", {"label": "Pricey"})
    assert response.status_code == 403


@pytest.mark.django_db
def test_patch_changes_label_active_and_sort_order(api, own_list):
    reason = next(r for r in own_list if r.code == "budget")
    response = api.patch(
        f"/v2/lost_reasons/{reason.pk}", {"label": "Pricey", "active": False, "sort_order": 9}
    )
    assert response.status_code == 200
    assert response.json() == {
        "id": reason.pk,
        "code": "budget",
        "label": "Pricey",
        "active": False,
        "sort_order": 9,
        "shared": False,
    }
    reason.refresh_from_db()
    assert (reason.label, reason.active, reason.sort_order) == ("Pricey", False, 9)


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["budget", "other"])
def test_patch_naming_code_is_refused_naming_it(api, own_list, code):
    reason = next(r for r in own_list if r.code == "budget")
    before = all_rows()
    response = api.patch(f"/v2/lost_reasons/{reason.pk}", {"code": code})
    assert response.status_code == 400
    assert "code" in response.json()
    assert all_rows() == before


@pytest.mark.django_db
def test_hold_expired_cannot_be_deactivated(api, own_list):
    reason = next(r for r in own_list if r.code == "hold_expired")
    response = api.patch(f"/v2/lost_reasons/{reason.pk}", {"active": False})
    assert response.status_code == 409
    assert "active" in response.json()
    reason.refresh_from_db()
    assert reason.active
    # Its label may change.
    assert api.patch(f"/v2/lost_reasons/{reason.pk}", {"label": "Lapsed"}).status_code == 200


@pytest.mark.django_db
def test_patch_to_a_label_already_in_the_list_is_a_conflict(api, own_list):
    reason = next(r for r in own_list if r.code == "budget")
    response = api.patch(f"/v2/lost_reasons/{reason.pk}", {"label": "No response"})
    assert response.status_code == 409
    assert "label" in response.json()


@pytest.mark.django_db
def test_another_business_reason_is_not_found(api, other_business):
    [theirs, *_] = LostReasonList.of(other_business).fork()
    before = all_rows()
    for body in ({"label": "Mine now"}, {"label": ""}):
        response = api.patch(f"/v2/lost_reasons/{theirs.pk}", body)
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert all_rows() == before


@pytest.mark.django_db
def test_an_invalid_patch_of_a_shared_reason_is_refused_for_being_shared_first(api):
    response = api.patch(f"/v2/lost_reasons/{shared('budget').pk}", {"label": ""})
    assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"active": "false"}, "active"),
        ({"sort_order": -1}, "sort_order"),
        ({"sort_order": 2**31}, "sort_order"),
        ({"label": ""}, "label"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_patch_checks_each_field(api, own_list, body, field):
    reason = own_list[0]
    response = api.patch(f"/v2/lost_reasons/{reason.pk}", body)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_delete_is_not_allowed(api, own_list):
    assert api.delete(f"/v2/lost_reasons/{own_list[0].pk}").status_code == 405
