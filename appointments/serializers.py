"""The resources and appointments API's serializers.

Input serializers validate a body and hand the action (appointments/actions.py) its
arguments: unknown keys refused, JSON types taken strictly, each error naming its
field. Output is the representation (appointments/representation.py); the output
serializers below only describe it to the schema, and render through it."""

from django.core.validators import EmailValidator
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from appointments.actions import Target
from appointments.models import CLIENT_NAME_MAX_LENGTH, NOTE_MAX_LENGTH, RESOURCE_NAME_MAX_LENGTH
from appointments.representation import (
    EDITABLE_FIELDS,
    appointment_json,
    resource_json,
    status_change_json,
)
from core.serializers import (
    RejectUnknownFieldsMixin,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    UTCDateTimeField,
)
from statuses.models import StatusName
from statuses.serializers import SubStatusField, choice_errors, refuse_control_characters

ID_MAX = 2**63 - 1
STATUS_ERRORS = choice_errors(StatusName.values)
# What a status change sets: refused in a PATCH (and the outcome stamps on create).
STATUS_FIELDS = (
    "status",
    "sub_status",
    "status_id",
    "status_at",
    "note",
    "completed_at",
    "no_show_at",
    "cancelled_at",
)
READ_ONLY_FIELDS = {"id", "created_at", "updated_at", "version"}
USE_CHANGE_STATUS = "Set by a status change: use POST /v2/appointments/{id}/change_status."


def id_field(**kwargs) -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=ID_MAX, **kwargs)


class NameField(StrictCharField):
    """A name shown in lists: surrounding spaces trimmed, no control characters."""

    def __init__(self, **kwargs) -> None:
        super().__init__(min_length=1, **kwargs)
        self.validators.append(refuse_control_characters)


# --- resources -----------------------------------------------------------------


class ResourceWriteSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """POST /v2/resources (`name` required) and PATCH /v2/resources/{id} (partial).
    The read-only `id` and `created_at` are accepted and ignored."""

    name = NameField(max_length=RESOURCE_NAME_MAX_LENGTH)
    active = StrictBooleanField(required=False)

    def extra_known_fields(self) -> set[str]:
        return {"id", "created_at"}


class ResourceSerializer(serializers.Serializer):
    """A resource as every endpoint returns it (resource_json)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    active = serializers.BooleanField(read_only=True)
    created_at = UTCDateTimeField(read_only=True)

    def to_representation(self, resource) -> dict:
        return resource_json(resource)


@extend_schema_serializer(many=False)  # the list is one object, not an array
class ResourceListSerializer(serializers.Serializer):
    """GET /v2/resources: not paginated (at most 500 a business)."""

    results = ResourceSerializer(many=True, read_only=True)


# --- appointments ----------------------------------------------------------------


class TargetSerializer(serializers.Serializer):
    """The target status in either form (SPEC §14.3): `status_id`, or `status` +
    `sub_status` naming one status of the caller's list; with the moment it takes
    effect and a note for the history."""

    status_id = id_field(required=False, help_text="A status of your list (or a shared id).")
    status = serializers.ChoiceField(
        choices=StatusName.choices, required=False, error_messages=STATUS_ERRORS
    )
    sub_status = SubStatusField(required=False)
    status_at = UTCDateTimeField(
        required=False,
        allow_null=True,
        help_text="When the status took effect: an instant, at most 5 minutes ahead. Default: now.",
    )
    note = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=NOTE_MAX_LENGTH
    )
    # A create may leave the target out (the list's first active OPEN status).
    target_required = True

    def validate(self, attrs):
        attrs = super().validate(attrs)
        by_names = "status" in attrs or "sub_status" in attrs
        if "status_id" in attrs and by_names:
            raise serializers.ValidationError(
                {"status_id": ["Give status_id, or status and sub_status: not both."]}
            )
        for name, other in (("status", "sub_status"), ("sub_status", "status")):
            if other in attrs and name not in attrs:
                raise serializers.ValidationError({name: [f"Required with {other}."]})
        if self.target_required and "status_id" not in attrs and not by_names:
            raise serializers.ValidationError(
                {"status_id": ["Give status_id, or status and sub_status."]}
            )
        return attrs

    def arguments(self) -> dict:
        """The action's `target`, `at` and `note`."""
        data = self.validated_data
        return {
            "target": Target(
                status_id=data.get("status_id"),
                status=data.get("status"),
                sub_status=data.get("sub_status"),
            ),
            "at": data.get("status_at"),
            "note": data.get("note"),
        }


