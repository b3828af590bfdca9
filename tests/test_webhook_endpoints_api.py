"""The webhook endpoints API (SPEC §8.3, §13): shapes, rules, tenancy, secrets."""

import base64
import datetime as dt
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Business
from core.errors import Conflict
from events.models import Event
from tests.conftest import requires_postgresql
from webhooks.models import (
    ENDPOINT_DISABLED,
    MAX_ENDPOINTS_PER_BUSINESS,
    Delivery,
    DeliveryStatus,
    WebhookEndpoint,
)

URL = "https://hooks.example.com/in"
ENDPOINT_KEYS = {
    "id",
    "url",
    "event_types",
    "description",
    "active",
    "created_at",
    "disabled_reason",
}
DELIVERY_KEYS = {
    "id",
    "event_id",
    "event_type",
    "status",
    "attempts",
    "created_at",
    "last_attempt_at",
    "next_attempt_at",
    "last_response_status",
    "last_error",
}


@pytest.fixture(autouse=True)
def production_rules(settings, fake_dns):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False


@pytest.fixture
def make_endpoint(business):
    def make(**fields) -> WebhookEndpoint:
        fields.setdefault("business", business)
        fields.setdefault("url", URL)
        fields.setdefault("event_types", ["*"])
        return WebhookEndpoint.objects.create(**fields)

    return make


@pytest.fixture
def make_delivery(business):
    def make(endpoint: WebhookEndpoint, **fields) -> Delivery:
        event = Event.objects.create(
            business_id=endpoint.business_id, type="booking.created", data={"booking": {}}
        )
        return Delivery.objects.create(endpoint=endpoint, event=event, **fields)

    return make


def is_secret(value: str) -> bool:
    return value.startswith("whsec_") and len(base64.b64decode(value[6:])) == 32


