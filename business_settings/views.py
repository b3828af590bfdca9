"""GET and PATCH /v2/business: the caller's business and its settings (SPEC §9, §15.3)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Business
from business_settings.actions import change_settings
from business_settings.serializers import BusinessSerializer, BusinessSettingsSerializer
from core.schema import COMMON_ERRORS, WRITE_ERRORS
from core.views import RejectUnknownQueryParametersMixin


class BusinessView(RejectUnknownQueryParametersMixin, APIView):
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(
        summary="The caller's business: its time zone and its settings",
        description=(
            "`timezone` is the IANA zone in which every `*_date` of the business's "
            "bookings is a local date, and in which a `status_date` means local "
            "midnight. Datetimes stay UTC. The three settings are the business's own "
            "preferences (PATCH)."
        ),
        responses={200: BusinessSerializer, **COMMON_ERRORS},
    )
    def get(self, request):
        business = Business.objects.get(pk=request.user.business_id)
        return Response(BusinessSerializer(business).data)

    @extend_schema(
        summary="Change the business's settings",
        description=(
            "Changes `require_lost_reason`, `hold_reminder_hours` (0–720) and "
            "`auto_complete_after_hours` (null or 1–720), each only when present, and "
            "answers with the business as GET shows it. A change writes one "
            "`business.updated` event; a PATCH that changes nothing writes nothing. "
            "`timezone` (and `id`, `name`) are the operator's: naming one is a 400."
        ),
        request=BusinessSettingsSerializer,
        responses={200: BusinessSerializer, **WRITE_ERRORS},
    )
    def patch(self, request):
        body = BusinessSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        business, _changed = change_settings(request.user.business_id, body.validated_data)
        return Response(BusinessSerializer(business).data)