class AppointmentChangeStatusSerializer(RejectUnknownFieldsMixin, TargetSerializer):
    """Body of POST /v2/appointments/{id}/change_status."""


class AppointmentFieldsSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """The ordinary fields: the body of PATCH /v2/appointments/{id} (each optional).
    A status field is refused (use change_status); the read-only keys of an
    appointment are accepted and ignored."""

    resource_id = id_field(required=False, allow_null=True)
    starts_at = UTCDateTimeField(required=False)
    ends_at = UTCDateTimeField(required=False)
    client_name = NameField(required=False, max_length=CLIENT_NAME_MAX_LENGTH)
    client_email = StrictCharField(
        required=False, allow_blank=True, max_length=254, validators=[EmailValidator()]
    )
    notes = StrictCharField(required=False, allow_blank=True)

    refused_fields: tuple[str, ...] = STATUS_FIELDS

    def extra_known_fields(self) -> set[str]:
        return READ_ONLY_FIELDS | set(self.refused_fields)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            refused = [name for name in self.refused_fields if name in data]
            if refused:
                raise serializers.ValidationError({name: [USE_CHANGE_STATUS] for name in refused})
        return super().to_internal_value(data)

    def fields_of(self) -> dict:
        """The action's `fields` (EDITABLE_FIELDS given)."""
        return {
            name: self.validated_data[name]
            for name in EDITABLE_FIELDS
            if name in self.validated_data
        }


class AppointmentCreateSerializer(AppointmentFieldsSerializer, TargetSerializer):
    """Body of POST /v2/appointments: the ordinary fields (`starts_at`, `ends_at` and
    `client_name` required), and optionally the initial status in either form, with
    its moment and a note; without one, the list's first active OPEN status."""

    starts_at = UTCDateTimeField()
    ends_at = UTCDateTimeField()
    client_name = NameField(max_length=CLIENT_NAME_MAX_LENGTH)

    refused_fields = ("completed_at", "no_show_at", "cancelled_at")
    target_required = False


class AppointmentSerializer(serializers.Serializer):
    """An appointment as every endpoint returns it (appointment_json)."""

    id = serializers.IntegerField(read_only=True)
    resource_id = serializers.IntegerField(read_only=True, allow_null=True)
    starts_at = UTCDateTimeField(read_only=True)
    ends_at = UTCDateTimeField(read_only=True)
    client_name = serializers.CharField(read_only=True)
    client_email = serializers.CharField(read_only=True)
    notes = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=StatusName.choices, read_only=True)
    sub_status = serializers.CharField(read_only=True)
    status_id = serializers.IntegerField(read_only=True)
    status_at = UTCDateTimeField(read_only=True)
    completed_at = UTCDateTimeField(read_only=True, allow_null=True)
    no_show_at = UTCDateTimeField(read_only=True, allow_null=True)
    cancelled_at = UTCDateTimeField(read_only=True, allow_null=True)
    created_at = UTCDateTimeField(read_only=True)
    updated_at = UTCDateTimeField(read_only=True)
    version = serializers.IntegerField(read_only=True)

    def to_representation(self, appointment) -> dict:
        return appointment_json(appointment)


class AppointmentStatusChangeSerializer(serializers.Serializer):
    """One entry of an appointment's status history (status_change_json): the names
    the statuses had when it was recorded; `from_*` null on the first entry."""

    id = serializers.IntegerField(read_only=True)
    from_status = serializers.ChoiceField(
        choices=StatusName.choices, read_only=True, allow_null=True
    )
    from_sub_status = serializers.CharField(read_only=True, allow_null=True)
    from_status_id = serializers.IntegerField(read_only=True, allow_null=True)
    to_status = serializers.ChoiceField(choices=StatusName.choices, read_only=True)
    to_sub_status = serializers.CharField(read_only=True)
    to_status_id = serializers.IntegerField(read_only=True)
    status_at = UTCDateTimeField(read_only=True)
    recorded_at = UTCDateTimeField(read_only=True)
    changed_by = serializers.CharField(read_only=True, allow_null=True)
    source = serializers.CharField(read_only=True)
    note = serializers.CharField(read_only=True, allow_null=True)

    def to_representation(self, change) -> dict:
        return status_change_json(change)
