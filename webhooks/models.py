"""Webhook endpoints and deliveries (SPEC §8.3, §8.4, §13).

The delivery table is the queue: the worker creates one delivery per (event,
endpoint) from the events feed, reading it from each endpoint's position, and makes
the attempts. A write to a booking therefore costs one event row whatever the
number of endpoints, and nothing is ever sent from a request.

A delivery's state and an endpoint's failure clock change only through the methods
below, each named for what happens: `WebhookEndpointQuerySet.fan_out` (new feed
events become pending deliveries, `advance_feed_to`), `DeliveryQuerySet.lease` (a
worker takes due deliveries), `Delivery.record_outcome` (succeeded, retried later or
failed; `note_success` / `note_failure` run the endpoint's auto-disable clock),
`WebhookEndpoint.deactivate` and `Delivery.retry_now`. Where one write touches an
endpoint and its deliveries, the endpoint's row is locked first, so that no two of
them can deadlock.
"""

import base64
import datetime as dt
import random
import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from accounts.models import Business
from core.errors import Conflict, DomainError, InvalidValue
from events.models import Event, EventQuerySet, EventType
from webhooks.urls_policy import check_url

if TYPE_CHECKING:
    from webhooks.sending import Outcome

SECRET_PREFIX = "whsec_"
# A rotated-out secret keeps signing beside the new one this long (SPEC §8.3).
ROTATED_SECRET_LIFETIME = dt.timedelta(hours=24)
ENDPOINT_DISABLED = "endpoint disabled"
DEACTIVATED_BY_BUSINESS = "deactivated by the business"
RECEIVER_GONE = "the receiver answered 410 Gone"
# Recording an outcome takes milliseconds; the lease outlives the attempt by this much.
LEASE_MARGIN = dt.timedelta(seconds=5)
RETRY_JITTER = 0.10
# Feed events read into deliveries per transaction (the endpoint's row stays locked).
FAN_OUT_BATCH = 1000
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


