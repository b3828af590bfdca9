from django.contrib.admin.apps import AdminConfig


class BookingStatusAdminConfig(AdminConfig):
    """django.contrib.admin, with the project's own site as `admin.site`, so every
    `@admin.register` lands on it unchanged."""

    default_site = "config.admin.BookingStatusAdminSite"
