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
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from accounts.models import Business
from core.errors import Conflict, DomainError, InvalidValue
from events.models import Event, EventType
from webhooks.urls_policy import check_url

SECRET_PREFIX = "whsec_"
# A rotated-out secret keeps signing beside the new one this long (SPEC §8.3).
ROTATED_SECRET_LIFETIME = dt.timedelta(hours=24)
ENDPOINT_DISABLED = "endpoint disabled"
DEACTIVATED_BY_BUSINESS = "deactivated by the business"
# Inactive endpoints count too: deactivating is not a way around the limit.
MAX_ENDPOINTS_PER_BUSINESS = 16
EVERY_EVENT_TYPE = "*"
EVENT_TYPES = tuple(EventType.values)
CHANGEABLE_FIELDS = {"url", "event_types", "description", "active"}
# What a delivery's attempts so far come to, as the API and the admin show them.
DELIVERY_OUTCOME_FIELDS = [
    "status",
    "attempts",
    "created_at",
    "last_attempt_at",
    "next_attempt_at",
    "last_response_status",
    "last_error",
]


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (the Standard Webhooks form)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def clean_event_types(event_types: list[str]) -> list[str]:
    """The subscription as stored: `["*"]`, or a non-empty list of known types without
    repeats (first occurrence kept). InvalidValue naming `event_types` otherwise."""
    is_list_of_strings = isinstance(event_types, list) and all(
        isinstance(name, str) for name in event_types
    )
    if not is_list_of_strings or not event_types:
        raise InvalidValue('Must be ["*"] or a non-empty list of event types.', field="event_types")
    if EVERY_EVENT_TYPE in event_types:
        if set(event_types) != {EVERY_EVENT_TYPE}:
            raise InvalidValue('"*" stands alone: it means every type.', field="event_types")
        return [EVERY_EVENT_TYPE]
    unknown = [name for name in event_types if name not in EVENT_TYPES]
    if unknown:
        raise InvalidValue(
            f"Unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}.",
            field="event_types",
        )
    return list(dict.fromkeys(event_types))


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookEndpointQuerySet(models.QuerySet):
    def for_business(self, business_id: int) -> "WebhookEndpointQuerySet":
        return self.filter(business_id=business_id)


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

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["business", "id"], name="webhook_endpoint_business")]

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self, now: dt.datetime | None = None) -> list[str]:
        """The secrets that sign an attempt made `now`: the current one, then every one
        rotated out within the last 24 hours, newest first."""
        now = now or timezone.now()
        return [self.secret, *(entry["secret"] for entry in self.unexpired_previous_secrets(now))]

    def unexpired_previous_secrets(self, now: dt.datetime) -> list[dict]:
        return [
            entry
            for entry in self.previous_secrets
            if dt.datetime.fromisoformat(entry["expires_at"]) > now
        ]

    def clean(self) -> None:
        """The rules of `register` and `apply_changes`, as form errors (the admin)."""
        try:
            self.url = check_url(self.url).url
            self.event_types = clean_event_types(self.event_types)
        except DomainError as refused:
            raise ValidationError({refused.field: refused.message}) from None
        if self._state.adding and self.business_id is not None:
            try:
                self.refuse_beyond_the_limit()
            except Conflict as refused:
                raise ValidationError(refused.message) from None

    def refuse_beyond_the_limit(self) -> None:
        count = WebhookEndpoint.objects.for_business(self.business_id).count()
        if count >= MAX_ENDPOINTS_PER_BUSINESS:
            raise Conflict(
                f"A business has at most {MAX_ENDPOINTS_PER_BUSINESS} webhook endpoints, "
                "inactive ones included; delete one first."
            )

    def register(self) -> None:
        """Save this new endpoint after checking its URL and event types, unless its
        business has its 16 already (Conflict). The count is taken under a lock of the
        business row, so two concurrent registrations cannot make 17."""
        self.url = check_url(self.url).url  # the DNS lookup, before any lock is taken
        self.event_types = clean_event_types(self.event_types)
        with transaction.atomic():
            # FOR NO KEY UPDATE: it queues registrations, never a booking's insert.
            locked = Business.objects.select_for_update(no_key=True).filter(pk=self.business_id)
            list(locked.values("pk"))
            self.refuse_beyond_the_limit()
            self.save(force_insert=True)

    register.alters_data = True

    def apply_changes(self, changes: dict) -> None:
        """Change any of `url`, `event_types`, `description` and `active`. Activating
        clears `disabled_reason` and the auto-disable clock; deactivating is
        `deactivate()` (pending deliveries become failed). Only changed columns are
        written."""
        unexpected = set(changes) - CHANGEABLE_FIELDS
        if unexpected:
            raise ValueError(f"not changeable: {sorted(unexpected)}")
        changes = dict(changes)
        if "url" in changes:
            changes["url"] = check_url(changes["url"]).url
        if "event_types" in changes:
            changes["event_types"] = clean_event_types(changes["event_types"])
        active = changes.pop("active", None)
        with transaction.atomic():
            self.refresh_from_db(from_queryset=WebhookEndpoint.objects.select_for_update())
            changed = [name for name, value in changes.items() if getattr(self, name) != value]
            for name in changed:
                setattr(self, name, changes[name])
            if active is True and not self.active:
                self.active, self.disabled_reason, self.failing_since = True, "", None
                changed += ["active", "disabled_reason", "failing_since"]
            if changed:
                self.save(update_fields=changed)
            if active is False and self.active:
                self.deactivate(DEACTIVATED_BY_BUSINESS)

    apply_changes.alters_data = True

    def rotate_secret(self, now: dt.datetime | None = None) -> str:
        """Give the endpoint a new secret and return it. The old one keeps signing
        beside it for 24 hours (newest first); secrets past that are dropped."""
        with transaction.atomic():
            self.refresh_from_db(from_queryset=WebhookEndpoint.objects.select_for_update())
            now = now or timezone.now()
            retired = {
                "secret": self.secret,
                "expires_at": (now + ROTATED_SECRET_LIFETIME).isoformat(),
            }
            self.previous_secrets = [retired, *self.unexpired_previous_secrets(now)]
            self.secret = new_secret()
            self.save(update_fields=["secret", "previous_secrets"])
        return self.secret

    rotate_secret.alters_data = True

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
    def for_business(self, business_id: int) -> "DeliveryQuerySet":
        return self.filter(endpoint__business_id=business_id)

    def with_event_type(self) -> "DeliveryQuerySet":
        """With `event_type`, read by the join rather than by loading each event."""
        return self.annotate(event_type=models.F("event__type"))

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

    @property
    def event_public_id(self) -> str:
        # Formatted by Event itself, without reading the event row.
        return Event(pk=self.event_id).public_id

    def retry_now(self) -> None:
        """Make this delivery pending and due now, whatever its status, keeping its
        attempt count (so a retried failed delivery that fails again is failed again).
        Refused (Conflict) while its endpoint is inactive."""
        with transaction.atomic():
            # The endpoint's row first, as deactivate() takes it: a retry and a
            # deactivation cannot interleave and leave a pending delivery behind.
            endpoint = (
                WebhookEndpoint.objects.select_for_update().only("active").get(pk=self.endpoint_id)
            )
            if not endpoint.active:
                raise Conflict("The endpoint is inactive: reactivate it (PATCH active=true) first.")
            self.refresh_from_db(from_queryset=Delivery.objects.select_for_update())
            self.status = DeliveryStatus.PENDING
            self.next_attempt_at = timezone.now()
            self.save(update_fields=["status", "next_attempt_at"])

    retry_now.alters_data = True