def retry_delay(attempts: int) -> dt.timedelta | None:
    """The wait after the `attempts`-th attempt failed (+0-10% jitter, so that receivers
    coming back are not hit by every retry at once), or None after the last."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    return dt.timedelta(seconds=schedule[attempts - 1] * (1 + random.random() * RETRY_JITTER))


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

    def fan_out(self) -> int:
        """Turn the new feed events of every active endpoint into deliveries; the number
        made. Each endpoint is read from its position in batches, one short transaction
        each; an endpoint another worker is fanning out is skipped."""
        endpoint_ids = list(self.filter(active=True).values_list("pk", flat=True))
        return sum(self._fan_out_endpoint(endpoint_id) for endpoint_id in endpoint_ids)

    def _fan_out_endpoint(self, endpoint_id: int) -> int:
        created = 0
        while True:
            with transaction.atomic():
                endpoint = (
                    self.select_for_update(skip_locked=True)
                    .filter(pk=endpoint_id, active=True)
                    .first()
                )
                if endpoint is None:
                    return created
                batch = list(
                    endpoint.unread_events().values_list("pk", "transaction_id", "type")[
                        :FAN_OUT_BATCH
                    ]
                )
                if not batch:
                    return created
                now = timezone.now()
                subscribed = [
                    Delivery(
                        endpoint=endpoint, event_id=event_id, created_at=now, next_attempt_at=now
                    )
                    for event_id, _, event_type in batch
                    if endpoint.subscribes_to(event_type)
                ]
                Delivery.objects.bulk_create(subscribed, ignore_conflicts=True)
                last_id, last_transaction_id, _ = batch[-1]
                endpoint.advance_feed_to(Event(pk=last_id, transaction_id=last_transaction_id))
            created += len(subscribed)
            if len(batch) < FAN_OUT_BATCH:
                return created


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

    def subscribes_to(self, event_type: str) -> bool:
        return EVERY_EVENT_TYPE in self.event_types or event_type in self.event_types

    def unread_events(self) -> EventQuerySet:
        """The business's visible feed after this endpoint's position, in feed order;
        with no position yet, from the endpoint's creation on."""
        events = Event.objects.for_business(self.business_id).visible().in_feed_order()
        if self.feed_event_id is None:
            return events.filter(created_at__gte=self.created_at)
        return events.after(Event(pk=self.feed_event_id, transaction_id=self.feed_transaction_id))

    def advance_feed_to(self, event: Event) -> None:
        """Move the endpoint's feed position past `event` (its pk and transaction id):
        every event up to it has been turned into deliveries or skipped."""
        self.feed_event_id, self.feed_transaction_id = event.pk, event.transaction_id
        self.save(update_fields=["feed_event_id", "feed_transaction_id"])

    advance_feed_to.alters_data = True

    def note_success(self) -> None:
        """An attempt succeeded: the auto-disable clock stops."""
        WebhookEndpoint.objects.filter(pk=self.pk, failing_since__isnull=False).update(
            failing_since=None
        )
        self.failing_since = None

    note_success.alters_data = True

    def note_failure(self, now: dt.datetime, *, gone: bool = False) -> None:
        """An attempt made at `now` failed: the auto-disable clock starts unless it runs.
        The endpoint is disabled when the receiver answered 410 Gone (`gone`), or when
        the clock has run `WEBHOOK_DISABLE_AFTER_DAYS`. An inactive endpoint stays as it
        is. Call it with the endpoint's row locked in the caller's transaction, as
        `Delivery.record_outcome` does."""
        if self.failing_since is None:
            self.failing_since = now
            self.save(update_fields=["failing_since"])
        if not self.active:
            return
        disable_after = settings.WEBHOOK_DISABLE_AFTER_DAYS
        if gone:
            self.deactivate(RECEIVER_GONE)
        elif self.failing_since <= now - dt.timedelta(days=disable_after):
            self.deactivate(f"no attempt succeeded for {disable_after:g} days")

    note_failure.alters_data = True

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
        its pending ones become failed ("endpoint disabled"; they stay retryable). The
        callers hold the endpoint's row locked (`apply_changes`, `note_failure`)."""
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

    def lease(self, limit: int, *, scheduled_by: dt.datetime | None = None) -> list["Delivery"]:
        """Take up to `limit` due deliveries (only those due by `scheduled_by`, when
        given), oldest due first, with their endpoint and event: each one's attempt is
        counted (it starts now) and the delivery is the caller's until `leased_until`
        (`WEBHOOK_TIMEOUT` + 5 s), when another worker may take it again. Rows another
        worker is taking are skipped (SKIP LOCKED), never waited for; on SQLite, which
        has no row locks, run one worker. The transaction commits before returning:
        none is open during the attempts."""
        if limit <= 0:
            return []
        with transaction.atomic():
            now = timezone.now()
            due = self.due(now)
            if scheduled_by is not None:
                due = due.filter(next_attempt_at__lte=scheduled_by)
            deliveries = list(
                due.select_related("endpoint", "event")
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("next_attempt_at", "id")[:limit]
            )
            if not deliveries:
                return []
            leased_until = now + dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT) + LEASE_MARGIN
            Delivery.objects.filter(pk__in=[delivery.pk for delivery in deliveries]).update(
                attempts=models.F("attempts") + 1, last_attempt_at=now, leased_until=leased_until
            )
        for delivery in deliveries:
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.leased_until = leased_until
        return deliveries

    lease.alters_data = True


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

    def record_outcome(self, outcome: "Outcome") -> bool:
        """Record the attempt made under this lease: `succeeded` on a 2xx; otherwise
        pending again after the next wait of `WEBHOOK_RETRY_SCHEDULE`, or `failed` after
        the last; and the endpoint's auto-disable clock (`note_success`,
        `note_failure`). False, and nothing written, when the lease is no longer this
        one: it expired and another worker took the delivery, or the endpoint was
        disabled meanwhile."""
        now = timezone.now()
        if outcome.succeeded:
            status, wait = DeliveryStatus.SUCCEEDED, None
        else:
            wait = retry_delay(self.attempts)
            status = DeliveryStatus.FAILED if wait is None else DeliveryStatus.PENDING
        recorded = {
            "status": status,
            "next_attempt_at": None if wait is None else now + wait,
            "last_response_status": outcome.response_status,
            "last_error": outcome.error[:500],
            "leased_until": None,
        }
        with transaction.atomic():
            # The endpoint's row before the delivery's, as every write that takes both
            # (deactivate, retry_now): none of them can deadlock with another.
            if outcome.succeeded:
                endpoint = self.endpoint
                endpoint.note_success()  # locks the row only while its clock runs
            else:
                endpoint = (
                    WebhookEndpoint.objects.select_for_update().filter(pk=self.endpoint_id).first()
                )
            if endpoint is None or not Delivery.objects.leased_by(self).update(**recorded):
                transaction.set_rollback(True)
                return False
            if not outcome.succeeded:
                endpoint.note_failure(now, gone=outcome.gone)
        self.endpoint = endpoint
        for name, value in recorded.items():
            setattr(self, name, value)
        return True

    record_outcome.alters_data = True

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