# --- create -------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_answers_201_with_the_endpoint_and_its_secret(api, business):
    response = api.post(
        "/v2/webhook_endpoints",
        {"url": URL, "event_types": ["booking.created"], "description": "CRM"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == ENDPOINT_KEYS | {"secret"}
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint.business_id == business.id
    assert body["secret"] == endpoint.secret
    assert is_secret(body["secret"])
    assert body["url"] == URL
    assert body["event_types"] == ["booking.created"]
    assert (body["description"], body["active"], body["disabled_reason"]) == ("CRM", True, "")
    assert body["created_at"].endswith("Z")


@pytest.mark.django_db
def test_create_defaults_to_every_event_type_and_no_description(api):
    body = api.post("/v2/webhook_endpoints", {"url": URL}).json()
    assert (body["event_types"], body["description"]) == (["*"], "")


@pytest.mark.django_db
def test_create_ignores_read_only_fields_and_starts_active(api):
    body = api.post("/v2/webhook_endpoints", {"url": URL, "id": 999, "disabled_reason": "x"}).json()
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert body["id"] != 999
    assert endpoint.active
    assert endpoint.disabled_reason == ""


@pytest.mark.django_db
def test_create_honours_active_false(api):
    body = api.post("/v2/webhook_endpoints", {"url": URL, "active": False}).json()

    assert body["active"] is False
    assert WebhookEndpoint.objects.get(pk=body["id"]).active is False
    assert api.get(f"/v2/webhook_endpoints/{body['id']}").json()["active"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": None}, "url"),
        ({"url": 5}, "url"),
        ({"url": "http://hooks.example.com/in"}, "url"),
        ({"url": "https://private.example.com/in"}, "url"),
        ({"url": "https://split.example.com/in"}, "url"),
        ({"url": "https://127.0.0.1/in"}, "url"),
        ({"url": "https://localhost/in"}, "url"),
        ({"url": "https://nowhere.example.com/in"}, "url"),
        ({"url": "https://" + "a" * 2050}, "url"),
        ({"url": URL, "event_types": []}, "event_types"),
        ({"url": URL, "event_types": None}, "event_types"),
        ({"url": URL, "event_types": "booking.created"}, "event_types"),
        ({"url": URL, "event_types": ["booking.exploded"]}, "event_types"),
        ({"url": URL, "event_types": [1]}, "event_types"),
        ({"url": URL, "event_types": ["*", "booking.created"]}, "event_types"),
        ({"url": URL, "description": 7}, "description"),
        ({"url": URL, "description": "x" * 501}, "description"),
        ({"url": URL, "secret": "whsec_chosen_by_the_client"}, "secret"),
    ],
)
def test_create_refuses_bad_input_naming_the_field_and_writes_nothing(api, body, field):
    response = api.post("/v2/webhook_endpoints", body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_repeated_event_types_are_stored_once(api):
    body = api.post(
        "/v2/webhook_endpoints",
        {"url": URL, "event_types": ["status.deleted", "booking.created", "status.deleted"]},
    ).json()
    assert body["event_types"] == ["status.deleted", "booking.created"]


@pytest.mark.django_db
def test_plain_http_and_private_hosts_pass_when_the_settings_allow_them(api, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    response = api.post("/v2/webhook_endpoints", {"url": "http://127.0.0.1:9000/in"})
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_at_most_16_endpoints_per_business_inactive_ones_included(
    api, make_endpoint, other_business
):
    for number in range(MAX_ENDPOINTS_PER_BUSINESS - 1):
        make_endpoint(active=number % 2 == 0, description=str(number))
    make_endpoint(business=other_business)  # another business's do not count
    assert api.post("/v2/webhook_endpoints", {"url": URL}).status_code == 201

    response = api.post("/v2/webhook_endpoints", {"url": URL})

    assert response.status_code == 409
    assert "16" in response.json()["detail"]
    assert WebhookEndpoint.objects.for_business(43111).count() == MAX_ENDPOINTS_PER_BUSINESS


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_make_a_17th_endpoint(fake_dns, monkeypatch):
    count_then_refuse = WebhookEndpoint.refuse_beyond_the_limit

    def count_then_linger(endpoint):
        count_then_refuse(endpoint)
        time.sleep(0.2)  # between the count and the insert: where a race would be

    monkeypatch.setattr(WebhookEndpoint, "refuse_beyond_the_limit", count_then_linger)
    business = Business.objects.create(id=43111, name="Demo Venue")
    for _ in range(MAX_ENDPOINTS_PER_BUSINESS - 2):
        WebhookEndpoint.objects.create(business=business, url=URL, event_types=["*"])
    racers = 6
    start = threading.Barrier(racers)
    outcomes = []

    def register():
        try:
            start.wait()
            WebhookEndpoint(business_id=business.id, url=URL, event_types=["*"]).register()
            outcomes.append("created")
        except Conflict:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=register) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created"] * 2 + ["refused"] * (racers - 2)
    assert WebhookEndpoint.objects.filter(business=business).count() == 16


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_create_with_the_same_secret(api):
    first = api.post("/v2/webhook_endpoints", {"url": URL}, HTTP_IDEMPOTENCY_KEY="create-1")
    again = api.post("/v2/webhook_endpoints", {"url": URL}, HTTP_IDEMPOTENCY_KEY="create-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert WebhookEndpoint.objects.count() == 1


# --- read -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_shows_the_callers_endpoints_oldest_first_without_secrets(
    api, make_endpoint, other_business
):
    older = make_endpoint(description="older")
    newer = make_endpoint(description="newer")
    theirs = make_endpoint(business=other_business)

    response = api.get("/v2/webhook_endpoints")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next"}
    assert body["next"] is None
    assert [item["id"] for item in body["results"]] == [older.pk, newer.pk]
    assert all(set(item) == ENDPOINT_KEYS for item in body["results"])
    for endpoint in (older, newer, theirs):
        assert endpoint.secret not in response.content.decode()


@pytest.mark.django_db
def test_one_endpoint_without_its_secret(api, make_endpoint):
    endpoint = make_endpoint(description="CRM")
    response = api.get(f"/v2/webhook_endpoints/{endpoint.pk}")
    assert response.status_code == 200
    assert set(response.json()) == ENDPOINT_KEYS
    assert endpoint.secret not in response.content.decode()


@pytest.mark.django_db
def test_an_unknown_query_parameter_is_refused(api, make_endpoint):
    assert "active" in api.get("/v2/webhook_endpoints?active=true").json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "/rotate_secret"),
        ("get", "/deliveries"),
    ],
)
def test_another_business_endpoint_is_a_404_and_unchanged(other_api, make_endpoint, method, suffix):
    endpoint = make_endpoint()
    before = WebhookEndpoint.objects.filter(pk=endpoint.pk).values().get()
    body = {"description": "pwned"} if method == "patch" else None
    response = getattr(other_api, method)(f"/v2/webhook_endpoints/{endpoint.pk}{suffix}", body)
    assert response.status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).values().get() == before


