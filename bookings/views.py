"""The bookings API: thin views over Booking's model methods."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import actions
from bookings.filters import BookingFilter
from bookings.lost_reasons import LostReasonList
from bookings.models import Booking, LostReason
from bookings.representation import lost_reason_json
from bookings.serializers import (
    BookingCreateSerializer,
    BookingFieldsSerializer,
    BookingSerializer,
    BookingStatusChangeSerializer,
    BulkChangeStatusSerializer,
    ChangeStatusSerializer,
    LostReasonCreateSerializer,
    LostReasonFieldsSerializer,
    LostReasonSerializer,
)
from core.conditional import (
    IF_MATCH,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    PRECONDITION_FAILED,
    VersionTagMixin,
    conditional_read,
    etag_header,
    if_match_versions,
)
from core.errors import InvalidValue
from core.idempotency import idempotent
from core.pagination import NewestFirstPagination, RecordedOrderPagination
from core.schema import (
    COMMON_ERRORS,
    CONFLICT,
    IDEMPOTENCY_KEY,
    IDEMPOTENT_WRITE_ERRORS,
    NOT_FOUND,
    WRITE_ERRORS,
    error,
)
from core.views import (
    BodyAfterRecordMixin,
    RecordListMixin,
    RejectUnknownQueryParametersMixin,
    object_id,
)

# The path's id is a booking's integer id; routing takes digits only, so anything else
# is a 404 before a view runs.
BOOKING_ID = OpenApiParameter("id", OpenApiTypes.INT64, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(
        summary="List the caller's bookings, newest first",
        description=(
            "One page of the caller's bookings, newest first, narrowed by the filters "
            "below. Follow `next` and `previous` for the other pages: a `cursor` the API "
            "did not hand out is a 400. Datetime bounds are ISO 8601; an offset is "
            "converted to UTC, none means UTC."
        ),
        responses={
            200: BookingSerializer(many=True),
            400: error("A filter, `page_size` or `cursor` is invalid, or a parameter unknown."),
            **{code: response for code, response in COMMON_ERRORS.items() if code != 400},
        },
    ),
    create=extend_schema(
        summary="Create a booking (lead, unless a status is given)",
        description=(
            "Creates a booking in the caller's business. It starts as `lead`; with a "
            "`status` (and optionally `status_at` or `status_date`) that status is then "
            "recorded as a change from `lead`, as change_status would."
        ),
        request=BookingCreateSerializer,
        parameters=[IDEMPOTENCY_KEY, etag_header(201)],
        responses={201: BookingSerializer, **IDEMPOTENT_WRITE_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One booking with every status field",
        description="The booking with this id in the caller's business, else a 404.",
        parameters=[BOOKING_ID, IF_NONE_MATCH, etag_header(200, 304)],
        responses={
            200: BookingSerializer,
            304: NOT_MODIFIED,
            404: NOT_FOUND,
            **COMMON_ERRORS,
        },
    ),
    partial_update=extend_schema(
        summary="Edit a booking's ordinary fields (status fields: use change_status)",
        description=(
            "Edits `name`, `starts_at`, `ends_at`, `guest_count` and `notes`. A status "
            "field in the body is a 400 pointing to change_status; `ends_at` may not be "
            "before `starts_at`."
        ),
        request=BookingFieldsSerializer,
        parameters=[BOOKING_ID, IF_MATCH, etag_header(200, 412)],
        responses={
            200: BookingSerializer,
            404: NOT_FOUND,
            412: PRECONDITION_FAILED,
            **WRITE_ERRORS,
        },
    ),
    destroy=extend_schema(
        summary="Delete a booking and its history",
        description="Deletes the booking and every status change recorded for it.",
        parameters=[BOOKING_ID, IF_MATCH, etag_header(412)],
        responses={204: None, 404: NOT_FOUND, 412: PRECONDITION_FAILED, **COMMON_ERRORS},
    ),
    change_status=extend_schema(
        summary="Change a booking's status",
        description=(
            "Sets the status, stamps its `*_at` and `*_date` with the moment (`status_at`, "
            "`status_date`, or now), keeps the other statuses' moments (leaving `lost` "
            "clears `lost_*`) and records one history entry, all in one transaction."
        ),
        request=ChangeStatusSerializer,
        parameters=[BOOKING_ID, IDEMPOTENCY_KEY, IF_MATCH, etag_header(200, 412)],
        responses={
            200: BookingSerializer,
            404: NOT_FOUND,
            412: PRECONDITION_FAILED,
            **IDEMPOTENT_WRITE_ERRORS,
        },
    ),
    change_status_in_bulk=extend_schema(
        operation_id="v2_bookings_change_status_in_bulk",
        summary="Change the status of many bookings at once, all or nothing",
        description=(
            "change_status for 1 to 500 distinct bookings of the caller's business, in one "
            "transaction: one moment for all (`status_at`, `status_date`, or now), one "
            "history entry and one `booking.status_changed` event per booking. Any id "
            "that names no booking of the business is a 404 listing them all (`ids`), and "
            "nothing is written. `If-Match` is refused (400): there is no single version."
        ),
        request=BulkChangeStatusSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: inline_serializer(
                "BulkChangeStatusResult", {"results": BookingSerializer(many=True)}
            ),
            404: OpenApiResponse(
                response={
                    "type": "object",
                    "properties": {
                        "detail": {"type": "string"},
                        "ids": {"type": "array", "items": {"type": "integer"}},
                    },
                    "required": ["detail", "ids"],
                },
                description="These ids name no booking of the caller's business, in request order.",
            ),
            **IDEMPOTENT_WRITE_ERRORS,
        },
    ),
    status_history=extend_schema(
        summary="Every status change of a booking, in the order recorded",
        description=(
            "Oldest first, in the order recorded: a backdated correction appears where it "
            "was recorded. Follow `next` for the other pages."
        ),
        parameters=[BOOKING_ID],
        responses={200: BookingStatusChangeSerializer(many=True), 404: NOT_FOUND, **COMMON_ERRORS},
    ),
)
class BookingViewSet(
    VersionTagMixin,
    BodyAfterRecordMixin,
    RecordListMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Validate, call bookings/actions.py, render: the rules live in the actions."""

    queryset = Booking.objects.none()  # for schema introspection; see get_queryset
    serializer_class = BookingSerializer
    filterset_class = BookingFilter
    pagination_class = NewestFirstPagination
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return Booking.objects.for_business(self.request.user.business_id)

    @property
    def business_id(self) -> int:
        return self.request.user.business_id

    def get_object(self) -> Booking:
        try:
            booking = Booking.objects.get_in_business(self.business_id, self.kwargs["pk"])
        except Booking.DoesNotExist:
            raise NotFound from None
        self.check_object_permissions(self.request, booking)
        return booking

    def list(self, request, *args, **kwargs):
        # The page is read as named rows of the fields it shows, not as model instances:
        # booking_json and the cursor read them by attribute just the same.
        bookings = self.filter_queryset(self.get_queryset()).values_list(
            *BookingSerializer.Meta.fields, named=True
        )
        page = self.paginate_queryset(bookings)
        return self.get_paginated_response(BookingSerializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        booking = self.get_object()
        return conditional_read(request, booking.version, lambda: BookingSerializer(booking).data)

    @idempotent
    def create(self, request, *args, **kwargs):
        body = self.valid_body(BookingCreateSerializer).validated_data
        booking = actions.create_booking(self.business_id, **body, by=request.user)
        return Response(BookingSerializer(booking).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        fields = self.valid_body(BookingFieldsSerializer, partial=True).validated_data
        booking, _changed = actions.edit_booking(
            self.business_id, object_id(pk), fields, expected_versions=if_match_versions(request)
        )
        return Response(BookingSerializer(booking).data)

    def destroy(self, request, pk=None):
        actions.delete_booking(
            self.business_id, object_id(pk), expected_versions=if_match_versions(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    @idempotent
    def change_status(self, request, pk=None):
        change = self.valid_body(ChangeStatusSerializer).validated_data
        booking, _entry = actions.change_status(
            self.business_id,
            object_id(pk),
            **change,
            by=request.user,
            expected_versions=if_match_versions(request),
        )
        return Response(BookingSerializer(booking).data)

    @action(detail=False, methods=["post"], url_path="change_status")
    @idempotent
    def change_status_in_bulk(self, request):
        if "HTTP_IF_MATCH" in request.META:
            raise InvalidValue(
                "Not accepted by a bulk change: send If-Match to each booking's own change_status.",
                field="If-Match",
            )
        change = self.valid_body(BulkChangeStatusSerializer).validated_data
        changed = actions.change_statuses(self.business_id, **change, by=request.user)
        bookings = [booking for booking, _entry in changed]
        return Response({"results": BookingSerializer(bookings, many=True).data})

    @action(
        detail=True, methods=["get"], pagination_class=RecordedOrderPagination, filter_backends=[]
    )
    def status_history(self, request, pk=None):
        booking = self.get_object()
        page = self.paginate_queryset(booking.status_changes.all())
        return self.get_paginated_response(BookingStatusChangeSerializer(page, many=True).data)


LOST_REASON_ID = OpenApiParameter("id", OpenApiTypes.INT64, OpenApiParameter.PATH)
# `?active=`: which reasons the list shows.
ACTIVE_CHOICES = {"true": True, "false": False, "all": None}


class LostReasonsViewMixin(RejectUnknownQueryParametersMixin):
    """Validate, call bookings/lost_reasons.py, render."""

    @property
    def reasons(self) -> LostReasonList:
        return LostReasonList.of(self.request.user.business_id)


class LostReasonsView(LostReasonsViewMixin, APIView):
    """GET and POST /v2/lost_reasons."""

    http_method_names = ["get", "post", "head", "options"]

    def allowed_query_parameters(self) -> set[str]:
        return {"active"} if self.request.method in {"GET", "HEAD"} else set()

    @extend_schema(
        operation_id="v2_lost_reasons_list",
        summary="The caller's lost reasons: its own list once it has one, else the shared",
        description=(
            "The caller's list in list order (`sort_order`, then `id`), not paginated: its "
            "own reasons once it has any, otherwise the shared defaults (`shared: true`). "
            "Active reasons only, unless `active=false` (inactive only) or `active=all`."
        ),
        parameters=[
            OpenApiParameter(
                "active",
                {"type": "string", "enum": list(ACTIVE_CHOICES)},
                description="true (default), false or all.",
            )
        ],
        responses={
            200: inline_serializer("LostReasonList", {"results": LostReasonSerializer(many=True)}),
            **COMMON_ERRORS,
        },
    )
    def get(self, request):
        chosen = request.query_params.get("active", "true")
        if chosen not in ACTIVE_CHOICES:
            raise InvalidValue("Must be true, false or all.", field="active")
        reasons = LostReason.objects.rows_of(
            request.user.business_id, active=ACTIVE_CHOICES[chosen]
        )
        return Response({"results": [lost_reason_json(reason) for reason in reasons]})

    @extend_schema(
        summary="Add a lost reason (the first POST copies the shared list)",
        description=(
            "Adds a reason to the caller's list. A business's first POST copies the "
            "shared defaults into its own list; when the posted `code` is a default's, "
            "that copy is the reason, with the posted values. Codes and labels are "
            "unique per list (409)."
        ),
        request=LostReasonCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: LostReasonSerializer, **IDEMPOTENT_WRITE_ERRORS, 409: CONFLICT},
    )
    @idempotent
    def post(self, request):
        body = LostReasonCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = self.reasons.add(body.validated_data, by=request.user)
        return Response(LostReasonSerializer(reason).data, status=status.HTTP_201_CREATED)


class LostReasonView(LostReasonsViewMixin, BodyAfterRecordMixin, APIView):
    """GET and PATCH /v2/lost_reasons/{id}."""

    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self) -> LostReason:
        """The reason a write targets: an unknown or another business's is a 404, then
        a shared one a 403 (before the body's 400)."""
        return self.reasons.entry(object_id(self.kwargs["pk"]))

    @extend_schema(
        summary="One lost reason of the caller's list, or a shared one",
        description=(
            "The reason with this id in the caller's list, or a shared default (which a "
            "booking lost before its business's first POST may still name); another "
            "business's reason is a 404."
        ),
        parameters=[LOST_REASON_ID],
        responses={200: LostReasonSerializer, 404: NOT_FOUND, **COMMON_ERRORS},
    )
    def get(self, request, pk: str):
        reason = self.reasons.reachable_rows().filter(pk=object_id(pk)).first()
        if reason is None:
            raise NotFound()
        return Response(LostReasonSerializer(reason).data)

    @extend_schema(
        summary="Change a lost reason's label, active flag or sort order",
        description=(
            "`code` never changes (400). A shared reason is refused (403): POST a reason "
            "with its code first. `hold_expired` cannot be deactivated (409)."
        ),
        request=LostReasonFieldsSerializer,
        parameters=[LOST_REASON_ID],
        responses={
            200: LostReasonSerializer,
            403: error("A shared reason: POST a reason with its code first."),
            404: NOT_FOUND,
            409: CONFLICT,
            **WRITE_ERRORS,
        },
    )
    def patch(self, request, pk: str):
        fields = self.valid_body(LostReasonFieldsSerializer, partial=True).validated_data
        reason = self.reasons.update(object_id(pk), fields)
        return Response(LostReasonSerializer(reason).data)
