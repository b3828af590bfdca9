"""The admin's report pages (SPEC §11, §14.6, §15.1): "Pipeline", the pipeline as a chart
and a table followed by the time-in-status and lost-reasons tables; "Appointments";
and each report as a CSV download.

Staff see their own business's reports (they need the view permission on bookings);
superusers choose a business. The site (config/admin.py) mounts `urls()` and lists
`reports_section()` on its index and in its sidebar.
"""

from urllib.parse import urlencode

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views import View

from accounts.models import Business, User
from appointments.models import Resource
from core.errors import InvalidValue
from reports.appointments import APPOINTMENTS_COLUMNS, appointments_report
from reports.chart import pipeline_chart
from reports.queries import (
    LOST_REASONS_COLUMNS,
    PIPELINE_COLUMNS,
    TIME_IN_STATUS_COLUMNS,
    Interval,
    ReportWindow,
    lost_reasons,
    lost_reasons_csv_row,
    pipeline,
    time_in_status,
)
from reports.renderers import ResultsCSVRenderer

WINDOW_PARAMETERS = ("from", "to", "interval")


def resource_of(business: Business, query) -> int | None:
    """The `resource` the query names, one of the business's; InvalidValue otherwise."""
    choice = query.get("resource", "")
    if not choice:
        return None
    resources = Resource.objects.for_business(business.pk)
    if not (choice.isdigit() and len(choice) <= 18 and resources.filter(pk=choice).exists()):
        raise InvalidValue("Choose one of the business's resources.", field="resource")
    return int(choice)


# Each report: how it is computed (for a business, a window and the query), its CSV's
# columns (as the API writes them, a row flattened into them by the last item when it
# has one), and the permission its page needs.
REPORTS = {
    "pipeline": (
        lambda business, window, query: pipeline(business, window),
        PIPELINE_COLUMNS,
        "bookings.view_booking",
        None,
    ),
    "time_in_status": (
        lambda business, window, query: time_in_status(business, window),
        TIME_IN_STATUS_COLUMNS,
        "bookings.view_booking",
        None,
    ),
    "appointments": (
        lambda business, window, query: appointments_report(
            business, window, resource_id=resource_of(business, query)
        ),
        APPOINTMENTS_COLUMNS,
        "appointments.view_appointment",
        None,
    ),
    "lost_reasons": (
        lambda business, window, query: lost_reasons(business, window),
        LOST_REASONS_COLUMNS,
        "bookings.view_booking",
        lost_reasons_csv_row,
    ),
}
# The reports read the replica when one is configured (SPEC §12); when it cannot be
# reached they answer 503, as the API's reports do (SPEC §13).
UNREACHABLE = (OperationalError, InterfaceError)
UNAVAILABLE_MESSAGE = "The reports' database cannot be reached; try again in a moment."


def may_view_reports(user: User, permission: str = "bookings.view_booking") -> bool:
    """Superusers, and staff of a business with `permission` (to view what the report
    counts: its bookings, or its appointments)."""
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or (user.business_id is not None and user.has_perm(permission))


def may_view_any_report(user: User) -> bool:
    return any(may_view_reports(user, permission) for _, _, permission, _ in REPORTS.values())


def urls(admin_site: AdminSite) -> list:
    return [
        path(
            "reports/pipeline/",
            admin_site.admin_view(PipelinePage.as_view(admin_site=admin_site)),
            name="reports_pipeline",
        ),
        *(
            path(
                f"reports/{report}.csv",
                admin_site.admin_view(
                    ReportCSV.as_view(report=report, csv_columns=columns, csv_row=flatten)
                ),
                name=f"reports_{report}_csv",
            )
            for report, (_query, columns, _permission, flatten) in REPORTS.items()
        ),
        path(
            "reports/appointments/",
            admin_site.admin_view(AppointmentsPage.as_view(admin_site=admin_site)),
            name="reports_appointments",
        ),
    ]


def reports_section(admin_site: AdminSite, user: User) -> dict:
    """The "Reports" section of the index and the sidebar, shaped as the admin shapes
    an app's: the pages `user` may open."""
    pages = [
        (name, reverse(f"admin:reports_{report}", current_app=admin_site.name))
        for name, report, permission in (
            ("Pipeline", "pipeline", "bookings.view_booking"),
            ("Appointments", "appointments", "appointments.view_appointment"),
        )
        if may_view_reports(user, permission)
    ]
    return {
        "name": "Reports",
        "app_label": "reports",
        "app_url": pages[0][1],
        "has_module_perms": True,
        "models": [
            {
                "name": name,
                "object_name": name,
                "admin_url": url,
                "add_url": None,
                "view_only": True,
                "perms": {"add": False, "change": False, "delete": False, "view": True},
            }
            for name, url in pages
        ],
    }


def chosen_business(request: HttpRequest) -> Business | None:
    """Staff: their own business, whatever the query says. Superusers: the business
    `?business=` names, None until they choose one."""
    if not request.user.is_superuser:
        return request.user.business
    choice = request.GET.get("business", "")
    if not choice:
        return None
    business = None
    if choice.isascii() and choice.isdigit() and len(choice) <= 10:
        business = Business.objects.filter(pk=int(choice)).first()
    if business is None:
        raise InvalidValue(f"No business has the id {choice!r}.", field="business")
    return business