# --- PATCH ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_patch_changes_the_given_fields_only(api, make_endpoint):
    endpoint = make_endpoint(description="CRM", event_types=["*"])
    response = api.patch(
        f"/v2/webhook_endpoints/{endpoint.pk}",
        {"url": "https://other.example.com/new", "event_types": ["status.updated"]},
    )
    assert response.status_code == 200, response.content
    assert set(response.json()) == ENDPOINT_KEYS
    endpoint.refresh_from_db()
    assert endpoint.url == "https://other.example.com/new"
    assert endpoint.event_types == ["status.updated"]
    assert endpoint.description == "CRM"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://private.example.com/in"}, "url"),
        ({"url": "https://nowhere.example.com/in"}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["*", "status.created"]}, "event_types"),
        ({"active": "false"}, "active"),
        ({"created_at": "x", "colour": "red"}, "colour"),
    ],
)
def test_patch_refuses_bad_input_and_changes_nothing(api, make_endpoint, body, field):
    endpoint = make_endpoint()
    before = WebhookEndpoint.objects.filter(pk=endpoint.pk).values().get()
    response = api.patch(f"/v2/webhook_endpoints/{endpoint.pk}", body)
    assert response.status_code == 400
    assert field in response.json()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).values().get() == before


@pytest.mark.django_db
def test_deactivating_fails_the_pending_deliveries_and_keeps_the_others(
    api, make_endpoint, make_delivery
):
    endpoint = make_endpoint()
    pending = make_delivery(endpoint, next_attempt_at=timezone.now())
    succeeded = make_delivery(endpoint, status=DeliveryStatus.SUCCEEDED, attempts=1)

    response = api.patch(f"/v2/webhook_endpoints/{endpoint.pk}", {"active": False})

    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["disabled_reason"] == "deactivated by the business"
    pending.refresh_from_db()
    succeeded.refresh_from_db()
    assert (pending.status, pending.last_error) == (DeliveryStatus.FAILED, ENDPOINT_DISABLED)
    assert succeeded.status == DeliveryStatus.SUCCEEDED


@pytest.mark.django_db
def test_reactivating_clears_the_reason_and_the_auto_disable_clock(api, make_endpoint):
    endpoint = make_endpoint(
        active=False, disabled_reason="the receiver answered 410", failing_since=timezone.now()
    )
    response = api.patch(f"/v2/webhook_endpoints/{endpoint.pk}", {"active": True})
    assert response.status_code == 200
    assert (response.json()["active"], response.json()["disabled_reason"]) == (True, "")
    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.disabled_reason, endpoint.failing_since) == (True, "", None)


