"""The Status API: GET, POST and PUT on /status, the id of a PUT being in its body."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
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
from statuses.serializers import (
    BIGINT_MAX,
    StatusCreateTargetSerializer,
    StatusFieldsSerializer,
    StatusSerializer,
    StatusUpdateTargetSerializer,
    StatusWriteSerializer,
    status_json,
)
from statuses.services import create_status

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
        statuses = Status.objects.active_list_of(request.user.business_id)
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
        created = create_status(business_id, body.validated_data, by=request.user)
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
        body = StatusFieldsSerializer(data=request.data)
        # A request that is valid throughout takes one statement, which updates the
        # status only if it is the caller's own.
        if (
            target.validated_data.get("businessId") == business_id
            and 0 < status_id <= BIGINT_MAX
            and body.is_valid()
        ):
            changed = Status.objects.change(
                status_id, body.validated_data, business_id=business_id, by=request.user
            )
            if changed is not None:
                return Response(StatusSerializer(changed).data)
        # Anything else is refused, the checks settling which refusal in this order:
        # the status (unknown, another business's or shared), then businessId, then
        # the fields.
        existing = self.find_status(status_id, business_id)
        claimed_business_id = target.validated_data.get("businessId")
        if claimed_business_id is None:
            raise serializers.ValidationError({"businessId": ["This field is required."]})
        refuse_other_business(claimed_business_id, business_id)
        body.is_valid(raise_exception=True)
        existing.apply_changes(body.validated_data, by=request.user)
        return Response(StatusSerializer(existing).data)

    def find_status(self, status_id: int, business_id: int) -> Status:
        """The caller's own status `status_id`. A shared one is refused (403) before an
        unknown one or another business's (404, as if it did not exist)."""
        try:
            if not 0 < status_id <= BIGINT_MAX:
                raise Status.DoesNotExist
            found = Status.objects.reachable(business_id, status_id)
        except Status.DoesNotExist:
            raise NotFound(f"There is no status {status_id} in your business's list.") from None
        if found.is_shared:
            raise NotAllowed(
                f"Status {status_id} is a shared default status, which cannot be changed. "
                "POST a copy first (statusId null, businessId your business's id): your "
                "business's first POST copies the shared list into your own list, whose "
                "statuses you can then PUT.",
                field="statusId",
            )
        return found
