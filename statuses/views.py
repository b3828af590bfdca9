"""The Status API: GET, POST and PUT on /status, the id of a PUT being in its body."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotAllowed
from core.idempotency import idempotent
from core.schema import (
    COMMON_ERRORS,
    CONFLICT,
    IDEMPOTENCY_KEY,
    IDEMPOTENT_WRITE_ERRORS,
    NOT_FOUND,
    WRITE_ERRORS,
    error,
)
from core.views import RejectUnknownQueryParametersMixin
from statuses.models import Status
from statuses.representation import status_json
from statuses.serializers import (
    StatusCreateTargetSerializer,
    StatusFieldsSerializer,
    StatusSerializer,
    StatusUpdateTargetSerializer,
    StatusWriteSerializer,
)
from statuses.services import StatusList

SHARED_OR_OTHER_BUSINESS = error(
    "A shared status (POST a copy first), or a businessId other than the caller's."
)


def refuse_other_business(business_id: int, caller_business_id: int) -> None:
    if business_id != caller_business_id:
        raise NotAllowed(
            f"businessId must be your business's id, {caller_business_id}.", field="businessId"
        )


class StatusView(RejectUnknownQueryParametersMixin, APIView):
    http_method_names = ["get", "post", "put", "head", "options"]

    @extend_schema(
        summary="The caller's active statuses: its own list once it has one, else the shared",
        responses={200: StatusSerializer(many=True), **COMMON_ERRORS},
    )
    def get(self, request):
        """The caller's active statuses in list order: its own once it has any, else the
        shared defaults."""
        statuses = Status.objects.shown_to(request.user.business_id)
        return Response([status_json(status) for status in statuses])

    @extend_schema(
        summary="Add a status to the caller's list (the first POST copies the shared list)",
        request=StatusWriteSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: StatusSerializer,
            **IDEMPOTENT_WRITE_ERRORS,
            403: error("businessId is another business's."),
            409: CONFLICT,
        },
    )
    @idempotent
    def post(self, request):
        """Add a status to the caller's list (forking the shared list on the first one)."""
        target = StatusCreateTargetSerializer(data=request.data)
        target.is_valid(raise_exception=True)
        business_id = request.user.business_id
        refuse_other_business(target.validated_data["businessId"], business_id)
        body = StatusFieldsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = StatusList.of(business_id).add(body.validated_data, by=request.user)
        return Response(StatusSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Update one of the caller's own statuses (statusId in the body)",
        request=StatusWriteSerializer,
        responses={
            200: StatusSerializer,
            **WRITE_ERRORS,
            403: SHARED_OR_OTHER_BUSINESS,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def put(self, request):
        """Update one of the caller's own statuses; a shared one must be POSTed first."""
        target = StatusUpdateTargetSerializer(data=request.data)
        target.is_valid(raise_exception=True)
        business_id = request.user.business_id
        status_id = target.validated_data["statusId"]
        statuses = StatusList.of(business_id)
        # Refused in this order: the status (shared, then unknown or another
        # business's), then businessId, then the fields.
        statuses.status(status_id)
        claimed_business_id = target.validated_data.get("businessId")
        if claimed_business_id is None:
            raise serializers.ValidationError({"businessId": ["This field is required."]})
        refuse_other_business(claimed_business_id, business_id)
        body = StatusFieldsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated = statuses.update(status_id, body.validated_data, by=request.user)
        return Response(StatusSerializer(updated).data)
