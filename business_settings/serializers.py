"""Request validation and the response shape of GET/PATCH /v2/business."""

from rest_framework import serializers

from accounts.models import AUTO_COMPLETE_HOURS_MAX, HOLD_REMINDER_HOURS_MAX
from business_settings.representation import business_json
from core.serializers import RejectUnknownFieldsMixin, StrictBooleanField, StrictIntegerField

# What GET shows but PATCH does not change: the operator's (SPEC §9, §15.3).
OPERATOR_FIELDS = {
    "id": "A business's id never changes.",
    "name": "A business's name is set by the operator.",
    "timezone": "The time zone is an operator's change (superusers in the admin, or "
    "manage.py set_business_timezone): it realigns every booking's dates.",
}


class BusinessSerializer(serializers.Serializer):
    """The caller's business as GET and PATCH return it (`business_json`)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    timezone = serializers.CharField(
        read_only=True,
        help_text="The IANA zone in which every `*_date` of the business's bookings is a "
        "local date, and in which a `status_date` means local midnight.",
    )
    require_lost_reason = serializers.BooleanField(
        read_only=True, help_text="A change to lost must name a `lost_reason_id`."
    )
    hold_reminder_hours = serializers.IntegerField(
        read_only=True,
        help_text="`booking.hold_expiring` is sent this many hours before a hold expires; "
        "0: never.",
    )
    auto_complete_after_hours = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="An appointment still open this many hours after its end is completed; "
        "null: never.",
    )

    def to_representation(self, business) -> dict:
        return business_json(business)


class BusinessSettingsSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Body of PATCH /v2/business: any of the three settings, strictly typed; the keyword
    `settings` of business_settings.actions.change_settings."""

    require_lost_reason = StrictBooleanField(required=False)
    hold_reminder_hours = StrictIntegerField(
        required=False, min_value=0, max_value=HOLD_REMINDER_HOURS_MAX
    )
    auto_complete_after_hours = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=AUTO_COMPLETE_HOURS_MAX
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            refused = sorted(set(OPERATOR_FIELDS) & set(data))
            if refused:
                raise serializers.ValidationError(
                    {name: [OPERATOR_FIELDS[name]] for name in refused}
                )
        return super().to_internal_value(data)
