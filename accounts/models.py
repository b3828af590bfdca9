"""Tenants (businesses), the users who belong to them, and their API tokens."""

import datetime as dt
import functools
import hashlib
import secrets
import zoneinfo

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.dispatch import Signal

# Sent by Business.set_timezone inside its transaction, with `business` (its new
# `timezone` set), after the business row is locked. A receiver realigns its app's
# dates to the new zone and returns `(what, ids changed)`: the layers above accounts
# keep such dates, and accounts imports none of them.
timezone_changed = Signal()
# Sent by Business.check_timezone_change with `business` and `timezone`, before a zone
# change (the admin's form asks it, to answer with a form error): a receiver raises a
# DomainError when its app could not realign to that zone. The realignment itself
# refuses again in the change's own transaction.
timezone_change_checked = Signal()


def validate_time_zone_name(name: str) -> None:
    """An exact key of the zone database (`zoneinfo.available_timezones()`): no
    abbreviations, no offsets, no other spelling."""
    if name not in available_time_zones():
        raise ValidationError(
            "%(name)r is not a time zone of the IANA database, e.g. Europe/Paris or UTC.",
            code="unknown_time_zone",
            params={"name": name},
        )


def time_zone(name: str) -> dt.tzinfo:
    """The zone named `name` (a valid name: see validate_time_zone_name); UTC as
    `datetime.UTC`, which converts faster than its ZoneInfo."""
    return dt.UTC if name == "UTC" else zoneinfo.ZoneInfo(name)


@functools.cache
def available_time_zones() -> frozenset[str]:
    # Reading the zone database's directory takes milliseconds; it does not change
    # while the process runs.
    return frozenset(zoneinfo.available_timezones())


# A business's own preferences (SPEC §15.3), which its API users and staff change; the
# name and the time zone are the operator's.
SETTINGS_FIELDS = ("require_lost_reason", "hold_reminder_hours", "auto_complete_after_hours")
HOLD_REMINDER_HOURS_MAX = 720
AUTO_COMPLETE_HOURS_MAX = 720


class Business(models.Model):
    """The tenant. Ids are chosen by the operator (e.g. 43111), not generated."""

    id = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone_name],
        help_text="IANA time zone, e.g. America/New_York: every status date of the "
        "business's bookings is a date in this zone. Changing it realigns them.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # The business's settings (SETTINGS_FIELDS), changed through business_settings.
    require_lost_reason = models.BooleanField(
        default=False, help_text="A change to lost must name a lost reason."
    )
    hold_reminder_hours = models.PositiveSmallIntegerField(
        default=24,
        validators=[MaxValueValidator(HOLD_REMINDER_HOURS_MAX)],
        help_text="Hours before a hold expires when booking.hold_expiring is sent; 0: never.",
    )
    auto_complete_after_hours = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(AUTO_COMPLETE_HOURS_MAX)],
        help_text="Hours after its end when an appointment still open is completed; empty: never.",
    )

    class Meta:
        verbose_name_plural = "businesses"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hold_reminder_hours__lte=HOLD_REMINDER_HOURS_MAX),
                name="business_hold_reminder_hours_range",
            ),
            models.CheckConstraint(
                condition=models.Q(auto_complete_after_hours__isnull=True)
                | models.Q(
                    auto_complete_after_hours__gte=1,
                    auto_complete_after_hours__lte=AUTO_COMPLETE_HOURS_MAX,
                ),
                name="business_auto_complete_after_hours_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    @property
    def zone(self) -> dt.tzinfo:
        return time_zone(self.timezone)

    def check_timezone_change(self, name: str) -> None:
        """Raise the DomainError a zone change to `name` would refuse with (e.g. a
        booking dated before 1900), without changing anything."""
        timezone_change_checked.send(sender=Business, business=self, timezone=name)

    def set_timezone(self, name: str) -> dict[str, list[int]]:
        """Put the business on the zone `name` and realign, in the same transaction,
        whatever is dated in its zone (the apps that keep such dates answer
        `timezone_changed`). Returns what each of them changed, e.g.
        `{"bookings": [ids]}`.

        Raises ValidationError (and changes nothing) for a name that is not a zone,
        the DomainError of a realignment that refuses (nothing changed either), and
        Business.DoesNotExist when the business is gone. The business row is locked
        first, so that every realignment sees the zone it is realigned to (SPEC §13), with
        FOR NO KEY UPDATE: bookings of the business are still inserted meanwhile."""
        validate_time_zone_name(name)
        with transaction.atomic():
            Business.objects.select_for_update(no_key=True).only("pk").get(pk=self.pk)
            self.timezone = name
            self.save(update_fields=["timezone"])
            responses = timezone_changed.send(sender=Business, business=self)
        return dict(response for _receiver, response in responses)

    set_timezone.alters_data = True

    def apply_settings(self, settings: dict) -> list[str]:
        """Set the settings given (names of SETTINGS_FIELDS, validated values) on this
        instance and return the names of those whose value changed, in the order of
        SETTINGS_FIELDS. Saving them is the caller's (business_settings.actions)."""
        unknown = set(settings) - set(SETTINGS_FIELDS)
        if unknown:  # a programming error: callers pass validated settings
            raise ValueError(f"Not settings: {', '.join(sorted(unknown))}")
        changed = [
            name
            for name in SETTINGS_FIELDS
            if name in settings and settings[name] != getattr(self, name)
        ]
        for name in changed:
            setattr(self, name, settings[name])
        return changed


class BusinessUserManager(UserManager):
    def holding_token(self, key_digest: str) -> "User | None":
        """The user whose API token has this digest, with only the fields every API
        request needs loaded (id, username, active flag, business); any other field
        loads on first access. None when no token has the digest."""
        holders = self.filter(api_tokens__key_digest=key_digest).only(
            "id", "username", "is_active", "business"
        )
        return next(iter(holders[:1]), None)


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
