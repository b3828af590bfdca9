from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.admin_scoping import SuperuserOnlyAdmin
from accounts.models import SETTINGS_FIELDS, ApiToken, Business, User, available_time_zones
from core.errors import DomainError


class BusinessForm(forms.ModelForm):
    def clean_timezone(self) -> str:
        zone = self.cleaned_data["timezone"]
        if self.instance.pk is not None and zone != self.instance.timezone:
            try:
                self.instance.check_timezone_change(zone)
            except DomainError as refused:
                raise forms.ValidationError(refused.message) from None
        return zone


@admin.register(Business)
class BusinessAdmin(SuperuserOnlyAdmin):
    form = BusinessForm
    list_display = ["id", "name", "timezone", "created_at"]
    # The business's own settings are changed on its "Business settings" page, which
    # writes their event (business_settings).
    readonly_fields = SETTINGS_FIELDS
    list_filter = ["timezone"]
    search_fields = ["name", "=id"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "timezone":
            kwargs["widget"] = forms.Select(
                choices=[(name, name) for name in sorted(available_time_zones())]
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        if not change or "timezone" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        # A zone change goes through Business.set_timezone, which realigns the
        # bookings' dates in this transaction; the other fields are saved first.
        new_zone = obj.timezone
        others = [name for name in form.changed_data if name != "timezone"]
        if others:
            obj.save(update_fields=others)
        obj.set_timezone(new_zone)


@admin.register(User)
class UserAdmin(SuperuserOnlyAdmin, DjangoUserAdmin):
    list_display = ["username", "business", "is_staff", "is_superuser", "is_active"]
    list_filter = ["business", "is_staff", "is_superuser", "is_active"]
    list_select_related = ["business"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Business", {"fields": ["business"]}),
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(SuperuserOnlyAdmin):
    """Tokens are issued by `create_api_token`; the admin only lists and revokes them."""

    list_display = ["id", "user", "name", "created_at"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "created_at"]
    exclude = ["key_digest"]

    def has_add_permission(self, request) -> bool:
        return False  # issued by create_api_token, which shows the key once
