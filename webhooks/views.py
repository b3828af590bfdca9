"""The webhook endpoints API (SPEC §8.3): thin views over WebhookEndpoint's and
Delivery's model methods, every lookup scoped to the caller's business."""

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from core.idempotency import idempotent
from core.pagination import NewestFirstPagination, SignedCursorPagination
from core.schema import (
    COMMON_ERRORS,
    IDEMPOTENCY_KEY,
    IDEMPOTENT_WRITE_ERRORS,
    NOT_FOUND,
    error,
)
from core.views import RejectUnknownQueryParametersMixin
from webhooks.models import MAX_ENDPOINTS_PER_BUSINESS, Delivery, DeliveryStatus, WebhookEndpoint
from webhooks.serializers import (
    DeliverySerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)

BUSINESS_LIMIT = error(
    f"The business has {MAX_ENDPOINTS_PER_BUSINESS} endpoints already (inactive ones count)."
)
ENDPOINT_INACTIVE = error("The endpoint is inactive; reactivate it first.")
URL_RULES = (
    " The URL must be absolute `https://`, at most 2,048 characters, without user info, "
    "and its host must resolve, only to public internet addresses (400 naming `url`)."
)


class EndpointListPagination(SignedCursorPagination):
    """Oldest first. A business has at most 16 endpoints, so they fit on one page; the
    cursor is there so the shape need not change if the limit ever grows."""

    ordering = "id"
    page_size = max_page_size = MAX_ENDPOINTS_PER_BUSINESS

    def get_paginated_response(self, data) -> Response:
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
            },
        }


@extend_schema_view(
    list=extend_schema(
        summary="List the caller's webhook endpoints, oldest first",
        description="Secrets are never listed: they are shown once, on create and rotate.",
        responses={200: WebhookEndpointSerializer(many=True), **COMMON_ERRORS},
    ),
    create=extend_schema(
        summary="Create a webhook endpoint; the answer carries its signing secret",
        description=(
            "The only answer (with rotate_secret's) that shows `secret`: store it now. "
            f"At most {MAX_ENDPOINTS_PER_BUSINESS} endpoints per business, inactive ones "
            "included (409 beyond)." + URL_RULES
        ),
        request=WebhookEndpointCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: WebhookEndpointWithSecretSerializer,
            409: BUSINESS_LIMIT,
            **IDEMPOTENT_WRITE_ERRORS,
        },
    ),
    retrieve=extend_schema(
        summary="One webhook endpoint (without its secret)",
        description="`disabled_reason` says why an inactive endpoint stopped receiving.",
        responses={200: WebhookEndpointSerializer, 404: NOT_FOUND, **COMMON_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change an endpoint's url, event types, description or active flag",
        description=(
            "`active: false` stops deliveries (pending ones become failed, still "
            "retryable); `active: true` resumes them and clears `disabled_reason`." + URL_RULES
        ),
        responses={
            200: WebhookEndpointSerializer,
            404: NOT_FOUND,
            **IDEMPOTENT_WRITE_ERRORS,
        },
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint; its pending deliveries are dropped",
        description="Nothing more is sent to it, and its deliveries go with it.",
        responses={204: None, 404: NOT_FOUND, **COMMON_ERRORS},
    ),
)
class WebhookEndpointViewSet(
    RejectUnknownQueryParametersMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's webhook endpoints and their deliveries."""

    queryset = WebhookEndpoint.objects.none()  # for schema introspection; see get_queryset
    serializer_class = WebhookEndpointSerializer
    pagination_class = EndpointListPagination
    filter_backends = []
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return WebhookEndpoint.objects.for_business(self.request.user.business_id)

    def allowed_query_parameters(self) -> set[str]:
        if self.action == "list":
            return {"cursor"}
        if self.action == "deliveries":
            return {"cursor", "page_size", "status"}
        return set()

    @idempotent
    def create(self, request, *args, **kwargs):
        body = WebhookEndpointCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = WebhookEndpoint(business_id=request.user.business_id, **body.validated_data)
        endpoint.register()
        return Response(
            WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )

    def partial_update(self, request, *args, **kwargs):
        endpoint = self.get_object()
        body = WebhookEndpointSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            endpoint.apply_changes(body.validated_data)
        except ObjectDoesNotExist:  # deleted since it was read
            raise NotFound from None
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Replace an endpoint's signing secret; the old one signs beside it for 24 h",
        description=(
            "Answers with the new `secret` (shown only here). Every secret rotated out "
            "within the last 24 hours keeps signing, newest first, so a receiver can "
            "switch over without losing a delivery."
        ),
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer, 404: NOT_FOUND, **COMMON_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def rotate_secret(self, request, pk=None):
        endpoint = self.get_object()
        try:
            endpoint.rotate_secret()
        except ObjectDoesNotExist:  # deleted since it was read
            raise NotFound from None
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)

    @extend_schema(
        summary="An endpoint's deliveries, newest first",
        description="A cursor page (`page_size` 1–200, default 50), optionally of one `status`.",
        parameters=[
            OpenApiParameter("status", enum=DeliveryStatus.values, required=False),
            OpenApiParameter("page_size", int, required=False, description="1–200"),
        ],
        responses={
            200: DeliverySerializer(many=True),
            404: error("No such endpoint in the caller's business, or an invalid cursor."),
            **COMMON_ERRORS,
        },
    )
    @action(detail=True, methods=["get"], pagination_class=NewestFirstPagination)
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        deliveries = endpoint.deliveries.with_event_type()
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in DeliveryStatus.values:
                raise ValidationError(
                    {"status": [f"Must be one of {', '.join(DeliveryStatus.values)}."]}
                )
            deliveries = deliveries.filter(status=wanted)
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Schedule a delivery again, now (also a failed or succeeded one)",
        description=(
            "The delivery becomes `pending` and due now, and keeps its attempt count: a "
            "retried failed delivery that fails again is `failed` again. 409 while the "
            "endpoint is inactive."
        ),
        request=None,
        parameters=[OpenApiParameter("delivery_id", int, OpenApiParameter.PATH)],
        responses={
            202: DeliverySerializer,
            404: NOT_FOUND,
            409: ENDPOINT_INACTIVE,
            **COMMON_ERRORS,
        },
    )
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[0-9]+)/retry")
    def retry(self, request, pk=None, delivery_id=None):
        try:
            delivery = (
                Delivery.objects.for_business(request.user.business_id)
                .with_event_type()
                # endpoint__pk, not endpoint_id: the same column, but only a lookup on
                # the primary key answers an id past bigint with "none such" (Django's
                # IntegerField overflow check) where the foreign key's raises (SQLite).
                .get(endpoint__pk=pk, pk=delivery_id)
            )
            delivery.retry_now()
        except ObjectDoesNotExist:  # none such, or its endpoint deleted since
            raise NotFound from None
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
