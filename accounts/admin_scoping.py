"""Who sees what in the admin: staff only their own business's rows, superusers all;
a record's history whoever may see the record."""

from django.contrib import admin
from django.contrib.auth import get_permission_codename


class BusinessScopedAdmin(admin.ModelAdmin):
    """For models with a `business` foreign key.

    A staff user tied to a business sees, edits and creates rows of that business
    only (another business's row is answered as missing); superusers see every row.
    """

    business_field = "business"

    def scope_business_id(self, request) -> int | None:
        """The business a request is confined to, or None for a superuser."""
        if request.user.is_superuser:
            return None
        return request.user.business_id

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        if request.user.business_id is None:
            return queryset.none()
        return queryset.filter(**{f"{self.business_field}_id": request.user.business_id})

    def has_add_permission(self, request) -> bool:
        # A staff user tied to no business has nowhere to put a new row.
        if not request.user.is_superuser and request.user.business_id is None:
            return False
        return super().has_add_permission(request)

    def get_list_display(self, request):
        # Staff see one business only: a business column would say the same on every row.
        columns = super().get_list_display(request)
        if request.user.is_superuser:
            return columns
        return [name for name in columns if name != "business"]

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [f for f in filters if f != self.business_field]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser and self.business_field not in fields:
            fields.append(self.business_field)
        return fields

    def save_model(self, request, obj, form, change) -> None:
        if not request.user.is_superuser:
            setattr(obj, f"{self.business_field}_id", request.user.business_id)
        super().save_model(request, obj, form, change)


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Tenants, users and tokens span businesses: only superusers manage them, whatever
    model permissions a staff user has been given (a staff user who could edit users
    could make themselves a superuser)."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser


class HistoryInline(admin.TabularInline):
    """A record's status history under it: read-only, newest first. It is part of the
    record: whoever may see or change the record (the inline's parent model) sees it."""

    ordering = ["-id"]
    extra = 0
    can_delete = False
    verbose_name_plural = "status history (newest first)"

    def has_view_permission(self, request, obj=None) -> bool:
        opts = self.parent_model._meta
        return any(
            request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
            for action in ("view", "change")
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
