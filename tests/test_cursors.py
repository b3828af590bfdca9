"""Cursor pagination (core.pagination): only cursors the API handed out are followed."""

import base64
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def cursor_paginated_paths(client) -> list[str]:
    """Every operation of the published schema that takes a `cursor`: the lists of
    today, and any added later."""
    schema = client.get("/v2/schema?format=json").json()
    return sorted(
        path
        for path, operations in schema["paths"].items()
        if any(
            parameter["name"] == "cursor"
            for method, operation in operations.items()
            if method != "parameters"
            for parameter in operation.get("parameters", [])
        )
    )


@pytest.fixture
def list_urls(client, business, make_booking) -> list[str]:
    from webhooks.models import WebhookEndpoint

    booking = make_booking()
    for _ in range(3):
        booking.change_status("lost", at=dt.datetime(2025, 1, 10, tzinfo=dt.UTC))
    make_booking(name="another")
    endpoint = WebhookEndpoint.objects.create(
        business=business, url="https://hooks.example.com/in", event_types=["*"]
    )
    appointment = add_appointments(business)
    paths = cursor_paginated_paths(client)
    assert {"/v2/bookings", "/v2/bookings/{id}/status_history"} <= set(paths)
    # Each list's path id: one of the caller's objects of the kind the path names.
    owner_ids = {
        "/v2/bookings/": booking.pk,
        "/v2/webhook_endpoints/": endpoint.pk,
        "/v2/appointments/": appointment.pk,
    }
    return [
        path.replace(
            "{id}", str(next(pk for prefix, pk in owner_ids.items() if path.startswith(prefix)))
        )
        if "{id}" in path
        else path
        for path in paths
    ]


def add_appointments(business):
    """Two appointments, the first with two history entries; returns the first."""
    from appointments.actions import Target, change_status, create_appointment

    start = dt.datetime(2025, 3, 4, 9, tzinfo=dt.UTC)
    made = [
        create_appointment(
            business.pk,
            {
                "resource_id": None,
                "starts_at": start + dt.timedelta(hours=hours),
                "ends_at": start + dt.timedelta(hours=hours, minutes=30),
                "client_name": "Client",
            },
        )
        for hours in (0, 1)
    ]
    change_status(business.pk, made[0].pk, Target(status="CANCELLED", sub_status="CANCELLED"))
    return made[0]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# What a hostile client sends: DRF's own cursor format with any values in it, any
# bytes base64-encoded, a real cursor's shape with a forged signature, any text.
drf_style_cursors = st.fixed_dictionaries(
    {},
    optional={key: st.text(max_size=30) for key in ("o", "r", "p")},
).map(lambda tokens: b64("&".join(f"{k}={v}" for k, v in tokens.items()).encode()))
hostile_cursors = st.one_of(
    drf_style_cursors,
    st.binary(max_size=60).map(b64),
    st.binary(max_size=60).map(lambda raw: b64(raw) + ":" + b64(raw[:8])),
    st.text(max_size=80),
)


@pytest.mark.django_db
@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cursor=hostile_cursors)
def test_a_cursor_the_api_did_not_hand_out_is_a_400_naming_it(api, list_urls, cursor):
    for url in list_urls:
        response = api.get(url, {"cursor": cursor})
        assert response.status_code == 400, (url, cursor, response.content)
        assert response["Content-Type"] == "application/json"
        assert list(response.json()) == ["cursor"]


@pytest.mark.django_db
@pytest.mark.parametrize("crafted", ["p=notadate", "p=1&o=-1", "r=x", "p=99999999999999999999", ""])
def test_a_cursor_in_drfs_unsigned_format_is_refused(api, list_urls, crafted):
    for url in list_urls:
        response = api.get(url, {"cursor": b64(crafted.encode())})
        assert response.status_code == 400
        assert "cursor" in response.json()


@pytest.mark.django_db
def test_the_cursors_handed_out_walk_every_list_both_ways(api, list_urls):
    with_rows = ("/v2/bookings", "/v2/appointments")
    for url in [url for url in list_urls if url.startswith(with_rows)]:
        first = api.get(url, {"page_size": 1}).json()
        second = api.get(first["next"]).json()
        assert second["results"] != first["results"]
        back = api.get(second["previous"]).json()
        assert back["results"] == first["results"]
