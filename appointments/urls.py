from appointments.views import AppointmentViewSet, ResourceViewSet
from core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("v2/resources", ResourceViewSet, basename="resource")
router.register("v2/appointments", AppointmentViewSet, basename="appointment")

urlpatterns = router.urls
