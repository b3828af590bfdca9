"""The admin site: Django's, under the product's name, with the reports' pages
(reports/admin_views.py) among its URLs and on its index."""

from django.contrib import admin

from reports import admin_views


class BookingStatusAdminSite(admin.AdminSite):
    site_header = "Booking status"
    site_title = "Booking status"
    index_title = "Administration"

    def get_urls(self):
        return [*admin_views.urls(self), *super().get_urls()]

    def get_app_list(self, request, app_label=None):
        """The models' sections, and on the index and in the sidebar a "Reports" one
        for those who may open the reports."""
        app_list = super().get_app_list(request, app_label)
        if app_label is None and admin_views.may_view_any_report(request.user):
            app_list.append(admin_views.reports_section(self, request.user))
            app_list.sort(key=lambda section: section["name"].lower())
        return app_list
