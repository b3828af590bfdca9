"""What the API machinery stores: the answers to requests sent with an Idempotency-Key."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

IDEMPOTENCY_KEY_LIFETIME = dt.timedelta(hours=24)


class IdempotencyKeyQuerySet(models.QuerySet):
    def expired(self) -> "IdempotencyKeyQuerySet":
        return self.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEY_LIFETIME)


class IdempotencyKey(models.Model):
    """The first response to a POST sent with an `Idempotency-Key` header, so a retry
    of the same request replays it instead of writing again. Scoped to the business,
    kept 24 hours."""

    business = models.ForeignKey(settings.TENANT_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    # As the API renders it: dates and datetimes (in UTC) as ISO 8601 strings.
    response_body = models.JSONField(null=True, encoder=JSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = IdempotencyKeyQuerySet.as_manager()

    class Meta:
        # Created by the accounts app before this app existed; the table kept its name.
        db_table = "accounts_idempotencykey"
        constraints = [
            models.UniqueConstraint(fields=["business", "key"], name="idempotency_key_per_business")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.business_id})"

    @property
    def is_expired(self) -> bool:
        return self.created_at < timezone.now() - IDEMPOTENCY_KEY_LIFETIME
