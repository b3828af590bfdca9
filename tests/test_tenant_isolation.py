"""Every endpoint and method, called by one business against another's data:
refused (404, or 403 where SPEC §4 says so) or confined to the caller, and the other
business's data unchanged. The matrix must cover every operation of the published
schema, so a new endpoint cannot slip past it."""

import datetime as dt

import pytest

from accounts.models import Business
from appointments.actions import Target, change_status, create_appointment, create_resource
from appointments.models import Appointment, AppointmentStatusChange, Resource
from bookings.lost_reasons import LostReasonList
from bookings.models import Booking, BookingStatusChange, LostReason
from core.models import IdempotencyKey
from events.models import Event, EventType
from statuses.models import Status
from statuses.services import fork_shared_statuses
from tests.conftest import schema_operations
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint


@pytest.fixture
def victim_data(business, api_user, fake_dns):
    """Business 43111's data: a booking with history, its own status list and lost
    reasons, an event, and a webhook endpoint with a failed delivery. (URLs resolve from
    tests/fake_dns.py.)"""
    booking = Booking.objects.create(business=business, name="Private wedding")
    booking.change_status("tentative", at=dt.datetime(2025, 1, 10, tzinfo=dt.UTC))
    fork_shared_statuses(business, by=api_user)
    reason = LostReasonList.of(business).add({"code": "victim_only", "label": "Victim's"})
    lost = Booking.objects.create(business=business, name="Lost wedding")
    lost.change_status("lost", lost_reason_id=reason.pk)
    event = Event.objects.record(business.id, EventType.BOOKING_CREATED, {"booking": {}})
    endpoint = WebhookEndpoint.objects.create(
        business=business, url="https://hooks.example.com/victim", event_types=["*"]
    )
    delivery = Delivery.objects.create(endpoint=endpoint, event=event, status=DeliveryStatus.FAILED)
    resource = create_resource(business.id, name="Victim's chair")
    appointment = create_appointment(
        business.id,
        {
            "resource_id": resource.pk,
            "starts_at": dt.datetime(2025, 3, 4, 9, tzinfo=dt.UTC),
            "ends_at": dt.datetime(2025, 3, 4, 9, 30, tzinfo=dt.UTC),
            "client_name": "Private client",
        },
    )
    change_status(business.id, appointment.pk, Target(status="OPEN", sub_status="RUNNING_LATE"))
    return {
        "booking": booking,
        "status": Status.objects.for_business(business.id).first(),
        "event": event,
        "endpoint": endpoint,
        "delivery": delivery,
        "lost_reason": reason,
        "resource": resource,
        "appointment": appointment,
    }


@pytest.fixture
def attacker_booking(other_business):
    """The attacker's own booking, to change with the victim's lost reason."""
    return Booking.objects.create(business=other_business, name="Attacker's own")


@pytest.fixture
def attacker_status(other_business, other_api):
    """The attacker's own status (so a PUT that targets its own id is well-formed)."""
    response = other_api.post(
        "/status",
        {"businessId": other_business.id, "status": "OPEN", "subStatus": "Attacker's own"},
        format="json",
    )
    assert response.status_code == 201
    return Status.objects.get(pk=response.json()["statusId"])


def victim_snapshot(business) -> dict:
    return {
        "business": list(Business.objects.filter(pk=business.pk).values()),
        "lost_reasons": list(LostReason.objects.filter(business=business).order_by("id").values()),
        "bookings": list(Booking.objects.filter(business=business).order_by("id").values()),
        "history": list(
            BookingStatusChange.objects.filter(booking__business=business).order_by("id").values()
        ),
        "statuses": list(Status.objects.filter(business=business).order_by("id").values()),
        "idempotency": list(IdempotencyKey.objects.filter(business=business).values()),
        "webhook_endpoints": list(
            WebhookEndpoint.objects.filter(business=business).order_by("id").values()
        ),
        "deliveries": list(
            Delivery.objects.filter(endpoint__business=business).order_by("id").values()
        ),
        "events": list(Event.objects.filter(business=business).order_by("id").values()),
        **{
            model.__name__: list(model.objects.filter(business=business).order_by("id").values())
            for model in (Resource, Appointment, AppointmentStatusChange)
        },
    }


