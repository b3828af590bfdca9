"""Operations that span a business, its users and their tokens."""

import unicodedata

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import ApiToken, Business, User


def validate_business_name(name: str) -> None:
    """A business name is shown in the admin, in lists and in whatever a business's
    data is exported to. Letters, digits, spaces and punctuation (`&`, quotes, dashes)
    are all a real name needs; control characters (a newline, NUL) and the angle
    brackets of markup (`<script>`) are never part of one, so they are refused rather
    than trusted to be escaped wherever the name is shown."""
    if any(unicodedata.category(character) == "Cc" for character in name):
        raise ValidationError("A business name cannot contain control characters.")
    if "<" in name or ">" in name:
        raise ValidationError("A business name cannot contain < or >.")


def validated_account(
    *, business_id: int, username: str, business_name: str | None
) -> tuple[Business, User]:
    """An unsaved Business and User holding these values, checked by the models' own
    field rules (Django's username validator, the columns' lengths, the id's range on
    this database) and by validate_business_name, before anything is written.

    Raises ValidationError keyed by field: `id`, `name` (the business's), `username`.
    Surrounding blanks are dropped and the username is normalised as Django's forms do.
    """
    name = f"Business {business_id}" if business_name is None else business_name.strip()
    business = Business(id=business_id, name=name)
    user = User(username=User.normalize_username(username.strip()))
    errors: dict[str, list[str]] = {}
    try:
        business.clean_fields()
    except ValidationError as error:
        errors.update(error.message_dict)
    if "name" not in errors:
        try:
            validate_business_name(name)
        except ValidationError as error:
            errors["name"] = error.messages
    try:
        user.clean_fields(exclude=[f.name for f in User._meta.fields if f.name != "username"])
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return business, user


@transaction.atomic
def issue_api_token(
    *, business_id: int, username: str, business_name: str | None = None
) -> tuple[User, str]:
    """Create the business and user if missing, and a new token for the user.

    Returns the user and the token's plain key (shown once, stored only as a digest).
    Invalid values raise ValidationError (see validated_account) and write nothing.
    An existing user of another business is refused: a token must never widen a
    user's reach to a second tenant.
    """
    valid_business, valid_user = validated_account(
        business_id=business_id, username=username, business_name=business_name
    )
    business, _ = Business.objects.get_or_create(
        id=valid_business.id, defaults={"name": valid_business.name}
    )
    user, created = User.objects.get_or_create(
        username=valid_user.username, defaults={"business": business}
    )
    if not created and user.business_id != business.id:
        raise ValueError(
            f"User {user.username!r} belongs to business {user.business_id}, not {business.id}."
        )
    _, key = ApiToken.objects.issue(user, name="create_api_token")
    return user, key


@transaction.atomic
def create_staff_user(*, business_id: int, username: str, password: str) -> User:
    """A new staff member of an existing business: `is_staff`, in the "Staff" group
    (accounts/staff.py), with this password. Raises ValidationError keyed by `business`,
    `username` or `password` (Django's password validators), writing nothing."""
    from accounts.staff import staff_group

    user = User(
        username=User.normalize_username(username.strip()),
        business_id=business_id,
        is_staff=True,
    )
    errors: dict[str, list[str]] = {}
    if not Business.objects.filter(pk=business_id).exists():
        errors["business"] = [f"There is no business {business_id}."]
    try:
        user.clean_fields(exclude=[f.name for f in User._meta.fields if f.name != "username"])
    except ValidationError as error:
        errors.update(error.message_dict)
    if "username" not in errors and User.objects.filter(username=user.username).exists():
        errors["username"] = [f"A user {user.username!r} exists already."]
    try:
        validate_password(password, user)
    except ValidationError as error:
        errors["password"] = error.messages
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    user.save()
    user.groups.add(staff_group())
    return user
