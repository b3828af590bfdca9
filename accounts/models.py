"""Tenants (businesses), the users who belong to them, and their API tokens."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models

from core.fixed_sql import CompiledQuery


class Business(models.Model):
    """The tenant. Ids are chosen by the operator (e.g. 43111), not generated."""

    id = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "businesses"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class BusinessUserManager(UserManager):
    def holding_token(self, key_digest: str) -> "User | None":
        """The user whose API token has this digest, with only the fields every API
        request needs loaded (id, username, active flag, business); any other field
        loads on first access. None when no token has the digest.

        A queryset compiled once (core/fixed_sql.py), because it runs on every API
        request: the ORM would spend longer building the statement than PostgreSQL
        spends running it."""
        found = TOKEN_HOLDER.rows(self.db, key_digest=key_digest)
        return found[0] if found else None


class User(AbstractUser):
    """A person or integration. API callers belong to exactly one business;
    superusers may belong to none."""

    business = models.ForeignKey(
        Business, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )

    objects = BusinessUserManager()


def digest_token_key(key: str) -> str:
    """Keys are long random secrets, so one SHA-256 round is enough to store them:
    there is nothing to brute-force, and a password hasher would cost every
    request tens of milliseconds."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def issue(self, user: User, *, name: str = "") -> tuple["ApiToken", str]:
        """Create a token for `user`; return it with its plain key, which is never stored."""
        key = secrets.token_urlsafe(32)
        token = self.create(user=user, key_digest=digest_token_key(key), name=name)
        return token, key


class ApiToken(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"token {self.pk} of {self.user}"


TOKEN_HOLDER = CompiledQuery(
    lambda key_digest: User.objects.filter(api_tokens__key_digest=key_digest).only(
        "id", "username", "is_active", "business"
    )
)
