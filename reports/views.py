"""The reports API (SPEC §11, §14.6, §15.1): `GET /v2/reports/pipeline`,
`GET /v2/reports/time_in_status`, `GET /v2/reports/appointments`,
`GET /v2/reports/lost_reasons`."""

from collections.abc import Callable
from types import SimpleNamespace

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.models import Business
from appointments.models import Resource
from bookings.stamping import BookingStatus
from core.errors import InvalidValue
from core.negotiation import ContentNegotiation
from core.renderers import JSONRenderer
from core.schema import COMMON_ERRORS
from core.views import RejectUnknownQueryParametersMixin
from reports.appointments import (
    APPOINTMENTS_COLUMNS,
    APPOINTMENTS_DEFINITIONS,
    appointments_report,
)
from reports.queries import (
    LOST_REASONS_COLUMNS,
    LOST_REASONS_DEFINITIONS,
    MAX_BUCKETS,
    PIPELINE_COLUMNS,
    PIPELINE_DEFINITIONS,
    ROUNDING,
    TIME_IN_STATUS_COLUMNS,
    TIME_IN_STATUS_DEFINITIONS,
    Interval,
    ReportWindow,
    lost_reasons,
    lost_reasons_csv_row,
    pipeline,
    time_in_status,
)
from reports.renderers import ResultsCSVRenderer


class PipelineRowSerializer(serializers.Serializer):
    bucket = serializers.DateField(help_text="The bucket's first local day.")
    bookings = serializers.IntegerField()
    reached_tentative = serializers.IntegerField()
    reached_definite = serializers.IntegerField()
    lost = serializers.IntegerField()
    open = serializers.IntegerField()
    conversion_to_definite = serializers.FloatField(allow_null=True)
    median_days_to_definite = serializers.FloatField(allow_null=True)


class TimeInStatusRowSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=BookingStatus.choices)
    stays = serializers.IntegerField()
    median_days = serializers.FloatField(allow_null=True)
    p90_days = serializers.FloatField(allow_null=True)


class AppointmentsRowSerializer(serializers.Serializer):
    bucket = serializers.DateField(help_text="The bucket's first local day.")
    appointments = serializers.IntegerField()
    completed = serializers.IntegerField()
    no_show = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    no_show_rate = serializers.FloatField(allow_null=True)
    cancellation_rate = serializers.FloatField(allow_null=True)


class ReasonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    label = serializers.CharField()


class LostReasonsRowSerializer(serializers.Serializer):
    reason = ReasonSerializer(allow_null=True, help_text="null: lost without a reason.")
    lost = serializers.IntegerField()
    share = serializers.FloatField()


class ReportMetaSerializer(serializers.Serializer):
    time_zone = serializers.CharField(help_text="The business's zone the dates are in.")
    to = serializers.DateField()
    interval = serializers.ChoiceField(choices=Interval.choices, required=False)
    definitions = serializers.DictField(child=serializers.CharField())
    rounding = serializers.CharField()

    def get_fields(self):
        # `from` is a keyword: declared here rather than as a class attribute.
        return {"from": serializers.DateField(), **super().get_fields()}


class PipelineReportSerializer(serializers.Serializer):
    results = PipelineRowSerializer(many=True)
    meta = ReportMetaSerializer()


class TimeInStatusReportSerializer(serializers.Serializer):
    results = TimeInStatusRowSerializer(many=True)
    meta = ReportMetaSerializer()


class LostReasonsReportSerializer(serializers.Serializer):
    results = LostReasonsRowSerializer(many=True)
    meta = ReportMetaSerializer()


class AppointmentsReportSerializer(serializers.Serializer):
    results = AppointmentsRowSerializer(many=True)
    meta = ReportMetaSerializer()


DATE_PARAMETERS = [
    OpenApiParameter("format", exclude=True),  # see AcceptHeaderNegotiation
    OpenApiParameter(
        "from",
        OpenApiTypes.DATE,
        description="First local day, inclusive. Default: the first day of the month "
        "12 months before `to`'s month.",
    ),
    OpenApiParameter(
        "to", OpenApiTypes.DATE, description="Last local day, inclusive. Default: today."
    ),
]
INTERVAL = OpenApiParameter(
    "interval",
    {"type": "string", "enum": Interval.values},
    description="Bucket size; weeks start on Monday. Default: month.",
)
# Errors are JSON, also to a client that asked for CSV (ReportView.finalize_response).
ERRORS = {(code, "application/json"): answer for code, answer in COMMON_ERRORS.items()}
CSV = OpenApiResponse(
    response=OpenApiTypes.STR,
    description="With `Accept: text/csv`: a header row, then one line per row of `results`.",
)


class AcceptHeaderNegotiation(ContentNegotiation):
    """JSON or CSV by the Accept header alone: `?format=` is not a parameter of the
    reports, refused as unknown like any other, rather than DRF's renderer override
    (which answers a format it does not know with a 404)."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


class ReportView(RejectUnknownQueryParametersMixin, APIView):
    """A report of the caller's business, read from the replica when one is set."""

    http_method_names = ["get", "head", "options"]
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, ResultsCSVRenderer]
    content_negotiation_class = AcceptHeaderNegotiation
    csv_columns: tuple[str, ...] = ()
    # What the report is: its rows for a business and a window, and their definitions.
    compute: Callable[..., list[dict]]
    definitions: dict[str, str] = {}
    interval_allowed = False

    def allowed_query_parameters(self) -> set[str]:
        return {"from", "to", "interval"} if self.interval_allowed else {"from", "to"}

    def get(self, request):
        business = self.business()
        window = ReportWindow.from_params(
            request.query_params, business.zone, interval_allowed=self.interval_allowed
        )
        return Response(
            {
                "results": self.rows(business, window),
                "meta": {
                    **window.meta(with_interval=self.interval_allowed),
                    "definitions": self.definitions,
                    "rounding": ROUNDING,
                },
            }
        )

    def rows(self, business: Business, window: ReportWindow) -> list[dict]:
        return type(self).compute(business, window)

    def business(self) -> Business:
        """The caller's business with its zone, read from the primary."""
        return (
            Business.objects.using("default").only("timezone").get(pk=self.request.user.business_id)
        )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # An error is answered in JSON even to a client that asked for CSV.
        if isinstance(response.accepted_renderer, ResultsCSVRenderer) and not (
            isinstance(response.data, dict) and "results" in response.data
        ):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response


