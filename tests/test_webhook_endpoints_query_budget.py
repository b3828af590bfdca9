"""Queries per request of the webhook endpoints API: none grows with the data."""

import pytest

from events.models import Event
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint

AUTH = 1  # the token lookup (token, user and business in one join)
ATOMIC = 2  # each atomic block is a SAVEPOINT/RELEASE pair inside the test's transaction
URL = "https://hooks.example.com/in"


@pytest.fixture(autouse=True)
def offline(fake_dns):
    """URLs resolve from the fake DNS (tests/fake_dns.py)."""


@pytest.fixture
def endpoint(business) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(business=business, url=URL, event_types=["*"])


def add_deliveries(endpoint: WebhookEndpoint, count: int) -> list[Delivery]:
    return [
        Delivery.objects.create(
            endpoint=endpoint,
            event=Event.objects.create(business_id=endpoint.business_id, type="x", data={}),
            status=DeliveryStatus.FAILED,
        )
        for _ in range(count)
    ]


@pytest.mark.query_budget("get", "/v2/webhook_endpoints")
@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 12])
def test_list(api, business, django_assert_num_queries, count):
    for _ in range(count):
        WebhookEndpoint.objects.create(business=business, url=URL, event_types=["*"])
    with django_assert_num_queries(AUTH + 1):
        assert len(api.get("/v2/webhook_endpoints").json()["results"]) == count


@pytest.mark.query_budget("get", "/v2/webhook_endpoints/{id}")
@pytest.mark.django_db
def test_retrieve(api, endpoint, django_assert_num_queries):
    with django_assert_num_queries(AUTH + 1):
        assert api.get(f"/v2/webhook_endpoints/{endpoint.pk}").status_code == 200


@pytest.mark.query_budget("post", "/v2/webhook_endpoints")
@pytest.mark.django_db
def test_create(api, django_assert_num_queries):
    # The business row locked, the count, the insert.
    with django_assert_num_queries(AUTH + ATOMIC + 3):
        assert api.post("/v2/webhook_endpoints", {"url": URL}).status_code == 201


@pytest.mark.query_budget("patch", "/v2/webhook_endpoints/{id}")
@pytest.mark.django_db
def test_patch(api, endpoint, django_assert_num_queries):
    # The scoped read, the locked re-read, the update.
    with django_assert_num_queries(AUTH + 1 + ATOMIC + 2):
        response = api.patch(f"/v2/webhook_endpoints/{endpoint.pk}", {"description": "CRM"})
    assert response.status_code == 200


@pytest.mark.query_budget("post", "/v2/webhook_endpoints/{id}/rotate_secret")
@pytest.mark.django_db
def test_rotate_secret(api, endpoint, django_assert_num_queries):
    with django_assert_num_queries(AUTH + 1 + ATOMIC + 2):
        assert api.post(f"/v2/webhook_endpoints/{endpoint.pk}/rotate_secret").status_code == 200


@pytest.mark.query_budget("get", "/v2/webhook_endpoints/{id}/deliveries")
@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 30])
def test_deliveries_page(api, endpoint, django_assert_num_queries, count):
    add_deliveries(endpoint, count)
    with django_assert_num_queries(AUTH + 2):  # the endpoint, then one page with event types
        response = api.get(f"/v2/webhook_endpoints/{endpoint.pk}/deliveries")
    assert len(response.json()["results"]) == count


@pytest.mark.query_budget("post", "/v2/webhook_endpoints/{id}/deliveries/{delivery_id}/retry")
@pytest.mark.django_db
def test_retry(api, endpoint, django_assert_num_queries):
    (delivery,) = add_deliveries(endpoint, 1)
    # The scoped read, the endpoint locked, the delivery re-read locked, the update.
    with django_assert_num_queries(AUTH + 1 + ATOMIC + 3):
        response = api.post(f"/v2/webhook_endpoints/{endpoint.pk}/deliveries/{delivery.pk}/retry")
    assert response.status_code == 202


@pytest.mark.query_budget("delete", "/v2/webhook_endpoints/{id}")
@pytest.mark.django_db
@pytest.mark.parametrize("count", [0, 20])
def test_delete_drops_the_deliveries_in_one_statement(
    api, endpoint, django_assert_num_queries, count
):
    add_deliveries(endpoint, count)
    # The scoped read, then one DELETE for the deliveries and one for the endpoint
    # (Django's delete opens its transaction without a savepoint).
    with django_assert_num_queries(AUTH + 1 + 2):
        assert api.delete(f"/v2/webhook_endpoints/{endpoint.pk}").status_code == 204
