"""The published OpenAPI contract."""

import pytest
from drf_spectacular.validation import validate_schema


@pytest.fixture
def schema(client, db) -> dict:
    response = client.get("/v2/schema?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v2/bookings", {"get", "post"}),
        ("/v2/bookings/{id}", {"get", "patch", "delete"}),
        ("/v2/bookings/{id}/change_status", {"post"}),
        ("/v2/bookings/{id}/status_history", {"get"}),
    ],
)
def test_every_booking_endpoint_is_described_with_its_errors(schema, path, methods):
    operations = schema["paths"][path]
    assert set(operations) - {"parameters"} == methods
    for method in methods:
        responses = operations[method]["responses"]
        assert {"401", "503"} <= set(responses)
        if "{id}" in path:
            assert "404" in responses
        if method in {"post", "patch"}:
            assert {"400", "413", "415"} <= set(responses)


def test_token_authentication_is_described(schema):
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")


def test_change_status_request_shape(schema):
    body = schema["components"]["schemas"]["ChangeStatusRequest"]
    assert body["required"] == ["status"]
    assert body["properties"]["status_at"]["format"] == "date-time"
    assert body["properties"]["status_date"]["format"] == "date"


@pytest.mark.django_db
def test_the_docs_page_is_served_without_any_third_party_host(client):
    response = client.get("/v2/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn." not in page
    assert "unpkg" not in page
