"""Input a client or an attacker can send: always a clear 4xx, never a 500, nothing written."""

import json

import django_filters
import pytest

from bookings.filters import BookingFilter
from bookings.models import Booking, BookingStatusChange


@pytest.fixture
def booking(make_booking):
    return make_booking(name="Target", guest_count=10)


def assert_untouched(booking: Booking) -> None:
    booking.refresh_from_db()
    assert (booking.name, booking.status, booking.guest_count) == ("Target", "lead", 10)
    assert not BookingStatusChange.objects.exists()
    assert Booking.objects.count() == 1


def post_raw(api, path: str, content, content_type="application/json"):
    return api.generic("POST", path, content, content_type)


@pytest.mark.django_db
def test_a_body_over_one_mebibyte_is_413_before_parsing(api, booking):
    body = json.dumps({"name": "x" * (1024 * 1024 + 1)})
    response = post_raw(api, "/v2/bookings", body)
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert_untouched(booking)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x", ""]
)
def test_a_content_type_other_than_json_is_415(api, booking, content_type):
    response = post_raw(
        api, f"/v2/bookings/{booking.pk}/change_status", '{"status": "lost"}', content_type
    )
    assert response.status_code == 415
    assert_untouched(booking)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content",
    [
        "{",
        "",
        "null",
        "[]",
        '{"status": "lost",}',
        '{"status": NaN}',
        '{"status": Infinity}',
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        b"\xff\xfe{}",
        b'{"status": "lo\xc3st"}',
        '{"status": "lost", "status_at": 1' + "0" * 5000 + "}",
    ],
    ids=lambda content: repr(content[:20]),
)
def test_malformed_or_hostile_json_is_400(api, booking, content):
    response = post_raw(api, f"/v2/bookings/{booking.pk}/change_status", content)
    assert response.status_code == 400
    assert response.json()
    assert_untouched(booking)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "nul\u0000in name"}, "name"),
        ({"name": "Gala", "notes": "nul\u0000"}, "notes"),
        ({"name": "Gala", "guest_count": 2**63}, "guest_count"),
        ({"name": "Gala", "guest_count": 2**31}, "guest_count"),
        ({"name": "Gala", "guest_count": True}, "guest_count"),
        ({"name": {"nested": "object"}}, "name"),
        ({"name": ["list"]}, "name"),
        ({"name": "Gala", "starts_at": "9999-12-31T23:59:59-14:00"}, "starts_at"),
        ({"name": "Gala", "starts_at": "0001-01-01T00:00:00+14:00"}, "starts_at"),
        ({"name": "Gala", "starts_at": "2023-02-29T10:00:00Z"}, "starts_at"),
        ({"name": "Gala", "starts_at": "2024-01-01T10:00:00+25:00"}, "starts_at"),
        ({"name": "Gala", "unexpected": 1}, "unexpected"),
    ],
    ids=str,
)
def test_hostile_field_values_are_400_naming_the_field(api, booking, body, field):
    response = api.post("/v2/bookings", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert_untouched(booking)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "field"),
    [
        ('{"name": "lone \\ud800 surrogate"}', "name"),
        ('{"name": "Gala", "notes": "\\udfff"}', "notes"),
        ('{"name": "Gala", "guest_count": 1e999}', "guest_count"),
        ('{"name": "Gala", "guest_count": -1e999}', "guest_count"),
        ('{"name": "Gala", "guest_count": 12.5}', "guest_count"),
    ],
)
def test_values_only_raw_json_can_carry_are_400(api, booking, content, field):
    response = post_raw(api, "/v2/bookings", content)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert_untouched(booking)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("starts_at", "stored"),
    [
        ("1900-01-01T00:00:00Z", "1900-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
        ("2024-02-29T23:30:00-14:00", "2024-03-01T13:30:00Z"),
        ("2024-02-29T00:00:00+14:00", "2024-02-28T10:00:00Z"),
    ],
)
def test_dates_at_the_edges_are_stored_exactly(api, starts_at, stored):
    response = api.post("/v2/bookings", {"name": "Edge", "starts_at": starts_at})
    assert response.status_code == 201
    assert api.get(f"/v2/bookings/{response.json()['id']}").json()["starts_at"] == stored


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "name=%00",
        "status=%00",
        "tentative_at__gte=%00",
        "guest_count=99999999999999999999999",
        "guest_count__gte=-1",
        "tentative_at__gte=0000-01-01T00:00:00Z",
        "tentative_at__lte=10000-01-01T00:00:00Z",
        "definite_date=2023-02-29",
        "cursor=not-a-cursor",
        "cursor=%00",
    ],
)
def test_hostile_query_strings_never_cause_a_server_error(api, booking, query):
    response = api.get(f"/v2/bookings?{query}")
    assert response.status_code < 500
    assert response.status_code in (200, 400, 404)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/v2/bookings/{pk}"),
        ("post", "/v2/bookings/{pk}"),
        ("delete", "/v2/bookings"),
        ("patch", "/v2/bookings"),
        ("get", "/v2/bookings/{pk}/change_status"),
        ("delete", "/v2/bookings/{pk}/status_history"),
    ],
)
def test_wrong_methods_are_405(api, booking, method, path):
    response = getattr(api, method)(path.format(pk=booking.pk), {}, format="json")
    assert response.status_code == 405
    assert_untouched(booking)


