"""Staff admin for webhook endpoints and their deliveries.

Staff tied to a business see and change only its rows (BusinessScopedAdmin);
superusers see all. Writes go through the API's model methods: `register` (URL rules,
the limit of 16 under the business's lock), `apply_changes`, and `Delivery.retry_now`
for the "Retry now" action. A secret is never listed or shown on a form: only once,
in the message after the endpoint is created.
"""

from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts.admin_scoping import BusinessScopedAdmin
from accounts.admin_time import local_moment_text
from core.errors import DomainError
from webhooks.models import (
    CHANGEABLE_FIELDS,
    DELIVERY_OUTCOME_FIELDS,
    Delivery,
    WebhookEndpoint,
)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(BusinessScopedAdmin):
    list_display = ["id", "url", "business", "active", "event_types", "created", "disabled_reason"]
    list_display_links = ["id", "url"]
    list_filter = ["business", "active"]
    list_select_related = ["business"]
    search_fields = ["url", "description"]
    fields = [
        "business",
        "url",
        "event_types",
        "description",
        "active",
        "disabled_reason",
        "created_at",
    ]
    readonly_fields = ["disabled_reason", "created_at"]

    @admin.display(description="created", ordering="created_at")
    def created(self, endpoint: WebhookEndpoint) -> str:
        return local_moment_text(endpoint.created_at, endpoint.business.zone)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and "business" not in fields:
            fields = [*fields, "business"]  # an endpoint never moves to another business
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        business_id = self.scope_business_id(request)
        if obj is not None or business_id is None:
            return form

        class NewEndpointOfTheStaffBusinessForm(form):
            """The business is known before validation, so that the limit of 16 is
            checked as a form error rather than failing on save."""

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.instance.business_id = business_id

        return NewEndpointOfTheStaffBusinessForm

    def save_model(self, request, obj, form, change) -> None:
        if not request.user.is_superuser:
            obj.business_id = request.user.business_id
        if change:
            changed = set(form.changed_data) & CHANGEABLE_FIELDS
            obj.apply_changes({name: form.cleaned_data[name] for name in changed})
            return
        obj.register()
        self.message_user(
            request,
            format_html(
                "The signing secret of {}: <code>{}</code>. Copy it now: it is not shown "
                "again (rotate it through the API to get a new one).",
                obj.url,
                obj.secret,
            ),
            messages.WARNING,
        )


@admin.register(Delivery)
class DeliveryAdmin(BusinessScopedAdmin):
    business_field = "endpoint__business"
    fields = ["endpoint", "event_id_shown", "event_type", *DELIVERY_OUTCOME_FIELDS]
    # Narrow enough for 1,400 px: the endpoint by its host, times on the business's
    # clock, the last error cut short (in full on the delivery's page).
    list_display = [
        "id",
        "endpoint_host",
        "business",
        "event",
        "status",
        "attempts",
        "last_attempt",
        "next_attempt",
        "last_answer",
    ]
    list_filter = ["status", "endpoint__business"]
    list_select_related = ["endpoint__business"]
    actions = ["retry_now"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_event_type()

    def has_add_permission(self, request) -> bool:
        return False  # the worker creates deliveries from the events feed

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the worker writes them; staff only retry (the action)

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("webhooks.change_delivery")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting the endpoint drops them

    @admin.display(description="business", ordering="endpoint__business")
    def business(self, delivery: Delivery):
        return delivery.endpoint.business

    @admin.display(description="endpoint", ordering="endpoint")
    def endpoint_host(self, delivery: Delivery) -> str:
        return format_html(
            '<span title="{}">#{} {}</span>',
            delivery.endpoint.url,
            delivery.endpoint_id,
            urlsplit(delivery.endpoint.url).hostname or delivery.endpoint.url,
        )

    @admin.display(description="last attempt", ordering="last_attempt_at")
    def last_attempt(self, delivery: Delivery) -> str | None:
        return local_moment_text(delivery.last_attempt_at, delivery.endpoint.business.zone)

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, delivery: Delivery) -> str | None:
        return local_moment_text(delivery.next_attempt_at, delivery.endpoint.business.zone)

    @admin.display(description="event")
    def event(self, delivery: Delivery) -> str:
        return format_html("{}<br><small>{}</small>", delivery.event_public_id, delivery.event_type)

    @admin.display(description="last answer")
    def last_answer(self, delivery: Delivery) -> str:
        """The receiver's status code and the error, cut short (in full on hover and on
        the delivery's page)."""
        return format_html(
            '<span title="{}">{}{}</span>',
            delivery.last_error,
            f"{delivery.last_response_status} " if delivery.last_response_status else "",
            Truncator(delivery.last_error).chars(32),
        )

    @admin.display(description="event")
    def event_id_shown(self, delivery: Delivery) -> str:
        return delivery.event_public_id

    @admin.display(description="event type")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event_type

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request, queryset) -> None:
        retried = 0
        for delivery in queryset.order_by("pk"):
            try:
                delivery.retry_now()
            except DomainError as refused:
                self.message_user(
                    request, f"Delivery {delivery.pk}: {refused.message}", messages.ERROR
                )
            else:
                retried += 1
        if retried:
            self.message_user(
                request, f"{retried} deliveries scheduled again, due now.", messages.SUCCESS
            )