# --- DELETE ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_delete_drops_the_endpoint_and_its_deliveries(api, make_endpoint, make_delivery):
    endpoint = make_endpoint()
    kept = make_endpoint()
    make_delivery(endpoint)
    other_delivery = make_delivery(kept)

    response = api.delete(f"/v2/webhook_endpoints/{endpoint.pk}")

    assert response.status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert list(Delivery.objects.all()) == [other_delivery]


# --- rotate_secret --------------------------------------------------------------------


@pytest.mark.django_db
def test_rotate_answers_the_new_secret_and_keeps_the_old_one_signing_for_a_day(api, make_endpoint):
    endpoint = make_endpoint()
    old = endpoint.secret

    response = api.post(f"/v2/webhook_endpoints/{endpoint.pk}/rotate_secret")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == ENDPOINT_KEYS | {"secret"}
    assert is_secret(body["secret"])
    assert body["secret"] != old
    endpoint.refresh_from_db()
    assert endpoint.secret == body["secret"]
    assert endpoint.signing_secrets() == [body["secret"], old]
    expires = dt.datetime.fromisoformat(endpoint.previous_secrets[0]["expires_at"])
    assert abs(expires - (timezone.now() + dt.timedelta(hours=24))) < dt.timedelta(minutes=1)
    assert endpoint.signing_secrets(now=expires + dt.timedelta(seconds=1)) == [body["secret"]]
    assert body["secret"] not in api.get(f"/v2/webhook_endpoints/{endpoint.pk}").content.decode()


@pytest.mark.django_db
def test_rotations_keep_the_unexpired_secrets_newest_first_and_drop_expired_ones(make_endpoint):
    endpoint = make_endpoint(
        previous_secrets=[
            {"secret": "whsec_expired", "expires_at": "2020-01-01T00:00:00+00:00"},
        ]
    )
    first = endpoint.secret
    second = endpoint.rotate_secret()
    third = endpoint.rotate_secret()
    endpoint.refresh_from_db()
    assert endpoint.signing_secrets() == [third, second, first]
    assert [entry["secret"] for entry in endpoint.previous_secrets] == [second, first]


# --- deliveries -----------------------------------------------------------------------


@pytest.mark.django_db
def test_deliveries_newest_first_in_the_delivery_shape(api, make_endpoint, make_delivery):
    endpoint = make_endpoint()
    older = make_delivery(endpoint)
    newer = make_delivery(
        endpoint,
        status=DeliveryStatus.FAILED,
        attempts=8,
        last_response_status=500,
        last_error="HTTP 500",
    )
    make_delivery(make_endpoint())  # another endpoint's

    response = api.get(f"/v2/webhook_endpoints/{endpoint.pk}/deliveries")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["id"] for item in results] == [newer.pk, older.pk]
    assert set(results[0]) == DELIVERY_KEYS
    assert results[0]["event_id"] == f"evt_{newer.event_id}"
    assert results[0]["event_type"] == "booking.created"
    assert (results[0]["status"], results[0]["attempts"]) == ("failed", 8)
    assert (results[0]["last_response_status"], results[0]["last_error"]) == (500, "HTTP 500")


@pytest.mark.django_db
def test_deliveries_filtered_by_status(api, make_endpoint, make_delivery):
    endpoint = make_endpoint()
    failed = make_delivery(endpoint, status=DeliveryStatus.FAILED)
    make_delivery(endpoint)
    response = api.get(f"/v2/webhook_endpoints/{endpoint.pk}/deliveries?status=failed")
    assert [item["id"] for item in response.json()["results"]] == [failed.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [("status=lost", "status"), ("page_size=0", "page_size"), ("page_size=x", "page_size")],
)
def test_deliveries_refuse_a_bad_query(api, make_endpoint, query, field):
    endpoint = make_endpoint()
    response = api.get(f"/v2/webhook_endpoints/{endpoint.pk}/deliveries?{query}")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_deliveries_come_a_cursor_page_at_a_time(api, make_endpoint, make_delivery):
    endpoint = make_endpoint()
    made = [make_delivery(endpoint) for _ in range(3)]
    first = api.get(f"/v2/webhook_endpoints/{endpoint.pk}/deliveries?page_size=2").json()
    second = api.get(first["next"]).json()
    seen = [item["id"] for item in first["results"] + second["results"]]
    assert seen == [delivery.pk for delivery in reversed(made)]
    assert second["next"] is None


