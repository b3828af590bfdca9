"""A resource, an appointment and a history entry as the API shows them and as their
events carry them (SPEC §14.6: an event's appointment is exactly GET
/v2/appointments/{id}'s body, keys in the same order).

Plain functions over the models' attributes, no DRF: the serializers render responses
with them and appointments/events.py builds payloads with them. Datetimes are handed
over in UTC; the API's renderer and the Event model's JSON field both write them with
core.renderers.dumps, so the texts are the same."""

from typing import Any

from core.renderers import in_utc


def resource_json(resource: Any) -> dict[str, Any]:
    return {
        "id": resource.id,
        "name": resource.name,
        "active": resource.active,
        "created_at": in_utc(resource.created_at),
    }


def appointment_json(appointment: Any) -> dict[str, Any]:
    """Key order as SPEC §14.2 shows it."""
    return {
        "id": appointment.id,
        "resource_id": appointment.resource_id,
        "starts_at": in_utc(appointment.starts_at),
        "ends_at": in_utc(appointment.ends_at),
        "client_name": appointment.client_name,
        "client_email": appointment.client_email,
        "notes": appointment.notes,
        "status": appointment.status,
        "sub_status": appointment.sub_status,
        "status_id": appointment.list_status_id,
        "status_at": in_utc(appointment.status_at),
        "completed_at": in_utc(appointment.completed_at),
        "no_show_at": in_utc(appointment.no_show_at),
        "cancelled_at": in_utc(appointment.cancelled_at),
        "created_at": in_utc(appointment.created_at),
        "updated_at": in_utc(appointment.updated_at),
        "version": appointment.version,
    }


# The API names of an appointment's fields that a PATCH may change, in JSON order.
EDITABLE_FIELDS = ("resource_id", "starts_at", "ends_at", "client_name", "client_email", "notes")


def status_change_json(change: Any) -> dict[str, Any]:
    """One entry of GET /v2/appointments/{id}/status_history, with the names the
    statuses had when it was recorded."""
    return {
        "id": change.id,
        "from_status": change.from_status,
        "from_sub_status": change.from_sub_status,
        "from_status_id": change.from_list_status_id,
        "to_status": change.to_status,
        "to_sub_status": change.to_sub_status,
        "to_status_id": change.to_list_status_id,
        "status_at": in_utc(change.status_at),
        "recorded_at": in_utc(change.recorded_at),
        "changed_by": change.changed_by,
        "source": change.source,
        "note": change.note,
    }
