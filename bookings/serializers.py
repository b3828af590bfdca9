"""Request validation and response shapes for the bookings API."""

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.actions import BULK_CHANGE_LIMIT, ensure_details_fit
from bookings.models import (
    LOST_NOTE_MAX_LENGTH,
    LOST_REASON_CODE,
    LOST_REASON_CODE_MAX_LENGTH,
    LOST_REASON_LABEL_MAX_LENGTH,
    STATUS_FIELDS,
    Booking,
    BookingStatusChange,
    LostReason,
)
from bookings.representation import (
    BOOKING_API_NAMES,
    STATUS_CHANGE_API_FIELDS,
    booking_json,
    lost_reason_json,
    status_change_json,
)
from bookings.stamping import KEEP_HOLD, BookingStatus
from core.errors import InvalidValue
from core.models import ID_RANGE
from core.serializers import (
    RejectUnknownFieldsMixin,
    StatusDateField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    UTCDateTimeField,
    refuse_control_characters,
)
from core.tenant_lists import SORT_ORDER_MAX

STATUS_CHOICE_ERRORS = {
    "invalid_choice": "Unknown status {input!r}; expected one of "
    + ", ".join(BookingStatus.values)
    + "."
}


class ChangeDetailsSerializerMixin(serializers.Serializer):
    """What a change to lost or to tentative takes besides its status and moment
    (SPEC §15): `lost_reason_id` and `lost_note` for lost, `hold_until` for tentative
    (absent: a tentative booking keeps its hold; null: the hold is removed). Either
    with another status is refused naming it. Which reasons the business may record,
    whether it requires one, and whether the hold ends after the change's moment are
    the action's to check, under the booking's lock."""

    lost_reason_id = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=ID_RANGE[-1]
    )
    lost_note = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=LOST_NOTE_MAX_LENGTH
    )
    hold_until = UTCDateTimeField(required=False, allow_null=True)

    def change_details(self, attrs: dict, status: str | None) -> dict:
        """The keyword arguments of the action for these fields, checked against
        `status` (None: no status change)."""
        details = {
            "lost_reason_id": attrs.get("lost_reason_id"),
            "lost_note": attrs.get("lost_note"),
            "hold_until": attrs.get("hold_until", KEEP_HOLD),
        }
        try:
            ensure_details_fit(status, **details)
        except InvalidValue as refused:
            raise serializers.ValidationError({refused.field: [refused.message]}) from None
        return details


class ChangeStatusSerializer(
    RejectUnknownFieldsMixin, ChangeDetailsSerializerMixin, serializers.Serializer
):
    """Body of POST /v2/bookings/{id}/change_status. Its validated data are the keyword
    arguments of bookings.actions.change_status: `status`, `at`, `on`, and the lost
    reason, note and hold.

    The moment's fields are only parsed here: what a `status_date` means, and whether it
    agrees with `status_at`, depends on the business's time zone, which change_status
    reads under the booking's lock (its InvalidValue still names the field)."""

    status = serializers.ChoiceField(
        choices=BookingStatus.choices, error_messages=STATUS_CHOICE_ERRORS
    )
    status_at = UTCDateTimeField(required=False, allow_null=True)
    status_date = StatusDateField(required=False, allow_null=True)

    def validate(self, attrs):
        return {
            "status": attrs["status"],
            "at": attrs.get("status_at"),
            "on": attrs.get("status_date"),
            **self.change_details(attrs, attrs["status"]),
        }


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        "minItems": 1,
        "maxItems": BULK_CHANGE_LIMIT,
        "uniqueItems": True,
    }
)
class BookingIdsField(serializers.Field):
    """1 to BULK_CHANGE_LIMIT distinct booking ids (positive integers, JSON numbers);
    every error is one message naming the field, not one per item."""

    default_error_messages = {
        "not_a_list": "Must be a list of booking ids.",
        "count": f"Must list 1 to {BULK_CHANGE_LIMIT} booking ids.",
        "not_an_id": "Each id must be a positive integer; {value!r} (at {index}) is not.",
        "repeated": "Each id may appear only once; {value} is repeated.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not 1 <= len(data) <= BULK_CHANGE_LIMIT:
            self.fail("count")
        seen = set()
        for index, value in enumerate(data):
            if type(value) is not int or value not in ID_RANGE:
                self.fail("not_an_id", value=value, index=index)
            if value in seen:
                self.fail("repeated", value=value)
            seen.add(value)
        return data

    def to_representation(self, value):
        return value


class BulkChangeStatusSerializer(ChangeStatusSerializer):
    """Body of POST /v2/bookings/change_status: change_status's, and the bookings'
    `ids`. Its validated data are the keyword arguments of
    bookings.actions.change_statuses but the business."""

    ids = BookingIdsField()

    def validate(self, attrs):
        return {**super().validate(attrs), "ids": attrs["ids"]}


class LostReasonRecordSerializer(serializers.Serializer):
    """A lost reason as a booking and its history record it: as it was at the change."""

    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)


