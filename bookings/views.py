"""The bookings API: thin views over Booking's model methods."""

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from bookings.filters import BookingFilter
from bookings.models import Booking
from bookings.serializers import (
    BookingCreateSerializer,
    BookingSerializer,
    BookingStatusChangeSerializer,
    ChangeStatusSerializer,
)
from core.idempotency import idempotent
from core.schema import (
    COMMON_ERRORS,
    IDEMPOTENCY_KEY,
    IDEMPOTENT_WRITE_ERRORS,
    INVALID_CURSOR,
    NOT_FOUND,
    WRITE_ERRORS,
    error,
)
from core.views import RejectUnknownQueryParametersMixin


class NewestFirstPagination(CursorPagination):
    """Cursor pages: stable under inserts and free of COUNT(*) at any table size."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        # DRF falls back to the default on a bad value; a client that asked for
        # something else should hear about it. Sizes above the maximum are capped.
        requested = request.query_params.get(self.page_size_query_param, "")
        if requested == "":
            return self.page_size
        if not requested.isascii() or not requested.isdigit() or int(requested) < 1:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Must be a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return min(int(requested), self.max_page_size)


class RecordedOrderPagination(NewestFirstPagination):
    ordering = "id"
    page_size = 100
    max_page_size = 500


@extend_schema_view(
    list=extend_schema(
        summary="List the caller's bookings, newest first",
        responses={
            200: BookingSerializer(many=True),
            400: error("A filter value is invalid."),
            404: INVALID_CURSOR,
            **COMMON_ERRORS,
        },
    ),
    create=extend_schema(
        summary="Create a booking (lead, unless a status is given)",
        request=BookingCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: BookingSerializer, **IDEMPOTENT_WRITE_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One booking with every status field",
        responses={200: BookingSerializer, 404: NOT_FOUND, **COMMON_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Edit a booking's ordinary fields (status fields: use change_status)",
        responses={200: BookingSerializer, 404: NOT_FOUND, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a booking and its history",
        responses={204: None, 404: NOT_FOUND, **COMMON_ERRORS},
    ),
    change_status=extend_schema(
        summary="Change a booking's status",
        request=ChangeStatusSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: BookingSerializer, 404: NOT_FOUND, **IDEMPOTENT_WRITE_ERRORS},
    ),
    status_history=extend_schema(
        summary="Every status change of a booking, in the order recorded",
        responses={200: BookingStatusChangeSerializer(many=True), 404: NOT_FOUND, **COMMON_ERRORS},
    ),
)
class BookingViewSet(
    RejectUnknownQueryParametersMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Booking.objects.none()  # for schema introspection; see get_queryset
    serializer_class = BookingSerializer
    filterset_class = BookingFilter
    pagination_class = NewestFirstPagination
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return Booking.objects.for_business(self.request.user.business_id)

    def get_object(self) -> Booking:
        # get_queryset's scope and the id, as one statement compiled once: every detail,
        # PATCH, DELETE and history request starts here. A write (PATCH, DELETE) locks
        # the row until its transaction ends, so a booking deleted meanwhile is a 404.
        try:
            booking = Booking.objects.get_in_business(
                self.request.user.business_id,
                self.kwargs[self.lookup_field],
                for_update=self.request.method in ("PATCH", "DELETE"),
            )
        except Booking.DoesNotExist:
            raise NotFound from None
        self.check_object_permissions(self.request, booking)
        return booking

    def allowed_query_parameters(self) -> set[str]:
        pages = {"cursor", "page_size"}
        if self.action == "list":
            return pages | set(BookingFilter.base_filters)
        if self.action == "status_history":
            return pages
        return set()

    def filter_queryset(self, queryset):
        # The query-string filters narrow the list; they never hide a single booking.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request, *args, **kwargs):
        # The page is read as named rows of the fields it shows, not as model instances:
        # building 50 Booking instances was a fifth of a list request's CPU, and
        # BookingSerializer and the cursor read the rows by attribute just the same.
        bookings = self.filter_queryset(self.get_queryset()).values_list(
            *BookingSerializer.Meta.fields, named=True
        )
        page = self.paginate_queryset(bookings)
        return self.get_paginated_response(BookingSerializer(page, many=True).data)

    def get_serializer_class(self):
        if self.action == "create":
            return BookingCreateSerializer
        return super().get_serializer_class()

    def update(self, request, *args, **kwargs):
        with transaction.atomic():  # the locked read (get_object), then the write
            return super().update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():  # the locked read (get_object), then the delete
            return super().destroy(request, *args, **kwargs)

    @idempotent
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        initial_status = fields.pop("status", None)
        moment = fields.pop("status_at", None)
        with transaction.atomic():
            booking = Booking.objects.create(business_id=request.user.business_id, **fields)
            if initial_status is not None:
                booking.change_status(initial_status, at=moment, by=request.user)
        return Response(BookingSerializer(booking).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    @idempotent
    def change_status(self, request, pk=None):
        body = ChangeStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # change_status() reads the row itself, locked and scoped to the caller's
        # business, so a lookup beforehand would only cost a query.
        booking = Booking.reference(pk, request.user.business_id)
        try:
            booking.change_status(**body.validated_data, by=request.user)
        except Booking.DoesNotExist:
            raise NotFound from None
        return Response(BookingSerializer(booking).data)

    @action(
        detail=True, methods=["get"], pagination_class=RecordedOrderPagination, filter_backends=[]
    )
    def status_history(self, request, pk=None):
        booking = self.get_object()
        page = self.paginate_queryset(booking.status_changes.all())
        return self.get_paginated_response(BookingStatusChangeSerializer(page, many=True).data)