# --- retry ----------------------------------------------------------------------------


def retry_path(delivery: Delivery) -> str:
    return f"/v2/webhook_endpoints/{delivery.endpoint_id}/deliveries/{delivery.pk}/retry"


@pytest.mark.django_db
@pytest.mark.parametrize("status", DeliveryStatus.values)
def test_retry_makes_any_delivery_pending_and_due_now_keeping_its_attempts(
    api, make_endpoint, make_delivery, status
):
    delivery = make_delivery(
        make_endpoint(),
        status=status,
        attempts=8,
        next_attempt_at=None,
        last_error="HTTP 500",
    )

    response = api.post(retry_path(delivery))

    assert response.status_code == 202
    body = response.json()
    assert set(body) == DELIVERY_KEYS
    assert (body["status"], body["attempts"]) == ("pending", 8)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 8)
    assert abs(delivery.next_attempt_at - timezone.now()) < dt.timedelta(minutes=1)


@pytest.mark.django_db
def test_retry_is_refused_while_the_endpoint_is_inactive(api, make_endpoint, make_delivery):
    endpoint = make_endpoint()
    delivery = make_delivery(endpoint, next_attempt_at=timezone.now())
    endpoint.deactivate("the receiver answered 410")

    response = api.post(retry_path(delivery))

    assert response.status_code == 409
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.FAILED, ENDPOINT_DISABLED)


@pytest.mark.django_db
def test_retry_of_another_business_or_another_endpoints_delivery_is_a_404(
    api, other_api, make_endpoint, make_delivery
):
    delivery = make_delivery(make_endpoint(), status=DeliveryStatus.FAILED)
    elsewhere = make_endpoint()

    assert other_api.post(retry_path(delivery)).status_code == 404
    assert (
        api.post(f"/v2/webhook_endpoints/{elsewhere.pk}/deliveries/{delivery.pk}/retry").status_code
        == 404
    )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


@pytest.mark.django_db
def test_retry_with_ids_past_bigint_is_a_404(api, make_endpoint, make_delivery):
    delivery = make_delivery(make_endpoint(), status=DeliveryStatus.FAILED)
    huge = 2**100  # found by the schema fuzzer: a 500 on SQLite before

    for path in (
        f"/v2/webhook_endpoints/{huge}/deliveries/{delivery.pk}/retry",
        f"/v2/webhook_endpoints/{delivery.endpoint_id}/deliveries/{huge}/retry",
    ):
        assert api.post(path).status_code == 404
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


@pytest.mark.django_db
def test_an_unknown_event_type_is_named_in_a_flat_list_of_messages(api):
    response = api.post(
        "/v2/webhook_endpoints", {"url": URL, "event_types": ["booking.created", "nope"]}
    )
    assert response.status_code == 400
    assert response.json() == {"event_types": ['Item 1: "nope" is not a valid choice.']}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["https://[2002:7f00:1::]/in", "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/in"]
)
def test_6to4_and_teredo_wrappings_of_loopback_are_refused_on_create_and_patch(
    api, make_endpoint, settings, url
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    endpoint = make_endpoint()
    before = list(WebhookEndpoint.objects.values())

    created = api.post("/v2/webhook_endpoints", {"url": url})
    patched = api.patch(f"/v2/webhook_endpoints/{endpoint.pk}", {"url": url})

    assert (created.status_code, list(created.json())) == (400, ["url"])
    assert (patched.status_code, list(patched.json())) == (400, ["url"])
    assert list(WebhookEndpoint.objects.values()) == before
