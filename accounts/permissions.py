from rest_framework.permissions import BasePermission


class IsBusinessMember(BasePermission):
    """API callers must be authenticated users that belong to a business:
    every query is scoped to it."""

    message = "This user does not belong to a business."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        return user.business_id is not None
