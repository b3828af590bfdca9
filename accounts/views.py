"""The accounts API: the caller's business."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Business
from accounts.serializers import BusinessSerializer
from core.schema import COMMON_ERRORS
from core.views import RejectUnknownQueryParametersMixin


class BusinessView(RejectUnknownQueryParametersMixin, APIView):
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        summary="The caller's business, with the time zone of its dates",
        description=(
            "`timezone` is the IANA zone in which every `*_date` of the business's "
            "bookings is a local date, and in which a `status_date` means local "
            "midnight. Datetimes stay UTC."
        ),
        responses={200: BusinessSerializer, **COMMON_ERRORS},
    )
    def get(self, request):
        business = Business.objects.get(pk=request.user.business_id)
        return Response(BusinessSerializer(business).data)