class BookingSerializer(serializers.ModelSerializer):
    """A booking as every endpoint returns it: `booking_json`, described field by field
    for the schema. Output only: bodies are read by the input serializers below."""

    starts_at = UTCDateTimeField(read_only=True, allow_null=True)
    ends_at = UTCDateTimeField(read_only=True, allow_null=True)
    tentative_at = UTCDateTimeField(read_only=True, allow_null=True)
    hold_until = UTCDateTimeField(
        read_only=True,
        allow_null=True,
        help_text="Until when a tentative booking is held; it expires (to lost) then.",
    )
    definite_at = UTCDateTimeField(read_only=True, allow_null=True)
    lost_at = UTCDateTimeField(read_only=True, allow_null=True)
    lost_reason = LostReasonRecordSerializer(
        read_only=True, allow_null=True, help_text="Why it was lost, as recorded then."
    )
    lost_note = serializers.CharField(read_only=True, allow_null=True)
    created_at = UTCDateTimeField(read_only=True)
    updated_at = UTCDateTimeField(read_only=True)

    class Meta:
        model = Booking
        # The representation's one field list (bookings/representation.py).
        fields = list(BOOKING_API_NAMES)
        read_only_fields = fields

    def to_representation(self, booking: Booking) -> dict:
        return booking_json(booking)


STATUS_FIELDS_MESSAGE = (
    "Status fields are set by a status change: use POST /v2/bookings/{id}/change_status."
)


class BookingFieldsSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Body of PATCH /v2/bookings/{id} (partial): the ordinary fields and `hold_until`
    (while tentative), the keyword `fields` of bookings.actions.edit_booking. A status
    field is refused, pointing to change_status; the other fields a booking shows
    (`id`, `version`, ...) are read-only and ignored (SPEC §13)."""

    forbidden_input_fields = STATUS_FIELDS

    name = StrictCharField(max_length=200)
    starts_at = UTCDateTimeField(required=False, allow_null=True)
    ends_at = UTCDateTimeField(required=False, allow_null=True)
    # Bounded explicitly: SQLite would store any integer, PostgreSQL only 32 bits.
    guest_count = StrictIntegerField(
        min_value=0, max_value=2**31 - 1, required=False, allow_null=True
    )
    notes = StrictCharField(required=False, allow_blank=True)
    hold_until = UTCDateTimeField(required=False, allow_null=True)

    def extra_known_fields(self) -> set[str]:
        return set(BOOKING_API_NAMES)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            refused = sorted(self.forbidden_input_fields & set(data))
            if refused:
                raise serializers.ValidationError(
                    {name: [STATUS_FIELDS_MESSAGE] for name in refused}
                )
        return super().to_internal_value(data)


class BookingCreateSerializer(ChangeDetailsSerializerMixin, BookingFieldsSerializer):
    """Body of POST /v2/bookings: the ordinary fields, and optionally an initial
    `status` with `status_at` or `status_date` (and what that status takes: a lost
    reason and note, a hold), recorded as a change from lead. Its validated data:
    `fields` and the keyword arguments of bookings.actions.create_booking."""

    forbidden_input_fields = STATUS_FIELDS - {"status", "status_at", "status_date", "lost_note"}

    status = serializers.ChoiceField(
        choices=BookingStatus.choices, required=False, error_messages=STATUS_CHOICE_ERRORS
    )
    status_at = UTCDateTimeField(required=False, allow_null=True)
    status_date = StatusDateField(required=False, allow_null=True)

    def validate(self, attrs):
        moment_given = attrs.get("status_at") is not None or attrs.get("status_date") is not None
        if moment_given and "status" not in attrs:
            raise serializers.ValidationError(
                {"status": ["Required when status_at or status_date is given."]}
            )
        details = self.change_details(attrs, attrs.get("status"))
        status = {
            "status": attrs.pop("status", None),
            "at": attrs.pop("status_at", None),
            "on": attrs.pop("status_date", None),
        }
        for name in details:
            attrs.pop(name, None)
        return {"fields": attrs, **status, **details}


class BookingStatusChangeSerializer(serializers.ModelSerializer):
    """An entry of the status history (output only): `status_change_json`."""

    status_at = UTCDateTimeField(read_only=True)
    recorded_at = UTCDateTimeField(read_only=True)

    class Meta:
        model = BookingStatusChange
        fields = [name for name, _is_moment in STATUS_CHANGE_API_FIELDS]
        read_only_fields = fields

    def to_representation(self, change: BookingStatusChange) -> dict:
        return status_change_json(change)


# --- lost reasons ---------------------------------------------------------------------


class LostReasonLabelField(StrictCharField):
    """1 to 100 characters, surrounding spaces trimmed, no control characters."""

    def __init__(self, **kwargs) -> None:
        super().__init__(min_length=1, max_length=LOST_REASON_LABEL_MAX_LENGTH, **kwargs)
        self.validators.append(refuse_control_characters)


class LostReasonCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Body of POST /v2/lost_reasons: `code` and `label` required, `active` and
    `sort_order` optional; the keyword `fields` of LostReasonList.add. The other keys a
    reason shows (`id`, `shared`) are read-only and ignored."""

    code = StrictCharField(
        max_length=LOST_REASON_CODE_MAX_LENGTH,
        trim_whitespace=False,
        validators=[
            RegexValidator(
                LOST_REASON_CODE, "Must be 1 to 40 of a-z, 0-9 and _ (a slug, e.g. over_budget)."
            )
        ],
    )
    label = LostReasonLabelField()
    active = StrictBooleanField(required=False)
    sort_order = StrictIntegerField(required=False, min_value=0, max_value=SORT_ORDER_MAX)

    def extra_known_fields(self) -> set[str]:
        return {"id", "shared"}


class LostReasonFieldsSerializer(LostReasonCreateSerializer):
    """Body of PATCH /v2/lost_reasons/{id} (partial): `label`, `active`, `sort_order`,
    the keyword `fields` of LostReasonList.update. `code` never changes: 400 naming
    it."""

    code = None

    def to_internal_value(self, data):
        if isinstance(data, dict) and "code" in data:
            raise serializers.ValidationError(
                {"code": ["A reason's code never changes once created; PATCH its label."]}
            )
        return super().to_internal_value(data)


class LostReasonSerializer(serializers.Serializer):
    """A lost reason as every endpoint returns it (`lost_reason_json`), for the schema."""

    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)
    active = serializers.BooleanField(read_only=True)
    sort_order = serializers.IntegerField(read_only=True)
    shared = serializers.BooleanField(
        read_only=True, help_text="A shared default: POST a reason with its code to change it."
    )

    def to_representation(self, reason: LostReason) -> dict:
        return lost_reason_json(reason)