class PipelineView(ReportView):
    csv_columns = PIPELINE_COLUMNS
    compute = staticmethod(pipeline)
    definitions = PIPELINE_DEFINITIONS
    interval_allowed = True

    @extend_schema(
        operation_id="v2_reports_pipeline",
        summary="Bookings by the local date they were created, and how far they got",
        description=(
            "One row per bucket (`interval`) of the range, empty ones included, oldest "
            "first, in the business's time zone: the bookings created in it, how many "
            "reached tentative and definite (by their history or current status), how "
            "many are lost or open now, the conversion to definite and the median days "
            "to definite. `meta` gives the definitions, the zone and the range used. "
            f"More than {MAX_BUCKETS} buckets is a 400 naming `interval`."
        ),
        parameters=[*DATE_PARAMETERS, INTERVAL],
        responses={
            (200, "application/json"): PipelineReportSerializer,
            (200, "text/csv"): CSV,
            **ERRORS,
        },
    )
    def get(self, request):
        return super().get(request)


class TimeInStatusView(ReportView):
    csv_columns = TIME_IN_STATUS_COLUMNS
    compute = staticmethod(time_in_status)
    definitions = TIME_IN_STATUS_DEFINITIONS

    @extend_schema(
        operation_id="v2_reports_time_in_status",
        summary="How long bookings stayed in each status",
        description=(
            "For each of the four statuses, in order (lead, tentative, definite, lost), "
            "the stays that ended in the range (local days of the business's time zone) "
            "with their median and 90th percentile length in days. `meta` gives the "
            "definitions, the zone and the range used."
        ),
        parameters=DATE_PARAMETERS,
        responses={
            (200, "application/json"): TimeInStatusReportSerializer,
            (200, "text/csv"): CSV,
            **ERRORS,
        },
    )
    def get(self, request):
        return super().get(request)


class AppointmentsView(ReportView):
    csv_columns = APPOINTMENTS_COLUMNS
    compute = staticmethod(appointments_report)
    definitions = APPOINTMENTS_DEFINITIONS
    interval_allowed = True

    def allowed_query_parameters(self) -> set[str]:
        return {*super().allowed_query_parameters(), "resource_id"}

    @extend_schema(
        operation_id="v2_reports_appointments",
        summary="Appointments by the local day they start, and how they ended",
        description=(
            "One row per bucket (`interval`) of the range, empty ones included, oldest "
            "first, in the business's time zone: the appointments starting in it (DELETED "
            "ones left out), how many are COMPLETED, NO_SHOW and CANCELLED now, and the "
            "no-show and cancellation rates. `resource_id` narrows it to one resource. "
            "`meta` gives the definitions, the zone and the range used. "
            f"More than {MAX_BUCKETS} buckets is a 400 naming `interval`."
        ),
        parameters=[
            *DATE_PARAMETERS,
            INTERVAL,
            OpenApiParameter(
                "resource_id",
                {"type": "integer", "minimum": 1},
                description="Only this resource's appointments (one of the business's).",
            ),
        ],
        responses={
            (200, "application/json"): AppointmentsReportSerializer,
            (200, "text/csv"): CSV,
            **ERRORS,
        },
    )
    def get(self, request):
        return super().get(request)

    def rows(self, business: Business, window: ReportWindow) -> list[dict]:
        return appointments_report(business, window, resource_id=self.resource_id(business))

    def resource_id(self, business: Business) -> int | None:
        """`resource_id`, a resource of the business (another's is as unknown)."""
        value = self.request.query_params.get("resource_id")
        if not value:
            return None
        if not (value.isascii() and value.isdigit() and len(value) <= 18):
            raise InvalidValue("Must be the id of one of your resources.", field="resource_id")
        if not Resource.objects.for_business(business.pk).filter(pk=int(value)).exists():
            raise InvalidValue("There is no such resource in your business.", field="resource_id")
        return int(value)


class LostReasonsView(ReportView):
    csv_columns = LOST_REASONS_COLUMNS
    csv_row = staticmethod(lost_reasons_csv_row)
    compute = staticmethod(lost_reasons)
    definitions = LOST_REASONS_DEFINITIONS

    @extend_schema(
        operation_id="v2_reports_lost_reasons",
        summary="Why bookings were lost",
        description=(
            "One row per lost reason of the history entries into lost recorded in the "
            "range (local days of the business's time zone), plus one with `reason` null "
            "for those recorded without one: how many, and their share of all, most first. "
            "Reasons with none are left out. CSV columns: "
            f"{', '.join(LOST_REASONS_COLUMNS)}."
        ),
        parameters=DATE_PARAMETERS,
        responses={
            (200, "application/json"): LostReasonsReportSerializer,
            (200, "text/csv"): CSV,
            **ERRORS,
        },
    )
    def get(self, request):
        return super().get(request)