@pytest.mark.django_db
@pytest.mark.parametrize("pk", ["0", "-1", str(2**64), "1e3", "%00", "１"])
def test_odd_ids_in_the_path_are_404(api, booking, pk):
    assert api.get(f"/v2/bookings/{pk}").status_code == 404
    assert api.patch(f"/v2/bookings/{pk}", {"name": "x"}, format="json").status_code == 404
    assert_untouched(booking)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/v2/bookings", '{"name": "Gala", "\\ud800": 1}'),
        ("/v2/bookings/{pk}/change_status", '{"status": "lost", "\\udfff": 1}'),
        ("/v2/bookings/{pk}/change_status", '{"status": "\\ud800"}'),
        ("/status", '{"businessId": 43111, "status": "OPEN", "subStatus": "x", "\\ud800": 1}'),
    ],
)
def test_an_error_naming_a_lone_surrogate_is_still_valid_json(api, booking, path, content):
    response = post_raw(api, path.format(pk=booking.pk), content)

    assert response.status_code == 400
    assert json.loads(response.content)
    assert_untouched(booking)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/v2/bookings/%C2%84", "/v2/bookings/abc/change_status", "/v2/nothing", "/statusx"]
)
def test_unrouted_api_paths_answer_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", ["-5", "0", "abc", "null", "1.5", "\u0661"])
def test_a_bad_page_size_is_400_naming_it(api, booking, page_size):
    response = api.get("/v2/bookings", {"page_size": page_size})
    assert response.status_code == 400
    assert "page_size" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 0}, "name"),
        ({"name": "G", "notes": 1}, "notes"),
        ({"name": "G", "guest_count": "5"}, "guest_count"),
    ],
)
def test_json_types_are_not_coerced(api, booking, body, field):
    response = api.post("/v2/bookings", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert_untouched(booking)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/v2/bookings?stauts=lost", "/v2/bookings/{pk}?x=1", "/status?businessId=1"]
)
def test_unknown_query_parameters_are_400_naming_them(api, booking, path):
    response = api.get(path.format(pk=booking.pk))
    assert response.status_code == 400
    assert set(response.json()) == {path.split("?")[1].split("=")[0]}


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/*;q=0.5"])
def test_json_is_served_to_clients_that_accept_it(api, accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api.get("/status", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json(), list)


def test_a_client_that_accepts_no_json_gets_406_naming_what_it_can_have(api):
    response = api.get("/status", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert "detail" in response.json()


@pytest.mark.parametrize("suffix", ["", "/change_status", "/status_history"])
def test_booking_ids_too_long_to_be_numbers_are_404s(api, suffix):
    path = f"/v2/bookings/{'9' * 5000}{suffix}"
    if suffix == "/change_status":
        response = api.post(path, {"status": "definite"}, format="json")
    else:
        response = api.get(path)
    assert response.status_code == 404
    assert response.json()["detail"]


TOO_MANY_PARAMETERS = "&".join(f"p{n}=1" for n in range(1001))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v2/bookings"),
        ("get", "/v2/bookings/{pk}"),
        ("get", "/v2/bookings/{pk}/status_history"),
        ("post", "/v2/bookings/{pk}/change_status"),
        ("get", "/status"),
        ("put", "/status"),
        ("get", "/v2/schema"),
    ],
)
def test_more_than_a_thousand_query_parameters_is_a_json_400(api, booking, method, path):
    url = f"{path.format(pk=booking.pk)}?{TOO_MANY_PARAMETERS}"
    if method == "get":
        response = api.get(url)  # data would replace the query string
    else:
        response = getattr(api, method)(url, {"status": "lost"}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Too many query parameters: the limit is 1000."}
    assert_untouched(booking)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/v2/bookings", "/status", "/v2/schema"])
@pytest.mark.parametrize(
    "host", ["attacker.example", "127.0.0.1:abc", "a" * 5000, "", "127.0.0.1\x00"], ids=repr
)
def test_a_host_not_served_is_a_json_400_on_api_paths(api, path, host):
    response = api.get(path, HTTP_HOST=host)

    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}


@pytest.mark.django_db
def test_pages_outside_the_api_keep_django_s_html_400(client):
    response = client.get(f"/admin/login/?{TOO_MANY_PARAMETERS}")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("handler", "status"),
    [("bad_request", 400), ("permission_denied", 403), ("not_found", 404)],
)
def test_django_s_error_pages_are_json_on_api_paths_and_html_elsewhere(rf, handler, status):
    from django.core.exceptions import SuspiciousOperation

    from core import views

    def page(path: str):
        return getattr(views, handler)(rf.get(path), SuspiciousOperation("why"))

    assert page("/v2/bookings/1").status_code == status
    assert set(json.loads(page("/status").content)) == {"detail"}
    assert page("/admin/").headers["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_REAL_IP",
        "HTTP_FORWARDED",
        "HTTP_CLIENT_IP",
        "HTTP_TRUE_CLIENT_IP",
        "HTTP_X_CLUSTER_CLIENT_IP",
    ],
)
def test_rotating_a_client_address_header_does_not_escape_the_failed_token_throttle(
    client, monkeypatch, header
):
    from django.core.cache import cache

    from accounts.authentication import FailedAuthenticationThrottle

    monkeypatch.setattr(
        FailedAuthenticationThrottle, "THROTTLE_RATES", {"failed_authentication": "2/min"}
    )
    cache.clear()
    codes = [
        client.get(
            "/v2/bookings", HTTP_AUTHORIZATION="Token guess", **{header: f"for=192.0.2.{n}"}
        ).status_code
        for n in range(4)
    ]
    cache.clear()

    assert codes == [401, 401, 429, 429]


@pytest.mark.django_db
@pytest.mark.parametrize("length", ["-1", "+5", "1e3", "0x10", "99999999999999999999", "\u0663"])
def test_an_odd_content_length_is_a_json_4xx(api, booking, length):
    response = api.generic(
        "POST", "/v2/bookings", '{"name": "x"}', "application/json", CONTENT_LENGTH=length
    )

    assert response.status_code in (400, 413)
    assert response.json()["detail"]
    assert_untouched(booking)


DATETIME_FILTERS = sorted(
    name
    for name, definition in BookingFilter.base_filters.items()
    if isinstance(definition, django_filters.IsoDateTimeFilter)
)


@pytest.mark.django_db
@pytest.mark.parametrize("name", DATETIME_FILTERS)
@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00%2B05:00",  # before year 1 once in UTC
        "9999-12-31T23:00:00-05:00",  # after year 9999 once in UTC
        "2025-01-01T00:00:00%00",
    ],
)
def test_a_datetime_filter_outside_utc_or_with_a_nul_is_400_naming_it(api, booking, name, value):
    response = api.get(f"/v2/bookings?{name}={value}")
    assert response.status_code == 400
    assert list(response.json()) == [name]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "guest_count=2147483648",  # beyond the column on PostgreSQL
        "guest_count__lt=99999999999999999999999",
        "guest_count__gte=-1",
        "lost_date__gte=10000-01-01",
        "tentative_date__lt=0000-12-31",
    ],
)
def test_a_filter_value_the_column_cannot_hold_is_400_naming_it(api, booking, query):
    response = api.get(f"/v2/bookings?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [query.split("=")[0]]
