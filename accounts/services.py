"""Operations that span a business, its users and their tokens."""

from django.db import transaction

from accounts.models import ApiToken, Business, User


@transaction.atomic
def issue_api_token(
    *, business_id: int, username: str, business_name: str | None = None
) -> tuple[User, str]:
    """Create the business and user if missing, and a new token for the user.

    Returns the user and the token's plain key (shown once, stored only as a digest).
    An existing user of another business is refused: a token must never widen a
    user's reach to a second tenant.
    """
    business, _ = Business.objects.get_or_create(
        id=business_id, defaults={"name": business_name or f"Business {business_id}"}
    )
    user, created = User.objects.get_or_create(username=username, defaults={"business": business})
    if not created and user.business_id != business.id:
        raise ValueError(
            f"User {username!r} belongs to business {user.business_id}, not {business.id}."
        )
    _, key = ApiToken.objects.issue(user, name="create_api_token")
    return user, key
