"""Webhook endpoints and deliveries (SPEC §8.3, §8.4, §13).

The delivery table is the queue: the worker creates one delivery per (event,
endpoint) from the events feed, reading it from each endpoint's position, and makes
the attempts. A write to a booking therefore costs one event row whatever the
number of endpoints, and nothing is ever sent from a request.
"""

import base64
import datetime as dt
import secrets

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

SECRET_PREFIX = "whsec_"
# A rotated-out secret keeps signing beside the new one this long (SPEC §8.3).
ROTATED_SECRET_LIFETIME = dt.timedelta(hours=24)
ENDPOINT_DISABLED = "endpoint disabled"


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (the Standard Webhooks form)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookEndpoint(models.Model):
    business = models.ForeignKey(
        settings.TENANT_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2048)
    # ["*"] or a non-empty list of the event types of SPEC §8.1.
    event_types = models.JSONField(default=list)
    description = models.CharField(max_length=500, blank=True, default="")
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # `whsec_` + base64 of 32 random bytes. Shown on create and rotate only.
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    # Secrets rotated out within the last 24 h still sign, newest first:
    # [{"secret": "whsec_…", "expires_at": "<ISO 8601>"}, …]
    previous_secrets = models.JSONField(default=list, editable=False)
    # The endpoint's position in its business's events feed: the last event the
    # worker turned into deliveries (or skipped), as its feed key (transaction_id,
    # id). Null: the endpoint has seen nothing yet; it receives only events written
    # after it was created (`created_at`).
    feed_transaction_id = models.BigIntegerField(null=True, editable=False)
    feed_event_id = models.BigIntegerField(null=True, editable=False)
    # The first failed attempt after the last success: the auto-disable clock.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["business", "id"], name="webhook_endpoint_business")]

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self, now: dt.datetime | None = None) -> list[str]:
        """The secrets that sign an attempt made `now`: the current one, then every one
        rotated out within the last 24 hours, newest first."""
        now = now or timezone.now()
        still_valid = [
            entry["secret"]
            for entry in self.previous_secrets
            if dt.datetime.fromisoformat(entry["expires_at"]) > now
        ]
        return [self.secret, *still_valid]

    def deactivate(self, reason: str) -> None:
        """Stop delivering to this endpoint: no new deliveries are created for it, and
        its pending ones become failed ("endpoint disabled"; they stay retryable)."""
        with transaction.atomic():
            self.active = False
            self.disabled_reason = reason
            self.save(update_fields=["active", "disabled_reason"])
            self.deliveries.filter(status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.FAILED,
                last_error=ENDPOINT_DISABLED,
                next_attempt_at=None,
                leased_until=None,
            )

    deactivate.alters_data = True


class DeliveryQuerySet(models.QuerySet):
    def due(self, now: dt.datetime) -> "DeliveryQuerySet":
        """Pending deliveries of active endpoints whose next attempt is due and that no
        worker holds (no lease, or one that expired with its worker)."""
        return self.filter(
            models.Q(leased_until__isnull=True) | models.Q(leased_until__lt=now),
            status=DeliveryStatus.PENDING,
            endpoint__active=True,
            next_attempt_at__lte=now,
        )

    def leased_by(self, delivery: "Delivery") -> "DeliveryQuerySet":
        """The delivery, only while the lease its worker took is still the current one."""
        return self.filter(
            pk=delivery.pk, leased_until=delivery.leased_until, status=DeliveryStatus.PENDING
        )


class Delivery(models.Model):
    """One event for one endpoint, and its attempts so far."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # Deliveries keep their event: purge_events never removes an event with a
    # pending delivery (SPEC §13), and an event of a deleted booking is still sent.
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    # A worker takes a due delivery by setting a lease (in a short transaction with
    # SKIP LOCKED), makes the attempt with no transaction open, then records the
    # outcome. A worker killed mid-attempt leaves the lease to expire: the delivery
    # is taken again, never lost.
    leased_until = models.DateTimeField(null=True, blank=True, editable=False)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"], name="delivery_per_endpoint_event"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_newest"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"
