"""The bookings API: thin views over Booking's model methods."""

from django.db import transaction
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
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


class NewestFirstPagination(CursorPagination):
    """Cursor pages: stable under inserts and free of COUNT(*) at any table size."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class RecordedOrderPagination(NewestFirstPagination):
    ordering = "id"
    page_size = 100
    max_page_size = 500


class BookingViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = BookingSerializer
    filterset_class = BookingFilter
    pagination_class = NewestFirstPagination
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return Booking.objects.for_business(self.request.user.business_id)

    def filter_queryset(self, queryset):
        # The query-string filters narrow the list; they never hide a single booking.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_class(self):
        if self.action == "create":
            return BookingCreateSerializer
        return super().get_serializer_class()

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
    def change_status(self, request, pk=None):
        booking = self.get_object()
        body = ChangeStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        booking.change_status(**body.validated_data, by=request.user)
        return Response(BookingSerializer(booking).data)

    @action(detail=True, methods=["get"], pagination_class=RecordedOrderPagination)
    def status_history(self, request, pk=None):
        booking = self.get_object()
        page = self.paginate_queryset(booking.status_changes.all())
        return self.get_paginated_response(BookingStatusChangeSerializer(page, many=True).data)
