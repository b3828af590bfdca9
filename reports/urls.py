from django.urls import re_path

from reports.views import AppointmentsView, LostReasonsView, PipelineView, TimeInStatusView

urlpatterns = [
    # With or without a trailing slash, never a redirect (as every API route).
    re_path(r"^v2/reports/pipeline/?$", PipelineView.as_view(), name="report-pipeline"),
    re_path(
        r"^v2/reports/time_in_status/?$", TimeInStatusView.as_view(), name="report-time-in-status"
    ),
    re_path(r"^v2/reports/appointments/?$", AppointmentsView.as_view(), name="report-appointments"),
    re_path(r"^v2/reports/lost_reasons/?$", LostReasonsView.as_view(), name="report-lost-reasons"),
]
