"""The published OpenAPI contract."""

import inspect
import sys
import warnings

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


def test_token_and_bearer_authentication_are_described_as_alternatives(schema):
    schemes = schema["components"]["securitySchemes"]
    token, bearer = schemes["tokenAuth"], schemes["bearerAuth"]
    assert (token["type"], token["in"], token["name"]) == ("apiKey", "header", "Authorization")
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    security = schema["paths"]["/v2/bookings"]["get"]["security"]
    assert security == [{"tokenAuth": []}, {"bearerAuth": []}]


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


def every_operation(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def every_class_docstring() -> set[str]:
    """The docstring of every class loaded, whitespace normalised as the schema has it."""
    docstrings = set()
    with warnings.catch_warnings():  # some modules warn when their attributes are read
        warnings.simplefilter("ignore")
        for module in list(sys.modules.values()):
            for value in list(vars(module).values()):
                if isinstance(value, type) and isinstance(value.__doc__, str):
                    docstrings.add(" ".join(inspect.cleandoc(value.__doc__).split()))
    return docstrings


def test_every_operation_has_its_own_description_not_a_class_docstring(schema):
    docstrings = every_class_docstring()
    for name, operation in every_operation(schema):
        description = " ".join(operation.get("description", "").split())
        assert description, f"{name} has no description"
        assert description not in docstrings, f"{name} is described by a class docstring"


@pytest.mark.parametrize(
    "path",
    [
        "/v2/bookings/{id}",
        "/v2/bookings/{id}/change_status",
        "/v2/bookings/{id}/status_history",
    ],
)
def test_the_path_id_is_an_integer_like_the_body_id(schema, path):
    for _, operation in every_operation({"paths": {path: schema["paths"][path]}}):
        (parameter,) = [p for p in operation["parameters"] if p["in"] == "path"]
        assert parameter["name"] == "id"
        assert parameter["schema"]["type"] == "integer"
    assert schema["components"]["schemas"]["Booking"]["properties"]["id"]["type"] == "integer"
