"""Request validation and response shapes of the webhook endpoints API (SPEC §8.3).

The serializers check the JSON shapes; the rules (the URL policy, the event types,
the limit of endpoints) are WebhookEndpoint's, which the views call.
"""

from rest_framework import serializers

from core.serializers import RejectUnknownFieldsMixin, StrictBooleanField, StrictCharField
from webhooks.models import (
    DELIVERY_OUTCOME_FIELDS,
    EVENT_TYPES,
    EVERY_EVENT_TYPE,
    Delivery,
    WebhookEndpoint,
)
from webhooks.urls_policy import MAX_URL_LENGTH


class EventTypesField(serializers.ListField):
    """A list of event types whose errors are one flat list of messages, as every error
    of the API is (DRF would nest them by the item's index)."""

    def run_child_validation(self, data):
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as refused:
            raise serializers.ValidationError(
                [
                    f"Item {index}: {message}"
                    for index, messages in refused.detail.items()
                    for message in messages
                ]
            ) from None


class WebhookEndpointSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """An endpoint as every answer shows it (never with its secret), and a PATCH body."""

    url = StrictCharField(max_length=MAX_URL_LENGTH)
    event_types = EventTypesField(
        child=serializers.ChoiceField(choices=[EVERY_EVENT_TYPE, *EVENT_TYPES]),
        min_length=1,
        max_length=len(EVENT_TYPES),
        default=[EVERY_EVENT_TYPE],
        help_text='`["*"]` (every type, the default) or a list of event types; "*" stands alone.',
    )
    description = StrictCharField(max_length=500, allow_blank=True, default="")
    active = StrictBooleanField(
        required=False,
        help_text="false stops deliveries (pending ones fail with “endpoint disabled”); "
        "true resumes them and clears `disabled_reason`.",
    )
    created_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "event_types",
            "description",
            "active",
            "created_at",
            "disabled_reason",
        ]
        read_only_fields = ["id", "disabled_reason"]


class WebhookEndpointCreateSerializer(WebhookEndpointSerializer):
    """A create body: a new endpoint starts active unless it says `"active": false`."""

    active = StrictBooleanField(
        default=True,
        help_text="false registers the endpoint without sending it anything until it is "
        "PATCHed to true.",
    )


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """The answer to a create and to a rotation: the only ones that show the secret."""

    secret = serializers.CharField(
        read_only=True,
        help_text="`whsec_` + base64 of 32 random bytes; shown only in this answer.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event_public_id", read_only=True)
    event_type = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    last_attempt_at = serializers.DateTimeField(read_only=True, allow_null=True)
    next_attempt_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Delivery
        fields = ["id", "event_id", "event_type", *DELIVERY_OUTCOME_FIELDS]
        read_only_fields = fields
