"""What the API machinery stores (the answers to requests sent with an Idempotency-Key),
and the choices every app's history shares."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.fields import OrderedJSONField

IDEMPOTENCY_KEY_LIFETIME = dt.timedelta(hours=24)
# The earliest moment any record may hold (SPEC §17): older moments are typos or probes,
# and near year 1 a business's local date may not exist in the database.
EARLIEST_MOMENT = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
# The ids a BigAutoField gives: a larger one names nothing (and would overflow the
# database's integer parameter).
ID_RANGE = range(1, 2**63)


class ChangeSource(models.TextChoices):
    """Where a recorded change came from, as every history shows it."""

    API = "api", "API"
    ADMIN = "admin", "admin"
    COMMAND = "command", "command"
    # The server itself, because time said so (the scheduler: SPEC §16).
    SYSTEM = "system", "system"


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
    # The first answer's JSON as the API wrote it, keys in order: a replay renders the
    # same bytes (SPEC §17).
    response_body = OrderedJSONField(null=True)
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
