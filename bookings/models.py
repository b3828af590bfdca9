"""Bookings and the audit trail of their status changes: the models and their querysets.

Every write to a booking goes through bookings/actions.py (create, edit, change status,
delete); the data fixes through bookings/fixes.py. What a status change stamps is
bookings/stamping.py. The model methods below that write are short delegators to the
actions, so that `booking.change_status(...)` reads as oscar's `order.set_status(...)`.
"""

import datetime as dt
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from accounts.models import Business
from bookings.stamping import STAMPED_STATUSES, BookingStatus, ensure_hold_fits
from core.errors import AlreadyExists, Conflict, InvalidValue
from core.fields import OrderedJSONField
from core.models import EARLIEST_MOMENT, ID_RANGE, ChangeSource
from core.tenant_lists import SharedListQuerySet, tenant_or_shared

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# A booking's ordinary fields, which create and edit take; the API names them alike.
EDITABLE_FIELDS = ("name", "starts_at", "ends_at", "guest_count", "notes")
# The fields only a status change writes: refused in an edit's body.
STATUS_FIELDS = frozenset(
    ["status", "status_at", "status_date", "lost_reason", "lost_note"]
    + [f"{status}_{suffix}" for status in STAMPED_STATUSES for suffix in ("at", "date")]
)
# A tentative booking's hold: set by a change to tentative, or by an edit while the
# booking is tentative (SPEC §15.2).
HOLD_FIELD = "hold_until"
# No moment before 1900 (SPEC §17), for the forms the admin builds from the model.
FROM_1900 = MinValueValidator(EARLIEST_MOMENT, "Must not be before 1900-01-01T00:00:00Z.")
# What every set-based write does to a booking's version, as an update() expression.
NEXT_VERSION = models.F("version") + 1
# A booking held until some moment: tentative with a hold.
HOLDING = models.Q(status=BookingStatus.TENTATIVE, hold_until__isnull=False)
ONE_HOUR = dt.timedelta(hours=1)


class BookingQuerySet(models.QuerySet):
    def for_business(self, business_id: int) -> "BookingQuerySet":
        return self.filter(business_id=business_id)

    def locked(self) -> "BookingQuerySet":
        """These bookings locked until the transaction ends (FOR UPDATE), taken in
        ascending id: the order every writer of several bookings takes locks in, so that
        none deadlocks (SPEC §10)."""
        return self.select_for_update().order_by("pk")

    def get_in_business(self, business_id: int, pk: int | str) -> "Booking":
        """The booking `pk` of the business; Booking.DoesNotExist for an id that names
        none (another business's, or one past the id range)."""
        try:
            pk = int(pk)
        except (TypeError, ValueError):  # e.g. more digits than int() takes
            raise Booking.DoesNotExist("No booking has this id.") from None
        if pk not in ID_RANGE:
            raise Booking.DoesNotExist("No booking has this id.")
        return self.for_business(business_id).get(pk=pk)

    # Data fixes walk the bookings in pk ranges, one bounded statement per range,
    # instead of loading rows: a million bookings are never held at once.

    def pk_range_starts(self, batch_size: int) -> range:
        """The starts of consecutive pk ranges `[start, start + batch_size)` that
        together cover these bookings (empty when there are none)."""
        bounds = self.aggregate(first=models.Min("pk"), last=models.Max("pk"))
        if bounds["first"] is None:
            return range(0)
        return range(bounds["first"], bounds["last"] + 1, batch_size)

    def in_pk_range(self, start: int, stop: int) -> "BookingQuerySet":
        return self.filter(pk__gte=start, pk__lt=stop)

    # What time does to holds (SPEC §16): the scheduler's lookups, each served by a
    # partial index on hold_until, soonest first. `Booking.hold_lapsed` and
    # `hold_reminder_due` say the same of one booking, for the re-check under its lock.

    def holds_lapsed(self, now: dt.datetime) -> "BookingQuerySet":
        """Tentative bookings whose hold has lapsed by `now` (index booking_hold_expiry)."""
        return (
            self.filter(HOLDING, hold_until__lte=now)
            .select_related("business")
            .order_by("hold_until")
        )

    def holds_due_for_reminder(self, now: dt.datetime) -> "BookingQuerySet":
        """Tentative bookings whose hold has not lapsed, has not been reminded, and
        lapses within their business's `hold_reminder_hours` (0: never) of `now` (index
        booking_hold_reminder). A hold already past is left to expire unreminded.

        One condition per reminder length in use (there are few: most businesses keep
        the default), since SQLite's ORM cannot multiply a duration by a column; the
        range scanned ends at the longest of them."""
        lengths = (
            Business.objects.filter(hold_reminder_hours__gt=0)
            .values_list("hold_reminder_hours", flat=True)
            .distinct()
            .order_by()
        )
        within_reminder = models.Q(pk__in=[])
        for hours in lengths:
            within_reminder |= models.Q(
                business__hold_reminder_hours=hours, hold_until__lte=now + hours * ONE_HOUR
            )
        longest = max(lengths, default=0)
        return (
            self.filter(
                HOLDING,
                within_reminder,
                hold_reminded_at__isnull=True,
                hold_until__gt=now,
                hold_until__lte=now + longest * ONE_HOUR,
            )
            .select_related("business")
            .order_by("hold_until")
        )


