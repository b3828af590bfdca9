"""The resources and appointments API (SPEC §14.1, §14.2): thin views that validate a
body, call the action (appointments/actions.py) and render the representation."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from appointments import actions
from appointments.filters import AppointmentFilter, ResourceFilter
from appointments.models import Appointment, Resource
from appointments.representation import appointment_json, resource_json
from appointments.serializers import (
    AppointmentChangeStatusSerializer,
    AppointmentCreateSerializer,
    AppointmentFieldsSerializer,
    AppointmentSerializer,
    AppointmentStatusChangeSerializer,
    ResourceListSerializer,
    ResourceSerializer,
    ResourceWriteSerializer,
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
from core.errors import NotFound
from core.idempotency import idempotent
from core.pagination import RecordedOrderPagination, SignedCursorPagination
from core.schema import (
    COMMON_ERRORS,
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
from statuses.models import StatusName

RECORD_ID = OpenApiParameter("id", OpenApiTypes.INT64, OpenApiParameter.PATH)
REFUSED_BY_THE_LIST = OpenApiResponse(
    response={
        "type": "object",
        "description": (
            "`{field: [message]}`: the status list refuses it (an inactive target: "
            "`status_id`; a move the list's table does not allow, or a change to a "
            "READ_ONLY block: `status`; `dependsOn`; an outcome before the start: "
            "`status_at`), or `{detail, conflicts}`: the resource is taken at that "
            "time by the appointments `conflicts` (ids, ascending)."
        ),
        "properties": {
            "detail": {"type": "string"},
            "conflicts": {"type": "array", "items": {"type": "integer"}},
        },
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    description="Refused by the status list's rules, or by the resource's time.",
)


class AppointmentPagination(SignedCursorPagination):
    ordering = ("starts_at", "id")
    page_size = 50
    max_page_size = 200


class BusinessRecordViewSet(
    BodyAfterRecordMixin,
    RejectUnknownQueryParametersMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's records of one kind: list, create, read, PATCH; never DELETE (405).
    `get_queryset` is the caller's business's records."""

    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_object(self):
        found = self.get_queryset().filter(pk=object_id(self.kwargs["pk"])).first()
        if found is None:
            raise NotFound
        return found


