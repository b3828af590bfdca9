"""Staff admin for events: read-only, scoped to the staff user's business (superusers
see every business's). Events are written only by the changes they record."""

import json

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from rest_framework.utils.encoders import JSONEncoder

from accounts.admin_scoping import BusinessScopedAdmin
from accounts.admin_time import local_moment_text
from events.models import EVENT_ID_PREFIX, Event, EventType, pk_of_public_id


class EventTypeListFilter(admin.SimpleListFilter):
    """The known types, without a DISTINCT over the whole table."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return EventType.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(type=self.value())


@admin.register(Event)
class EventAdmin(BusinessScopedAdmin):
    list_display = ["public_id", "type", "concerns", "business", "recorded"]
    list_filter = [EventTypeListFilter, "business"]
    list_select_related = ["business"]
    ordering = ["-transaction_id", "-id"]  # newest first, in feed order
    search_fields = ["id"]  # read by get_search_results
    search_help_text = "An event id: evt_123 (or 123)."
    fields = ["public_id", "type", "business", "created_at", "envelope"]
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="id")
    def public_id(self, event: Event) -> str:
        return event.public_id

    @admin.display(description="booking")
    def concerns(self, event: Event) -> str | None:
        """The booking the event is about, read from its payload (a booking's events
        carry it whole; a status's carry none), linked to its page."""
        booking = event.data.get("booking") if isinstance(event.data, dict) else None
        if not isinstance(booking, dict) or "id" not in booking:
            return None
        label = f"#{booking['id']} {booking.get('name', '')}".strip()
        try:
            url = reverse("admin:bookings_booking_change", args=[booking["id"]])
        except NoReverseMatch:  # an id the URL pattern does not take
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="recorded", ordering="created_at")
    def recorded(self, event: Event) -> str | None:
        return local_moment_text(event.created_at, event.business.zone)

    @admin.display(description="envelope (as the feed and webhooks carry it)")
    def envelope(self, event: Event) -> str:
        return format_html(
            "<pre>{}</pre>",
            json.dumps(event.envelope(), cls=JSONEncoder, indent=2, ensure_ascii=False),
        )

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        pk = pk_of_public_id(term if term.startswith(EVENT_ID_PREFIX) else EVENT_ID_PREFIX + term)
        return (queryset.none() if pk is None else queryset.filter(pk=pk)), False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