def requested_window(
    request: HttpRequest, business: Business, *, interval_allowed: bool = True
) -> ReportWindow:
    """The window the query asks for (its empty fields take the reports' defaults);
    InvalidValue naming the parameter at fault."""
    names = WINDOW_PARAMETERS if interval_allowed else ("from", "to")
    params = {name: request.GET[name] for name in names if request.GET.get(name)}
    return ReportWindow.from_params(params, business.zone, interval_allowed=interval_allowed)


class PipelinePage(View):
    admin_site: AdminSite | None = None

    def get(self, request: HttpRequest) -> TemplateResponse:
        if not may_view_reports(request.user):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Pipeline",
            "intervals": Interval.choices,
            "businesses": Business.objects.order_by("name") if request.user.is_superuser else [],
            "chosen": {
                name: request.GET.get(name, "") for name in ("business", *WINDOW_PARAMETERS)
            },
        }
        try:
            business = chosen_business(request)
            window = requested_window(request, business) if business else None
        except InvalidValue as error:
            context["error"] = error
            return TemplateResponse(request, "admin/reports/pipeline.html", context, status=400)
        if business is not None:
            try:
                context.update(self.report_context(business, window))
            except UNREACHABLE:
                context["unavailable"] = UNAVAILABLE_MESSAGE
                return TemplateResponse(request, "admin/reports/pipeline.html", context, status=503)
        return TemplateResponse(request, "admin/reports/pipeline.html", context)

    def report_context(self, business: Business, window: ReportWindow) -> dict:
        rows = pipeline(business, window)
        shown = {
            "business": str(business.pk),
            "from": window.first.isoformat(),
            "to": window.last.isoformat(),
            "interval": window.interval,
        }
        query = urlencode(shown)
        return {
            "business": business,
            "window": window,
            # The form shows the window as resolved, defaults filled in.
            "chosen": shown,
            "pipeline": [
                {
                    **row,
                    "conversion_percent": (
                        None
                        if row["conversion_to_definite"] is None
                        else 100 * row["conversion_to_definite"]
                    ),
                }
                for row in rows
            ],
            "chart": pipeline_chart(rows, window.interval),
            "time_in_status": time_in_status(business, window),
            "lost_reasons": [
                {**row, "share_percent": 100 * row["share"]}
                for row in lost_reasons(business, window)
            ],
            **{
                f"{report}_csv": f"{reverse(f'admin:reports_{report}_csv')}?{query}"
                for report in ("pipeline", "time_in_status", "lost_reasons")
            },
        }


class ReportCSV(View):
    """One report as the API's CSV (reports.renderers.ResultsCSVRenderer, which writes
    the view's `csv_columns`, each row as `csv_row` flattens it), as a download."""

    report: str = ""
    csv_columns: tuple[str, ...] = ()
    csv_row = None

    def get(self, request: HttpRequest) -> HttpResponse:
        compute, _columns, permission, _flatten = REPORTS[self.report]
        if not may_view_reports(request.user, permission):
            raise PermissionDenied
        try:
            business = chosen_business(request)
            if business is None:
                raise InvalidValue("Choose a business.", field="business")
            window = requested_window(
                request, business, interval_allowed=self.report in ("pipeline", "appointments")
            )
            rows = compute(business, window, request.GET)
        except InvalidValue as error:
            return HttpResponseBadRequest(
                f"{error.field}: {error.message}", content_type="text/plain; charset=utf-8"
            )
        except UNREACHABLE:
            return HttpResponse(
                UNAVAILABLE_MESSAGE, status=503, content_type="text/plain; charset=utf-8"
            )
        body = ResultsCSVRenderer().render({"results": rows}, renderer_context={"view": self})
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        filename = f"{self.report}-{business.pk}-{window.first}-{window.last}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class AppointmentsPage(View):
    """The appointments report (SPEC §14.6) as a table, beside the Pipeline."""

    admin_site: AdminSite | None = None

    def get(self, request: HttpRequest) -> TemplateResponse:
        if not may_view_reports(request.user, "appointments.view_appointment"):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Appointments",
            "intervals": Interval.choices,
            "businesses": Business.objects.order_by("name") if request.user.is_superuser else [],
            "chosen": {
                name: request.GET.get(name, "")
                for name in ("business", "resource", *WINDOW_PARAMETERS)
            },
        }
        template = "admin/reports/appointments.html"
        try:
            business = chosen_business(request)
            window = requested_window(request, business) if business else None
            if business is not None:
                context["resources"] = Resource.objects.for_business(business.pk).in_list_order()
                resource_id = resource_of(business, request.GET)
        except InvalidValue as error:
            context["error"] = error
            return TemplateResponse(request, template, context, status=400)
        if business is None:
            return TemplateResponse(request, template, context)
        shown = {
            "business": str(business.pk),
            "resource": "" if resource_id is None else str(resource_id),
            "from": window.first.isoformat(),
            "to": window.last.isoformat(),
            "interval": window.interval,
        }
        try:
            rows = appointments_report(business, window, resource_id=resource_id)
        except UNREACHABLE:
            context["unavailable"] = UNAVAILABLE_MESSAGE
            return TemplateResponse(request, template, context, status=503)
        context.update(
            business=business,
            window=window,
            chosen=shown,
            rows=rows,
            csv=f"{reverse('admin:reports_appointments_csv')}?{urlencode(shown)}",
        )
        return TemplateResponse(request, template, context)
