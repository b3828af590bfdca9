"""Request validation and response shapes for the bookings API."""

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.models import (
    BIGINT_RANGE,
    BULK_CHANGE_LIMIT,
    STATUS_FIELDS,
    Booking,
    BookingStatus,
    BookingStatusChange,
)
from bookings.representation import (
    BOOKING_API_NAMES,
    booking_json,
    status_change_json,
)
from core.serializers import (
    RejectUnknownFieldsMixin,
    StatusDateField,
    StrictCharField,
    StrictIntegerField,
    UTCDateTimeField,
)

STATUS_CHOICE_ERRORS = {
    "invalid_choice": "Unknown status {input!r}; expected one of "
    + ", ".join(BookingStatus.values)
    + "."
}


class ChangeStatusSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Body of POST /v2/bookings/{id}/change_status. Its validated data are the keyword
    arguments of Booking.change_status: `status`, `at` and `on`.

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
            if type(value) is not int or value not in BIGINT_RANGE or value < 1:
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
    Booking.objects.change_statuses but the business."""

    ids = BookingIdsField()

    def validate(self, attrs):
        return {**super().validate(attrs), "ids": attrs["ids"]}


class BookingSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """A booking as every endpoint returns it; the body of PATCH."""

    # Status fields are written by Booking.change_status only.
    forbidden_input_fields = STATUS_FIELDS

    starts_at = UTCDateTimeField(required=False, allow_null=True)
    ends_at = UTCDateTimeField(required=False, allow_null=True)
    # Bounded explicitly: SQLite would store any integer, PostgreSQL only 32 bits.
    guest_count = StrictIntegerField(
        min_value=0, max_value=2**31 - 1, required=False, allow_null=True
    )
    tentative_at = UTCDateTimeField(read_only=True, allow_null=True)
    definite_at = UTCDateTimeField(read_only=True, allow_null=True)
    lost_at = UTCDateTimeField(read_only=True, allow_null=True)
    created_at = UTCDateTimeField(read_only=True)
    updated_at = UTCDateTimeField(read_only=True)

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }

    class Meta:
        model = Booking
        # The representation's one field list (bookings/representation.py).
        fields = list(BOOKING_API_NAMES)
        read_only_fields = ["id", "status", "tentative_date", "definite_date", "lost_date"]
        extra_kwargs = {"notes": {"required": False, "allow_blank": True}}

    def to_representation(self, booking: Booking) -> dict:
        return booking_json(booking)

    def save(self, **kwargs):
        # This serializer validates and renders; it never writes. DRF's ModelSerializer
        # save() would write every field back as it was read (status columns included,
        # undoing a concurrent change_status) and bypass the events and the version:
        # bookings are written by Booking.objects.create_booking and Booking.edit only.
        raise TypeError(
            "BookingSerializer does not save: write through Booking.objects.create_booking "
            "or Booking.edit."
        )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            refused = sorted(self.forbidden_input_fields & set(data))
            if refused:
                message = (
                    "Status fields are set by a status change: use "
                    "POST /v2/bookings/{id}/change_status."
                )
                raise serializers.ValidationError({name: [message] for name in refused})
        return super().to_internal_value(data)


class BookingCreateSerializer(BookingSerializer):
    """Body of POST /v2/bookings: the ordinary fields, and optionally an initial
    `status` with `status_at` or `status_date`, recorded as a change from lead."""

    forbidden_input_fields = STATUS_FIELDS - {"status", "status_at", "status_date"}

    status = serializers.ChoiceField(
        choices=BookingStatus.choices, required=False, error_messages=STATUS_CHOICE_ERRORS
    )
    status_at = UTCDateTimeField(required=False, allow_null=True, write_only=True)
    status_date = StatusDateField(required=False, allow_null=True, write_only=True)

    class Meta(BookingSerializer.Meta):
        fields = [*BookingSerializer.Meta.fields, "status_at", "status_date"]
        read_only_fields = ["id", "tentative_date", "definite_date", "lost_date"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        moment_given = attrs.get("status_at") is not None or attrs.get("status_date") is not None
        if moment_given and "status" not in attrs:
            raise serializers.ValidationError(
                {"status": ["Required when status_at or status_date is given."]}
            )
        return attrs


class BookingStatusChangeSerializer(serializers.ModelSerializer):
    status_at = UTCDateTimeField(read_only=True)
    recorded_at = UTCDateTimeField(read_only=True)

    class Meta:
        model = BookingStatusChange
        fields = [
            "id",
            "from_status",
            "to_status",
            "status_at",
            "recorded_at",
            "changed_by",
            "source",
        ]
        read_only_fields = fields

    def to_representation(self, change: BookingStatusChange) -> dict:
        return status_change_json(change)
