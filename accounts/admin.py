from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.admin_scoping import SuperuserOnlyAdmin
from accounts.models import ApiToken, Business, User


@admin.register(Business)
class BusinessAdmin(SuperuserOnlyAdmin):
    list_display = ["id", "name", "created_at"]
    search_fields = ["name", "=id"]


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