@extend_schema_view(
    list=extend_schema(
        summary="The caller's resources, by name",
        description="Not paginated (at most 500 a business). `active` narrows the list.",
        parameters=[OpenApiParameter("active", OpenApiTypes.BOOL)],
        responses={
            200: ResourceListSerializer,
            **COMMON_ERRORS,
        },
    ),
    create=extend_schema(
        summary="Add a resource (a member of staff, a room, a chair)",
        description=(
            "`name` is 1–100 characters, unique in the business ignoring case (409 on a "
            "duplicate); `active` defaults to true. At most 500 resources a business."
        ),
        request=ResourceWriteSerializer,
        responses={
            201: ResourceSerializer,
            **WRITE_ERRORS,
            409: error("A resource of that name (ignoring case) exists, or 500 do."),
        },
    ),
    retrieve=extend_schema(
        summary="One resource",
        description="The resource with this id in the caller's business, else a 404.",
        parameters=[RECORD_ID],
        responses={200: ResourceSerializer, 404: NOT_FOUND, **COMMON_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Rename a resource, or retire it (active: false)",
        description=(
            "Changes `name` and/or `active`. A retired resource takes no new appointment "
            "and no move onto it; its appointments keep it. There is no DELETE (405)."
        ),
        request=ResourceWriteSerializer(partial=True),
        parameters=[RECORD_ID],
        responses={
            200: ResourceSerializer,
            404: NOT_FOUND,
            409: error("A resource of that name (ignoring case) exists."),
            **WRITE_ERRORS,
        },
    ),
)
class ResourceViewSet(BusinessRecordViewSet):
    queryset = Resource.objects.none()  # for schema introspection; see get_queryset
    serializer_class = ResourceSerializer
    filterset_class = ResourceFilter
    pagination_class = None

    def get_queryset(self):
        return Resource.objects.for_business(self.request.user.business_id).in_list_order()

    def allowed_query_parameters(self) -> set[str]:
        return set(ResourceFilter.base_filters) if self.action == "list" else set()

    def list(self, request, *args, **kwargs):
        resources = self.filter_queryset(self.get_queryset())
        return Response({"results": [resource_json(resource) for resource in resources]})

    def create(self, request, *args, **kwargs):
        body = ResourceWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        resource = actions.create_resource(request.user.business_id, **body.validated_data)
        return Response(resource_json(resource), status=status.HTTP_201_CREATED)

    def retrieve(self, request, *args, **kwargs):
        return Response(resource_json(self.get_object()))

    def partial_update(self, request, pk=None):
        body = self.valid_body(ResourceWriteSerializer, partial=True)
        resource = actions.edit_resource(
            request.user.business_id, object_id(pk), body.validated_data
        )
        return Response(resource_json(resource))


@extend_schema_view(
    list=extend_schema(
        summary="The caller's appointments, by start",
        description=(
            "One page of the caller's appointments by `starts_at`, then `id`, narrowed by "
            "the filters below; without `status` or `status_id`, DELETED appointments "
            "are left out. Follow `next` and `previous` for the other pages."
        ),
        parameters=[
            OpenApiParameter(
                "status",
                {"type": "array", "items": {"type": "string", "enum": StatusName.values}},
                description="Top-level statuses: repeated, or comma-separated.",
            ),
            OpenApiParameter(
                "date",
                OpenApiTypes.DATE,
                description="A day in the business's time zone: the appointments starting "
                "that day.",
            ),
        ],
        responses={
            200: AppointmentSerializer(many=True),
            **COMMON_ERRORS,
        },
    ),
    create=extend_schema(
        summary="Create an appointment (in the list's first active OPEN status, or the one given)",
        description=(
            "The initial status is given as `status_id`, or as `status` + `sub_status`; "
            "without one, the list's first active OPEN status. Entering it follows the "
            "list's rules (any top-level status but DELETED). A business's first "
            "appointment copies the shared status list into its own."
        ),
        request=AppointmentCreateSerializer,
        parameters=[IDEMPOTENCY_KEY, etag_header(201)],
        responses={
            201: AppointmentSerializer,
            **IDEMPOTENT_WRITE_ERRORS,
            409: REFUSED_BY_THE_LIST,
        },
    ),
    retrieve=extend_schema(
        summary="One appointment",
        description=(
            "The appointment with this id in the caller's business, else a 404; its ETag "
            "is its `version`."
        ),
        parameters=[RECORD_ID, IF_NONE_MATCH, etag_header(200, 304)],
        responses={
            200: AppointmentSerializer,
            304: NOT_MODIFIED,
            404: NOT_FOUND,
            **COMMON_ERRORS,
        },
    ),
    partial_update=extend_schema(
        summary="Edit an appointment's ordinary fields (its status: use change_status)",
        description=(
            "Changes `resource_id`, `starts_at`, `ends_at`, `client_name`, `client_email` "
            "and `notes`; a status field is a 400 pointing to change_status. New times or "
            "resource of a time-blocking appointment are checked for conflicts (409 "
            "`conflicts`); an appointment in READ_ONLY or READ_ONLY_FREE is never edited "
            "(409). There is no DELETE (405): move it to a DELETED status."
        ),
        request=AppointmentFieldsSerializer,
        parameters=[RECORD_ID, IF_MATCH, etag_header(200, 412)],
        responses={
            200: AppointmentSerializer,
            404: NOT_FOUND,
            409: REFUSED_BY_THE_LIST,
            412: PRECONDITION_FAILED,
            **WRITE_ERRORS,
        },
    ),
    change_status=extend_schema(
        summary="Move an appointment to another status of the list",
        description=(
            "Checked in this order, each refusal writing nothing: the target (400 when "
            "not in the list), If-Match (412), the target active (409 `status_id`), the "
            "move allowed between top-level statuses (409 `status`), its `dependsOn` "
            "(409 `dependsOn`), no COMPLETED or NO_SHOW before the start (409 "
            "`status_at`), and a time-blocking target free on the resource (409 "
            "`conflicts`)."
        ),
        request=AppointmentChangeStatusSerializer,
        parameters=[RECORD_ID, IDEMPOTENCY_KEY, IF_MATCH, etag_header(200, 412)],
        responses={
            200: AppointmentSerializer,
            404: NOT_FOUND,
            409: REFUSED_BY_THE_LIST,
            412: PRECONDITION_FAILED,
            **IDEMPOTENT_WRITE_ERRORS,
        },
    ),
    status_history=extend_schema(
        summary="Every status change of an appointment, in the order recorded",
        description=(
            "Oldest first, in the order recorded, with the names the statuses had then; "
            "the first entry (the creation) has `from_*` null. Follow `next` for more."
        ),
        parameters=[RECORD_ID],
        responses={
            200: AppointmentStatusChangeSerializer(many=True),
            404: NOT_FOUND,
            **COMMON_ERRORS,
        },
    ),
)
class AppointmentViewSet(VersionTagMixin, RecordListMixin, BusinessRecordViewSet):
    queryset = Appointment.objects.none()  # for schema introspection; see get_queryset
    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilter
    pagination_class = AppointmentPagination

    def get_queryset(self):
        return Appointment.objects.for_business(self.request.user.business_id)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([appointment_json(row) for row in page])

    def retrieve(self, request, *args, **kwargs):
        appointment = self.get_object()
        return conditional_read(request, appointment.version, lambda: appointment_json(appointment))

    @idempotent
    def create(self, request, *args, **kwargs):
        body = AppointmentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        appointment = actions.create_appointment(
            request.user.business_id, body.fields_of(), **body.arguments(), by=request.user
        )
        return Response(appointment_json(appointment), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        body = self.valid_body(AppointmentFieldsSerializer, partial=True)
        appointment = actions.edit_appointment(
            request.user.business_id,
            object_id(pk),
            body.fields_of(),
            expected_versions=if_match_versions(request),
        )
        return Response(appointment_json(appointment))

    @action(detail=True, methods=["post"])
    @idempotent
    def change_status(self, request, pk=None):
        body = self.valid_body(AppointmentChangeStatusSerializer)
        appointment = actions.change_status(
            request.user.business_id,
            object_id(pk),
            **body.arguments(),
            by=request.user,
            expected_versions=if_match_versions(request),
        )
        return Response(appointment_json(appointment))

    @action(
        detail=True, methods=["get"], pagination_class=RecordedOrderPagination, filter_backends=[]
    )
    def status_history(self, request, pk=None):
        appointment = self.get_object()
        page = self.paginate_queryset(appointment.status_changes.all())
        return self.get_paginated_response(AppointmentStatusChangeSerializer(page, many=True).data)
