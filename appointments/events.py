"""The appointments' and resources' events (SPEC §14.6): one factory per type, each
returning the unsaved events that the write path hands to the one writer,
`Event.objects.write`, inside its transaction. The payloads are the API's own
representation (appointments/representation.py)."""

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from appointments.representation import appointment_json, resource_json, status_change_json
from events.models import Event, EventType

if TYPE_CHECKING:
    from appointments.models import Appointment, AppointmentStatusChange, Resource


def resource_created(resource: "Resource") -> Event:
    return Event.of(
        resource.business_id, EventType.RESOURCE_CREATED, {"resource": resource_json(resource)}
    )


def resource_updated(resource: "Resource") -> Event:
    return Event.of(
        resource.business_id, EventType.RESOURCE_UPDATED, {"resource": resource_json(resource)}
    )


def appointment_created(appointment: "Appointment", change: "AppointmentStatusChange") -> Event:
    """`change` is the first history entry, the creation's."""
    return Event.of(
        appointment.business_id,
        EventType.APPOINTMENT_CREATED,
        {"appointment": appointment_json(appointment), "change": status_change_json(change)},
    )


def appointments_updated(
    appointments: Iterable["Appointment"], changed_fields: Sequence[str]
) -> list[Event]:
    """`appointment.updated` for each appointment, as it now is. `changed_fields`: the
    API names of the fields whose stored value changed, in JSON order (never
    `updated_at` or `version`)."""
    return [
        Event.of(
            appointment.business_id,
            EventType.APPOINTMENT_UPDATED,
            {"appointment": appointment_json(appointment), "changed_fields": list(changed_fields)},
        )
        for appointment in appointments
    ]


def appointments_status_changed(
    changes: Iterable[tuple["Appointment", "AppointmentStatusChange"]],
) -> list[Event]:
    """`appointment.status_changed` for each (appointment as the change left it, the
    history entry it wrote)."""
    return [
        Event.of(
            appointment.business_id,
            EventType.APPOINTMENT_STATUS_CHANGED,
            {"appointment": appointment_json(appointment), "change": status_change_json(change)},
        )
        for appointment, change in changes
    ]
