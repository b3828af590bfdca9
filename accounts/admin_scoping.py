"""Admin pages show staff only their own business's rows; superusers see all."""

from django.contrib import admin


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
