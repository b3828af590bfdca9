"""The events feed: `GET /v2/events` (SPEC §8.2, §13)."""

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from core.schema import COMMON_ERRORS, error
from core.views import RejectUnknownQueryParametersMixin
from events.models import Event, EventType

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


class FeedPositionGone(APIException):
    status_code = status.HTTP_410_GONE
    default_detail = {
        "after": [
            "No such event in your feed: it was purged, or the id was never your "
            "business's. Resume from the start (without `after`) or from a newer event id."
        ]
    }


class EventEnvelopeSerializer(serializers.Serializer):
    """The shape of `Event.envelope()`, for the schema (the feed renders the envelope)."""

    id = serializers.CharField(help_text="`evt_…`: opaque, unique for ever.")
    type = serializers.ChoiceField(choices=EventType.choices)
    timestamp = serializers.DateTimeField(help_text="When the event was recorded (UTC, `Z`).")
    business_id = serializers.IntegerField()
    data = serializers.DictField(help_text="The changed resource, as its own GET shows it.")


class EventPageSerializer(serializers.Serializer):
    results = EventEnvelopeSerializer(many=True)
    next = serializers.URLField(
        allow_null=True, help_text="The next page, or null when no event follows this page."
    )
    last_id = serializers.CharField(
        allow_null=True,
        help_text=(
            "Poll with `?after=<last_id>`: the last event examined (with a `type` filter, "
            "possibly one not shown), else the `after` given, else null."
        ),
    )


def page_size_of(query: QueryDict) -> int:
    """1–500 (larger sizes are capped), default 100."""
    requested = query.get("page_size")
    if requested is None:
        return DEFAULT_PAGE_SIZE
    if not requested.isascii() or not requested.isdigit() or int(requested) < 1:
        raise ValidationError({"page_size": [f"Must be a whole number from 1 to {MAX_PAGE_SIZE}."]})
    return min(int(requested), MAX_PAGE_SIZE)


def types_of(query: QueryDict) -> list[str]:
    """`type` given once, repeated or comma-separated; none means every type."""
    types = [name.strip() for value in query.getlist("type") for name in value.split(",")]
    types = [name for name in types if name]
    unknown = sorted(set(types) - set(EventType.values))
    if unknown:
        raise ValidationError(
            {"type": [f"Unknown event type: {', '.join(unknown)}. Known: {', '.join(EventType)}."]}
        )
    return types


class EventFeedView(RejectUnknownQueryParametersMixin, APIView):
    http_method_names = ["get", "head", "options"]

    def allowed_query_parameters(self) -> set[str]:
        return {"after", "page_size", "type"}

    def repeatable_query_parameters(self) -> set[str]:
        return {"type"}

    @extend_schema(
        operation_id="v2_events_list",
        summary="The caller's events in feed order, a page at a time",
        description=(
            "Every change to the caller's bookings and statuses, oldest first in feed "
            "order. Poll with `?after=<last_id>` for ever: you see every event exactly "
            "once and in order, even while changes commit concurrently. An event shows "
            "here once every transaction that started before it committed has ended "
            "(within 5 s of its commit while no transaction runs longer). With a `type` "
            "filter a page examines at most 1000 events, so it may hold fewer than "
            "`page_size` (even none) while `next` is set: follow `next` or `last_id`."
        ),
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.STR,
                description="An event id (`evt_…`): only the events after it in feed order.",
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1},
                description="1–500 (larger values are capped); default 100.",
            ),
            OpenApiParameter(
                "type",
                {"type": "array", "items": {"type": "string", "enum": EventType.values}},
                description="Only these event types: repeated, or comma-separated.",
            ),
        ],
        responses={
            200: EventPageSerializer,
            **COMMON_ERRORS,
            410: error(
                "`after` is not an event of the caller's feed (purged, or never its): "
                "resume from the start or from a newer event id."
            ),
        },
    )
    def get(self, request):
        page_size = page_size_of(request.query_params)
        types = types_of(request.query_params)
        after = request.query_params.get("after")
        business_id = request.user.business_id
        events = Event.objects.for_business(business_id).visible().in_feed_order()
        if after is not None:
            try:
                events = events.after(Event.objects.by_public_id(business_id, after))
            except Event.DoesNotExist:
                raise FeedPositionGone from None
        page = events.page(page_size, types)
        last_id = page.last_examined.public_id if page.last_examined else after
        next_url = None
        if page.more:
            next_url = replace_query_param(request.build_absolute_uri(), "after", last_id)
        return Response(
            {
                "results": [event.envelope() for event in page.events],
                "next": next_url,
                "last_id": last_id,
            }
        )
