"""X-Request-ID on every response (SPEC §12, §13): the client's when it is 1-128
characters of [A-Za-z0-9._-], else a new one; errors and non-API pages too."""

import re

import pytest
from django.urls import path
from rest_framework.test import APIClient

NEW_ID = re.compile(r"[0-9a-f]{32}")


def failing_view(request):
    raise RuntimeError("a bug")


# For the 500 test (pytest.mark.urls below): the project's URLs plus a broken view.
urlpatterns = [path("broken", failing_view)]
handler500 = "core.views.server_error"


@pytest.mark.parametrize(
    "sent", ["abc", "a" * 128, "Trace-1.2_x", "0", "550e8400-e29b-41d4-a716-446655440000"]
)
def test_a_sane_id_is_echoed(api, sent):
    response = api.get("/v2/business", HTTP_X_REQUEST_ID=sent)
    assert response.status_code == 200
    assert response["X-Request-ID"] == sent


@pytest.mark.parametrize(
    "sent", ["", "a" * 129, "has space", "semi;colon", "slash/id", "crlf\\r\\n", "é"]
)
def test_an_insane_id_is_replaced_by_a_new_one(api, sent):
    response = api.get("/v2/business", HTTP_X_REQUEST_ID=sent)
    assert response.status_code == 200
    assert NEW_ID.fullmatch(response["X-Request-ID"])


def test_without_one_each_request_gets_its_own(api):
    first, second = api.get("/v2/business"), api.get("/v2/business")
    assert NEW_ID.fullmatch(first["X-Request-ID"])
    assert NEW_ID.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("get", "/no/such/page", None, 404),  # unmatched
        ("get", "/v2/bookings/999999", None, 401),  # no token
        ("post", "/status", {"name": "tentative"}, 401),
        ("get", "/admin/login/", None, 200),  # an HTML page
        ("get", "/admin/", None, 302),
        ("get", "/metrics", None, 404),  # disabled
    ],
)
def test_error_and_non_api_responses_carry_it(client, method, url, body, status):
    response = getattr(client, method)(
        url, body, content_type="application/json", HTTP_X_REQUEST_ID="trace-9"
    )
    assert response.status_code == status
    assert response["X-Request-ID"] == "trace-9"


def test_a_bad_body_and_a_missing_booking_carry_it(api):
    bad = api.post("/v2/bookings", {"name": ""}, HTTP_X_REQUEST_ID="bad-body")
    missing = api.get("/v2/bookings/999999", HTTP_X_REQUEST_ID="missing")
    assert (bad.status_code, bad["X-Request-ID"]) == (400, "bad-body")
    assert (missing.status_code, missing["X-Request-ID"]) == (404, "missing")


def test_a_body_refused_before_routing_carries_it(api):
    response = api.generic(
        "POST",
        "/v2/bookings",
        b"{}",
        content_type="application/json",
        HTTP_X_REQUEST_ID="too-big",
        CONTENT_LENGTH=str(2 * 1024 * 1024),
    )
    assert (response.status_code, response["X-Request-ID"]) == (413, "too-big")


@pytest.mark.urls("tests.test_request_ids")
def test_a_server_error_carries_it(db):
    client = APIClient(raise_request_exception=False)
    response = client.get("/broken", HTTP_X_REQUEST_ID="crash-1")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "crash-1"
