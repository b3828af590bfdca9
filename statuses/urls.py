from django.urls import re_path

from statuses.views import StatusView

urlpatterns = [
    # With or without a trailing slash, never a redirect (as the bookings routes).
    re_path(r"^status/?$", StatusView.as_view(), name="status"),
]
