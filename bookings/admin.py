from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin_scoping import BusinessScopedAdmin
from bookings.forms import ChangeStatusForm
from bookings.models import Booking, BookingStatusChange, ChangeSource
from config.errors import DomainError

STATUS_DATE_FIELDS = [
    "status",
    "tentative_date",
    "tentative_at",
    "definite_date",
    "definite_at",
    "lost_date",
    "lost_at",
]


class StatusChangeInline(admin.TabularInline):
    """The audit trail, read-only and newest first."""

    model = BookingStatusChange
    fields = ["recorded_at", "from_status", "to_status", "status_at", "changed_by", "source"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    can_delete = False
    verbose_name_plural = "status history (newest first)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Booking)
class BookingAdmin(BusinessScopedAdmin):
    list_display = [
        "id",
        "name",
        "business",
        "status",
        "tentative_date",
        "definite_date",
        "lost_date",
        "starts_at",
    ]
    list_filter = [
        "status",
        ("tentative_date", admin.DateFieldListFilter),
        ("definite_date", admin.DateFieldListFilter),
        ("lost_date", admin.DateFieldListFilter),
        "business",
    ]
    list_select_related = ["business"]
    search_fields = ["name", "notes", "=id"]
    readonly_fields = [*STATUS_DATE_FIELDS, "created_at", "updated_at"]
    inlines = [StatusChangeInline]
    change_form_template = "admin/bookings/booking/change_form.html"

    def get_urls(self):
        change_status = self.admin_site.admin_view(self.change_status_view)
        return [
            path(
                "<int:object_id>/change_status/",
                change_status,
                name="bookings_booking_change_status",
            ),
            *super().get_urls(),
        ]

    def change_status_view(self, request, object_id: int):
        booking = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, booking):
            raise PermissionDenied
        form = ChangeStatusForm(request.POST or None, initial={"status": booking.status})
        if request.method == "POST" and form.is_valid():
            try:
                booking.change_status(
                    form.cleaned_data["status"],
                    at=form.cleaned_data["status_at"],
                    by=request.user,
                    source=ChangeSource.ADMIN,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                self.message_user(
                    request, f"Status changed to {booking.status}.", messages.SUCCESS
                )
                return redirect(reverse("admin:bookings_booking_change", args=[booking.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": booking,
            "form": form,
            "title": f"Change status of {booking}",
            "history": booking.status_changes.order_by("-id")[:50],
        }
        return TemplateResponse(request, "admin/bookings/booking/change_status.html", context)
