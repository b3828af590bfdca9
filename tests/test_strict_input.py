"""Strictness of the query string and the JSON body on every endpoint (SPEC §17,
"Everywhere"): a single-valued query parameter given twice, or any given empty, is a
400 naming it; a JSON key given twice, at any depth, is a 400 naming the key; nothing
is written on either."""

import pytest

from bookings.models import Booking, BookingStatusChange
from events.models import Event
from statuses.models import Status
from webhooks.models import WebhookEndpoint


@pytest.fixture
def concrete_ids(business, make_booking, fake_dns):
    booking = make_booking()
    endpoint = WebhookEndpoint.objects.create(
        business=business, url="https://hooks.example.com/in", event_types=["*"]
    )
    return {"id": booking.pk, "booking": booking.pk, "endpoint": endpoint.pk}


def query_parameters(client, ids) -> list[tuple[str, str, dict]]:
    """(concrete path, parameter name, its schema) of every GET of the published schema."""
    schema = client.get("/v2/schema?format=json").json()
    found = []
    for path, operations in schema["paths"].items():
        if "get" not in operations or path.startswith(("/v2/schema", "/v2/docs")):
            continue
        endpoint_id = ids["endpoint"] if "webhook_endpoints" in path else ids["booking"]
        concrete = path.replace("{id}", str(endpoint_id))
        for parameter in operations["get"].get("parameters", []):
            if parameter["in"] == "query":
                found.append((concrete, parameter["name"], parameter.get("schema", {})))
    return found


@pytest.mark.django_db
def test_every_query_parameter_given_empty_is_a_400_naming_it(api, client, concrete_ids):
    parameters = query_parameters(client, concrete_ids)
    # Every list, filter, feed and report has its parameters checked.
    assert {path for path, *_ in parameters} >= {
        "/v2/bookings",
        f"/v2/bookings/{concrete_ids['booking']}/status_history",
        "/v2/events",
        "/v2/webhook_endpoints",
        f"/v2/webhook_endpoints/{concrete_ids['endpoint']}/deliveries",
        "/v2/reports/pipeline",
        "/v2/reports/time_in_status",
    }
    for path, name, _ in parameters:
        response = api.get(f"{path}?{name}=")
        assert response.status_code == 400, (path, name, response.content)
        assert list(response.json()) == [name], (path, name)


@pytest.mark.django_db
def test_every_single_valued_query_parameter_given_twice_is_a_400_naming_it(
    api, client, concrete_ids
):
    for path, name, schema in query_parameters(client, concrete_ids):
        if schema.get("type") == "array":
            continue
        response = api.get(f"{path}?{name}=1&{name}=2")
        assert response.status_code == 400, (path, name, response.content)
        assert list(response.json()) == [name], (path, name)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "/v2/bookings?status=lead&status=lost",
        "/v2/bookings?status=lead,lost&status=tentative",
        "/v2/events?type=booking.created&type=booking.updated",
    ],
)
def test_parameters_that_take_several_values_may_repeat(api, query):
    assert api.get(query).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "/v2/reports/pipeline?interval=",
        "/v2/reports/pipeline?from=2025-01-01&from=2024-01-01",
        "/v2/reports/time_in_status?to=",
        "/v2/events?type=",
        "/v2/bookings?status=",
        "/v2/bookings?name=a&name=b",
        "/v2/bookings?page_size=",
    ],
)
def test_the_reported_cases_are_refused(api, query):
    name = query.split("?")[1].split("=")[0]
    response = api.get(query)
    assert response.status_code == 400
    assert list(response.json()) == [name]


@pytest.mark.django_db
def test_time_in_status_names_from_for_a_range_too_long(api):
    response = api.get("/v2/reports/time_in_status?from=1980-01-01&to=2025-01-01")
    assert response.status_code == 400
    assert list(response.json()) == ["from"]


def database_state() -> tuple:
    return (
        list(Booking.objects.order_by("id").values()),
        BookingStatusChange.objects.count(),
        Event.objects.count(),
        list(Status.objects.order_by("id").values()),
        list(WebhookEndpoint.objects.order_by("id").values()),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body", "key"),
    [
        ("post", "/v2/bookings", '{"name": "A", "name": "B"}', "name"),
        (
            "post",
            "/v2/bookings/{id}/change_status",
            '{"status": "lost", "status": "lead"}',
            "status",
        ),
        ("patch", "/v2/bookings/{id}", '{"notes": "a", "guest_count": 1, "notes": "b"}', "notes"),
        (
            "post",
            "/v2/bookings/change_status",
            '{"ids": [{id}], "status": "lost", "ids": [1]}',
            "ids",
        ),
        (
            "post",
            "/status",
            '{"businessId": 43111, "status": "OPEN", "subStatus": "A", "subStatus": "B"}',
            "subStatus",
        ),
        ("put", "/status", '{"statusId": 1, "statusId": 2}', "statusId"),
        (
            "post",
            "/v2/webhook_endpoints",
            '{"url": "https://hooks.example.com/a", "description": "x", "description": "y"}',
            "description",
        ),
        (
            "patch",
            "/v2/webhook_endpoints/{endpoint}",
            '{"active": false, "active": true}',
            "active",
        ),
        # At any depth: the key is named wherever it stands.
        (
            "post",
            "/v2/bookings",
            '{"name": "A", "notes": "n", "x": [{"deep": 1, "deep": 2}]}',
            "deep",
        ),
    ],
)
def test_a_json_key_given_twice_is_a_400_naming_it_and_writes_nothing(
    api, concrete_ids, method, path, body, key
):
    path = path.replace("{id}", str(concrete_ids["booking"])).replace(
        "{endpoint}", str(concrete_ids["endpoint"])
    )
    body = body.replace("{id}", str(concrete_ids["booking"]))
    before = database_state()

    response = getattr(api, method)(path, body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == [key]
    assert database_state() == before
