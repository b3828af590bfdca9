"""Every 404 of the API has the one body `{"detail": "Not found."}` (SPEC §17): an id
that does not exist on every operation of the published schema that takes one, an id
past any integer column, and paths no route serves. (Another business's ids answer the
same: tests/test_tenant_isolation.py.)"""

import pytest

from tests.conftest import schema_operations

NOT_FOUND = {"detail": "Not found."}
UNKNOWN_IDS = ["987654321", str(2**70)]


def operations_with_ids(client) -> list[tuple[str, str]]:
    return sorted((method, path) for method, path in schema_operations(client) if "{" in path)


@pytest.mark.django_db
def test_every_operation_answers_an_unknown_id_with_the_one_body(api, client, fake_dns):
    operations = operations_with_ids(client)
    assert len(operations) >= 11  # bookings (5 with an id), webhook endpoints (6)
    for method, path in operations:
        for unknown in UNKNOWN_IDS:
            concrete = path.replace("{id}", unknown).replace("{delivery_id}", unknown)
            response = getattr(api, method)(concrete, {}, format="json")
            assert response.status_code == 404, (method, concrete, response.content)
            assert response.json() == NOT_FOUND, (method, concrete)


@pytest.mark.django_db
def test_a_delivery_of_another_endpoint_is_not_found_with_the_one_body(api, business, fake_dns):
    endpoint = api.post("/v2/webhook_endpoints", {"url": "https://hooks.example.com/in"}).json()
    response = api.post(f"/v2/webhook_endpoints/{endpoint['id']}/deliveries/1/retry")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/v2/nothing", "/v2/bookings/abc", "/v2/bookings/1/nothing", "/status/1", "/v2/"],
)
def test_a_path_no_route_serves_has_the_one_body(api, path):
    response = api.get(path)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.django_db
def test_metrics_switched_off_has_the_one_body(client, settings):
    settings.METRICS_ENABLED = False
    response = client.get("/metrics")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
