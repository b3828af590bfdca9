from django.contrib import admin
from django.urls import include, path

from bookings.views import BookingViewSet
from config.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("v2/bookings", BookingViewSet, basename="booking")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("statuses.urls")),
    path("", include(router.urls)),
]