def attacks(victim, business, attacker_status, attacker_booking):
    """(method, schema path, concrete path, body, expected status, check of the answer).
    A body may be a function of the attack's number (for bodies that must differ)."""
    booking_id, status_id = victim["booking"].pk, victim["status"].pk
    reason_id = victim["lost_reason"].pk

    def no_victim_reasons(body):
        assert reason_id not in [reason["id"] for reason in body["results"]]

    def reason_in_own_business(body):
        assert not LostReason.objects.filter(pk=body["id"], business=business).exists()

    def names_the_reason(body):
        assert list(body) == ["lost_reason_id"]

    def counts_only_own_losses(body):
        own = BookingStatusChange.objects.filter(to_status="lost").exclude(business=business)
        assert sum(row["lost"] for row in body["results"]) == own.count()

    def no_victim_bookings(body):
        assert booking_id not in [b["id"] for b in body["results"]]

    def no_victim_statuses(body):
        assert business.id not in {s["businessId"] for s in body}

    def no_victim_events(body):
        assert business.id not in {event["business_id"] for event in body["results"]}

    def lists_the_victim_booking(body):
        assert body["ids"] == [booking_id]

    def created_in_own_business(body):
        assert not Booking.objects.filter(pk=body["id"], business=business).exists()

    def no_victim_endpoints(body):
        assert endpoint_id not in [e["id"] for e in body["results"]]

    def own_business_only(body):
        assert body["id"] != business.id

    def counts_only_own_bookings(body):
        own = Booking.objects.exclude(business=business).count()
        assert sum(row["bookings"] for row in body["results"]) == own

    def counts_no_victim_stays(body):
        assert sum(row["stays"] for row in body["results"]) == 0

    def endpoint_in_own_business(body):
        assert not WebhookEndpoint.objects.filter(pk=body["id"], business=business).exists()

    resource_id, appointment_id = victim["resource"].pk, victim["appointment"].pk
    resource_path = f"/v2/resources/{resource_id}"
    appointment_path = f"/v2/appointments/{appointment_id}"

    def no_victim_resources(body):
        assert resource_id not in [r["id"] for r in body["results"]]

    def resource_in_own_business_removed_again(body):
        assert not Resource.objects.filter(pk=body["id"], business=business).exists()
        # Removed again, so that the same attack with an Idempotency-Key creates it anew
        # rather than meeting its name.
        Resource.objects.filter(pk=body["id"]).delete()

    def no_victim_appointments(body):
        assert appointment_id not in [a["id"] for a in body["results"]]

    def names_resource_id(body):
        assert "resource_id" in body

    def counts_no_victim_appointments(body):
        assert sum(row["appointments"] for row in body["results"]) == 0

    booking_path = f"/v2/bookings/{booking_id}"
    endpoint_id, delivery_id = victim["endpoint"].pk, victim["delivery"].pk
    endpoint_path = f"/v2/webhook_endpoints/{endpoint_id}"
    reason_path = f"/v2/lost_reasons/{reason_id}"
    return [
        ("get", "/v2/business", "/v2/business", None, 200, own_business_only),
        (
            "patch",
            "/v2/business",
            "/v2/business",
            {"require_lost_reason": True, "hold_reminder_hours": 1},
            200,
            own_business_only,
        ),
        ("get", "/v2/lost_reasons", "/v2/lost_reasons", None, 200, no_victim_reasons),
        (
            "post",
            "/v2/lost_reasons",
            "/v2/lost_reasons",
            lambda number: {"code": f"mine_{number}", "label": f"Mine {number}"},
            201,
            reason_in_own_business,
        ),
        ("get", "/v2/lost_reasons/{id}", reason_path, None, 404, None),
        ("patch", "/v2/lost_reasons/{id}", reason_path, {"active": False}, 404, None),
        # The victim's reason named in the attacker's own change: as if it did not exist.
        (
            "post",
            "/v2/bookings/{id}/change_status",
            f"/v2/bookings/{attacker_booking.pk}/change_status",
            {"status": "lost", "lost_reason_id": reason_id},
            400,
            names_the_reason,
        ),
        ("get", "/v2/bookings", "/v2/bookings", None, 200, no_victim_bookings),
        ("post", "/v2/bookings", "/v2/bookings", {"name": "Mine"}, 201, created_in_own_business),
        ("get", "/v2/bookings/{id}", booking_path, None, 404, None),
        ("patch", "/v2/bookings/{id}", booking_path, {"notes": "pwned"}, 404, None),
        ("delete", "/v2/bookings/{id}", booking_path, None, 404, None),
        (
            "post",
            "/v2/bookings/{id}/change_status",
            f"{booking_path}/change_status",
            {"status": "lost"},
            404,
            None,
        ),
        (
            "post",
            "/v2/bookings/change_status",
            "/v2/bookings/change_status",
            {"ids": [booking_id], "status": "lost"},
            404,
            lists_the_victim_booking,
        ),
        (
            "get",
            "/v2/bookings/{id}/status_history",
            f"{booking_path}/status_history",
            None,
            404,
            None,
        ),
        ("get", "/status", "/status", None, 200, no_victim_statuses),
        ("get", "/v2/events", "/v2/events", None, 200, no_victim_events),
        # Another business's event id is unknown: "resume from the start".
        ("get", "/v2/events", f"/v2/events?after={victim['event'].public_id}", None, 410, None),
        (
            "post",
            "/status",
            "/status",
            {"businessId": business.id, "status": "OPEN", "subStatus": "Injected"},
            403,
            None,
        ),
        (
            "put",
            "/status",
            "/status",
            {
                "statusId": status_id,
                "businessId": business.id,
                "status": "OPEN",
                "subStatus": "Renamed",
                "active": False,
            },
            404,
            None,
        ),
        (
            "put",
            "/status",
            "/status",
            {
                "statusId": attacker_status.pk,
                "businessId": business.id,
                "status": "OPEN",
                "subStatus": "Moved",
            },
            403,
            None,
        ),
        ("get", "/v2/resources", "/v2/resources", None, 200, no_victim_resources),
        (
            "post",
            "/v2/resources",
            "/v2/resources",
            {"name": "Mine"},
            201,
            resource_in_own_business_removed_again,
        ),
        ("get", "/v2/resources/{id}", resource_path, None, 404, None),
        ("patch", "/v2/resources/{id}", resource_path, {"active": False}, 404, None),
        ("get", "/v2/appointments", "/v2/appointments", None, 200, no_victim_appointments),
        # Another business's resource is as unknown as one that does not exist.
        (
            "post",
            "/v2/appointments",
            "/v2/appointments",
            {
                "resource_id": resource_id,
                "starts_at": "2025-03-04T10:00:00Z",
                "ends_at": "2025-03-04T10:30:00Z",
                "client_name": "Squatter",
            },
            400,
            names_resource_id,
        ),
        ("get", "/v2/appointments/{id}", appointment_path, None, 404, None),
        ("patch", "/v2/appointments/{id}", appointment_path, {"notes": "pwned"}, 404, None),
        (
            "post",
            "/v2/appointments/{id}/change_status",
            f"{appointment_path}/change_status",
            {"status_id": victim["appointment"].list_status_id},
            404,
            None,
        ),
        (
            "get",
            "/v2/appointments/{id}/status_history",
            f"{appointment_path}/status_history",
            None,
            404,
            None,
        ),
        (
            "get",
            "/v2/reports/appointments",
            "/v2/reports/appointments?from=2025-03-01&to=2025-03-31",
            None,
            200,
            counts_no_victim_appointments,
        ),
        (
            "get",
            "/v2/reports/appointments",
            f"/v2/reports/appointments?resource_id={resource_id}",
            None,
            400,
            names_resource_id,
        ),
        ("get", "/v2/webhook_endpoints", "/v2/webhook_endpoints", None, 200, no_victim_endpoints),
        # The victim's booking was created today, and its lead stay ended on 2025-01-10.
        (
            "get",
            "/v2/reports/pipeline",
            "/v2/reports/pipeline",
            None,
            200,
            counts_only_own_bookings,
        ),
        (
            "get",
            "/v2/reports/time_in_status",
            "/v2/reports/time_in_status?from=2025-01-01",
            None,
            200,
            counts_no_victim_stays,
        ),
        (
            "get",
            "/v2/reports/lost_reasons",
            "/v2/reports/lost_reasons",
            None,
            200,
            counts_only_own_losses,
        ),
        (
            "post",
            "/v2/webhook_endpoints",
            "/v2/webhook_endpoints",
            {"url": "https://hooks.example.com/mine"},
            201,
            endpoint_in_own_business,
        ),
        ("get", "/v2/webhook_endpoints/{id}", endpoint_path, None, 404, None),
        (
            "patch",
            "/v2/webhook_endpoints/{id}",
            endpoint_path,
            {"url": "https://hooks.example.com/stolen", "active": False},
            404,
            None,
        ),
        ("delete", "/v2/webhook_endpoints/{id}", endpoint_path, None, 404, None),
        (
            "post",
            "/v2/webhook_endpoints/{id}/rotate_secret",
            f"{endpoint_path}/rotate_secret",
            None,
            404,
            None,
        ),
        (
            "get",
            "/v2/webhook_endpoints/{id}/deliveries",
            f"{endpoint_path}/deliveries",
            None,
            404,
            None,
        ),
        (
            "post",
            "/v2/webhook_endpoints/{id}/deliveries/{delivery_id}/retry",
            f"{endpoint_path}/deliveries/{delivery_id}/retry",
            None,
            404,
            None,
        ),
    ]


@pytest.mark.django_db
def test_another_business_is_refused_on_every_endpoint_and_method(
    client, victim_data, business, other_api, attacker_status, attacker_booking
):
    before = victim_snapshot(business)

    for number, (method, _, path, body, expected, check) in enumerate(
        attacks(victim_data, business, attacker_status, attacker_booking)
    ):
        # Each attack plain, and again with an Idempotency-Key of its own.
        for attempt, headers in enumerate(({}, {"HTTP_IDEMPOTENCY_KEY": f"attack-{number}"})):
            sent = body(f"{number}_{attempt}") if callable(body) else body
            response = getattr(other_api, method)(path, sent, format="json", **headers)
            assert response.status_code == expected, (method, path, response.content)
            if check:
                check(response.json())
            elif expected == 404:  # as for an id that never existed
                assert response.json() == {"detail": "Not found."}, (method, path)

    assert victim_snapshot(business) == before


@pytest.mark.django_db
def test_the_matrix_covers_every_operation_in_the_schema(
    client, victim_data, business, attacker_status, attacker_booking
):
    published = schema_operations(client)
    covered = {
        (method, path)
        for method, path, *_ in attacks(victim_data, business, attacker_status, attacker_booking)
    }
    assert published == covered