class BookingManager(models.Manager.from_queryset(BookingQuerySet)):
    def create_booking(self, business_id: int, fields: dict[str, Any], **status) -> "Booking":
        """bookings.actions.create_booking (`Booking.objects.create` stays for tests and
        fixtures, and writes no event)."""
        from bookings import actions  # which imports this module

        return actions.create_booking(business_id, fields, **status)


class Booking(models.Model):
    business = models.ForeignKey(
        "accounts.Business", on_delete=models.PROTECT, related_name="bookings"
    )
    name = models.CharField(max_length=200)
    starts_at = models.DateTimeField(null=True, blank=True, validators=[FROM_1900])
    ends_at = models.DateTimeField(null=True, blank=True, validators=[FROM_1900])
    guest_count = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True, default="")

    # Written only by a status change (bookings/actions.py) and the data fixes.
    status = models.CharField(
        max_length=16, choices=BookingStatus.choices, default=BookingStatus.LEAD, editable=False
    )
    tentative_date = models.DateField(null=True, blank=True, editable=False)
    tentative_at = models.DateTimeField(null=True, blank=True, editable=False)
    definite_date = models.DateField(null=True, blank=True, editable=False)
    definite_at = models.DateTimeField(null=True, blank=True, editable=False)
    lost_date = models.DateField(null=True, blank=True, editable=False)
    lost_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Why it was lost, cleared with lost_at (SPEC §15.1): the reason as recorded, {"id",
    # "code", "label"} as it was at the change (LostReason.record()), not a link.
    lost_reason = OrderedJSONField(null=True, blank=True, editable=False)
    lost_note = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001
    # Until when a tentative booking is held (SPEC §15.2); cleared when it leaves
    # tentative. The scheduler expires it then (SPEC §16).
    hold_until = models.DateTimeField(null=True, blank=True, editable=False)
    # When the scheduler sent this hold's reminder; null until then, and again once a
    # new hold is set (which re-arms it). Bookkeeping: not in the API, no version bump.
    hold_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Set by every write (bookings/actions.py), not by save(): the data fixes leave it
    # as it was, since it records the last change made through the application.
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # 1 on create, +1 on every write to the row: the API's ETag. The database default
    # serves inserts written in SQL (fixtures, generate_bookings' COPY).
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)

    objects = BookingManager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["business", "status", "id"], name="booking_business_status"),
            models.Index(fields=["business", "id"], name="booking_business_id"),
            # The pipeline report's range scan (reports/queries.py).
            models.Index(fields=["business", "created_at"], name="booking_business_created"),
            # The scheduler's lookups (SPEC §16): holds that have lapsed, and holds whose
            # reminder is not sent yet, each by the moment they lapse. Partial: only the
            # bookings with a hold are in them.
            models.Index(
                fields=["hold_until"],
                condition=HOLDING,
                name="booking_hold_expiry",
            ),
            models.Index(
                fields=["hold_until"],
                condition=HOLDING & models.Q(hold_reminded_at__isnull=True),
                name="booking_hold_reminder",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True)
                | models.Q(starts_at__isnull=True)
                | models.Q(ends_at__gte=models.F("starts_at")),
                name="booking_ends_not_before_starts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    # Delegators to bookings/actions.py, the one home of each write. Each locks and
    # re-reads the row itself, then refreshes this instance with what it wrote.

    def change_status(
        self,
        status: str,
        *,
        at: dt.datetime | None = None,
        on: dt.date | None = None,
        by: "AbstractBaseUser | str | None" = None,
        source: str = ChangeSource.API,
        expected_versions: Collection[int] | None = None,
        **details: Any,
    ) -> "BookingStatusChange":
        """bookings.actions.change_status for this booking (`details`: its
        `lost_reason_id`, `lost_note` or `hold_until`); returns the history entry."""
        from bookings import actions  # which imports this module

        changed, change = actions.change_status(
            self.business_id,
            self.pk,
            status,
            at=at,
            on=on,
            by=by,
            source=source,
            expected_versions=expected_versions,
            **details,
        )
        self.refresh_from(changed)
        return change

    change_status.alters_data = True

    def edit(
        self, fields: dict[str, Any], *, expected_versions: Collection[int] | None = None
    ) -> list[str]:
        """bookings.actions.edit_booking for this booking; returns the fields changed."""
        from bookings import actions  # which imports this module

        edited, changed = actions.edit_booking(
            self.business_id, self.pk, fields, expected_versions=expected_versions
        )
        self.refresh_from(edited)
        return changed

    edit.alters_data = True

    def delete(self, using=None, keep_parents=False):
        """bookings.actions.delete_booking: the booking, its history and its
        `booking.deleted`, in one transaction."""
        from bookings import actions  # which imports this module

        actions.delete_booking(self.business_id, self.pk)
        return 1, {self._meta.label: 1}

    delete.alters_data = True

    def delete_row(self) -> None:
        """Django's delete of the row and its history, for bookings.actions alone, which
        writes the event first, under the lock."""
        super().delete()

    delete_row.alters_data = True

    def refresh_from(self, stored: "Booking") -> None:
        """Take every value of `stored`, the same booking as an action just wrote it."""
        for field in Booking._meta.concrete_fields:
            setattr(self, field.attname, getattr(stored, field.attname))

    def ensure_ends_not_before_starts(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise InvalidValue("Must not be before starts_at.", field="ends_at")

    def ensure_hold_editable(self) -> None:
        """An edit may set or clear `hold_until` (as it now is on this instance) only
        while the booking is tentative (else Conflict), and a hold must end after
        `tentative_at` and within LONGEST_HOLD (else InvalidValue); both name
        `hold_until`."""
        if self.status != BookingStatus.TENTATIVE:
            raise Conflict(
                f"Only a tentative booking has a hold; this one is {self.status}. A change "
                "to tentative sets one (change_status with hold_until).",
                field=HOLD_FIELD,
            )
        if self.hold_until is not None:
            ensure_hold_fits(self.hold_until, after=self.tentative_at)

    # The hold's state, as the scheduler re-checks it on the locked row (SPEC §16).

    def hold_lapsed(self, now: dt.datetime) -> bool:
        """Still tentative, and its hold has run out by `now`."""
        return (
            self.status == BookingStatus.TENTATIVE
            and self.hold_until is not None
            and self.hold_until <= now
        )

    def hold_reminder_due(self, now: dt.datetime) -> bool:
        """Still tentative, its hold not reminded yet and not lapsed, and `now` within
        its business's `hold_reminder_hours` (0: never) of the hold's end."""
        hours = self.business.hold_reminder_hours
        return (
            self.status == BookingStatus.TENTATIVE
            and self.hold_until is not None
            and self.hold_reminded_at is None
            and hours > 0
            and self.hold_until - hours * ONE_HOUR <= now < self.hold_until
        )


class BookingStatusChange(models.Model):
    """One status change of a booking, in the order it was recorded."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="status_changes")
    # The booking's business, copied on every write (a booking never changes business):
    # the history can then be distributed by business with its bookings (issue 19,
    # Citus) and read per business without a join. PROTECT, as Booking's. Indexed by
    # the composite index below, which leads with it.
    business = models.ForeignKey(
        "accounts.Business", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    from_status = models.CharField(max_length=16, choices=BookingStatus.choices)
    to_status = models.CharField(max_length=16, choices=BookingStatus.choices)
    status_at = models.DateTimeField(help_text="The moment the status took effect.")
    recorded_at = models.DateTimeField(default=timezone.now)
    # The username as it was at the time: an audit trail outlives renames and deletions.
    # NULL (not "") when no user made the change: the API shows it as null.
    changed_by = models.CharField(max_length=150, null=True, blank=True)  # noqa: DJ001
    source = models.CharField(max_length=16, choices=ChangeSource.choices)
    # A change to lost: its reason and note, as they were then (the booking's, stamped).
    lost_reason = OrderedJSONField(null=True, blank=True)
    lost_note = models.TextField(null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["booking", "id"], name="status_change_booking_id"),
            models.Index(fields=["business", "booking", "id"], name="status_change_business"),
            # The lost-reasons report: a business's entries into lost, by recording.
            models.Index(
                fields=["business", "recorded_at"],
                condition=models.Q(to_status=BookingStatus.LOST),
                name="status_change_lost",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status} at {self.status_at:%Y-%m-%d %H:%M:%S}Z"

    @classmethod
    def of(
        cls,
        *,
        booking: Booking,
        from_status: str,
        status_at: dt.datetime,
        by: "AbstractBaseUser | str | None" = None,
        source: str,
    ) -> "BookingStatusChange":
        """The one factory for the history entries the actions record (unsaved): the
        change `booking` has just been stamped with, from `from_status` to its status at
        `status_at`, with the lost reason and note it was stamped with. The data fixes
        write theirs set-based (bookings.fixes.record_restamps), with the same fields."""
        return cls(
            booking=booking,
            business_id=booking.business_id,
            from_status=from_status,
            to_status=booking.status,
            status_at=status_at,
            changed_by=getattr(by, "username", by),
            source=source,
            lost_reason=booking.lost_reason,
            lost_note=booking.lost_note,
        )


# A lost reason's code: a slug that never changes once created (SPEC §15.1).
LOST_REASON_CODE = re.compile(r"\A[a-z0-9_]{1,40}\Z")
LOST_REASON_CODE_MAX_LENGTH = 40
LOST_REASON_LABEL_MAX_LENGTH = 100
LOST_NOTE_MAX_LENGTH = 1000
# The system's reason: only the scheduler records it (SPEC §16), and it cannot be
# deactivated.
HOLD_EXPIRED = "hold_expired"


class LostReasonQuerySet(SharedListQuerySet):
    def system_reasons(self, business_ids: Collection[int]) -> dict[int, "LostReason"]:
        """Each business's `hold_expired`: its own list's once it has one, else the
        shared one (one query)."""
        found = self.filter(
            models.Q(business_id__in=business_ids) | models.Q(business__isnull=True),
            code=HOLD_EXPIRED,
        )
        by_business = {reason.business_id: reason for reason in found}
        return {pk: by_business.get(pk, by_business[None]) for pk in business_ids}


class LostReason(models.Model):
    """Why a booking was lost: a reason of a business's list, or of the shared default
    list (`business` null), which a business copies on its first write (bookings/
    lost_reasons.py). A booking and its history keep the reason as recorded
    (`record()`), not a link: a later relabel changes neither."""

    business = tenant_or_shared(related_name="lost_reasons")
    code = models.CharField(
        max_length=LOST_REASON_CODE_MAX_LENGTH,
        validators=[
            RegexValidator(
                LOST_REASON_CODE, "1 to 40 of a-z, 0-9 and _; never changed once created."
            )
        ],
    )
    label = models.CharField(max_length=LOST_REASON_LABEL_MAX_LENGTH)
    active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = LostReasonQuerySet.as_manager()

    class Meta:
        ordering = ["business_id", "sort_order", "id"]
        constraints = [
            # NULLs are distinct in a unique index: the shared list has its own.
            models.UniqueConstraint(fields=["business", "code"], name="lost_reason_code"),
            models.UniqueConstraint(fields=["business", "label"], name="lost_reason_label"),
            models.UniqueConstraint(
                fields=["code"],
                condition=models.Q(business__isnull=True),
                name="lost_reason_shared_code",
            ),
            models.UniqueConstraint(
                fields=["label"],
                condition=models.Q(business__isnull=True),
                name="lost_reason_shared_label",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_shared(self) -> bool:
        return self.business_id is None

    @property
    def is_system(self) -> bool:
        """Recorded only by the scheduler, never chosen in a change."""
        return self.code == HOLD_EXPIRED

    def record(self) -> dict[str, Any]:
        """The reason as a booking and its history keep it, as it is now."""
        return {"id": self.pk, "code": self.code, "label": self.label}

    def duplicate_error(self) -> AlreadyExists:
        """The refusal of this reason when its code or label is taken in its list."""
        same_list = LostReason.objects.filter(business_id=self.business_id).exclude(pk=self.pk)
        field = "code" if same_list.filter(code=self.code).exists() else "label"
        return AlreadyExists(
            f"This list already has a reason with this {field}: codes and labels are "
            "unique per list.",
            field=field,
        )
