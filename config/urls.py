from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bookings.views import BookingViewSet, LostReasonsView, LostReasonView
from business_settings.views import BusinessView
from core.health import LivenessView, ReadinessView
from core.metrics import MetricsView
from core.routers import OptionalSlashRouter
from events.views import EventFeedView
from webhooks.views import WebhookEndpointViewSet

router = OptionalSlashRouter()
router.register("v2/bookings", BookingViewSet, basename="booking")
router.register("v2/webhook_endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", LivenessView.as_view(), name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    re_path(r"^v2/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^v2/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^v2/business/?$", BusinessView.as_view(), name="business"),
    path("", include("statuses.urls")),
    path("", include("appointments.urls")),
    re_path(r"^v2/events/?$", EventFeedView.as_view(), name="event-feed"),
    re_path(r"^v2/lost_reasons/?$", LostReasonsView.as_view(), name="lost-reasons"),
    re_path(r"^v2/lost_reasons/(?P<pk>[0-9]+)/?$", LostReasonView.as_view(), name="lost-reason"),
    path("", include("reports.urls")),
    path("", include(router.urls)),
    re_path(r"^metrics/?$", MetricsView.as_view(), name="metrics"),
]

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
