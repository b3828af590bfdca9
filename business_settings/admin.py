"""The admin's "Business settings" page (SPEC §15.3): staff of a business change its
three settings there, through business_settings.actions.change_settings (so the
change writes its `business.updated`, as the API's PATCH does). A staff member goes
straight to their own business's page; superusers see every business's settings."""

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse

from accounts.models import SETTINGS_FIELDS
from business_settings.actions import change_settings
from business_settings.models import BusinessSettings


@admin.register(BusinessSettings)
class BusinessSettingsAdmin(admin.ModelAdmin):
    fields = ["name", "timezone", *SETTINGS_FIELDS]
    readonly_fields = ["name", "timezone"]
    list_display = ["id", "name", "timezone", *SETTINGS_FIELDS]
    list_display_links = ["id", "name"]
    search_fields = ["name", "=id"]

    def get_queryset(self, request):
        businesses = super().get_queryset(request)
        if request.user.is_superuser:
            return businesses
        return businesses.filter(pk=request.user.business_id)

    def has_add_permission(self, request) -> bool:
        return False  # businesses are created by superusers (Accounts → Businesses)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        # A staff member has one business: its page is the list.
        user = request.user
        if not user.is_superuser and user.business_id is not None:
            page = "admin:business_settings_businesssettings_change"
            return redirect(reverse(page, args=[user.business_id]))
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        settings = {name: form.cleaned_data[name] for name in SETTINGS_FIELDS}
        stored, _changed = change_settings(obj.pk, settings)
        for name in SETTINGS_FIELDS:
            setattr(obj, name, getattr(stored, name))
