"""Bookings and the audit trail of their status changes."""

import datetime as dt
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import Business, time_zone, timezone_changed
from bookings.events import (
    booking_created,
    booking_deleted,
    booking_status_changed,
    booking_statuses_changed,
    booking_updated,
    bookings_updated,
)
from core import fixed_sql
from core.conditional import ensure_version
from core.errors import InvalidValue, NotFound
from core.models import ChangeSource

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# The range of a BigAutoField: larger ids cannot name a booking (and would overflow
# the database's integer parameter).
BIGINT_RANGE = range(-(2**63), 2**63)
# A client's clock may run a little ahead of ours; beyond this a moment is refused.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


class BookingStatus(models.TextChoices):
    LEAD = "lead"
    TENTATIVE = "tentative"
    DEFINITE = "definite"
    LOST = "lost"


# BookingStatus.values builds a new list on every access; change_status checks each call.
BOOKING_STATUSES = frozenset(BookingStatus.values)
# The statuses that stamp their own moment (`<status>_at`, `<status>_date`).
STAMPED_STATUSES = (BookingStatus.TENTATIVE, BookingStatus.DEFINITE, BookingStatus.LOST)
# A booking's ordinary fields, which create_booking and edit take; the API names them
# alike.
EDITABLE_FIELDS = ("name", "starts_at", "ends_at", "guest_count", "notes")
STATUS_FIELDS = frozenset(
    ["status", "status_at", "status_date"]
    + [f"{status}_{suffix}" for status in STAMPED_STATUSES for suffix in ("at", "date")]
)


# What every write does to a booking's version, as an update() expression.
NEXT_VERSION = models.F("version") + 1
# The most bookings one bulk status change takes (SPEC §10).
BULK_CHANGE_LIMIT = 500


class BookingsNotFound(NotFound):
    """Some bookings of a bulk change are not in the business: `ids`, in request order."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__("No booking has these ids in this business.")
        self.ids = ids

    def as_dict(self) -> dict:
        return {"detail": self.message, "ids": self.ids}


# A status change's moment and its date are related here only: the date is the
# moment's date in the business's time zone (SPEC §9), UTC unless the business
# chose another. Every writer of status dates (change_status, create-with-status,
# the admin, generate_bookings, the data fixes, a zone change) goes through these.


def status_date_of(moment: dt.datetime, zone: dt.tzinfo = dt.UTC) -> dt.date:
    """The date a status change at `moment` records as `<status>_date`: the moment's
    date in `zone`, the business's time zone."""
    return moment.astimezone(zone).date()


def start_of_status_date(date: dt.date, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    """The moment a `status_date` given without a time stands for: the day's first
    instant in `zone`, 00:00 local. Where a DST change skips midnight (America/Havana,
    2024-03-10) 00:00 does not exist: `fold=0` reads it with the offset before the
    change, which lands on the first instant after the gap, 01:00 local. A day the
    zone skipped altogether has no first instant: InvalidValue naming `status_date`."""
    start = dt.datetime.combine(date, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    if status_date_of(start, zone) != date:
        raise InvalidValue(
            f"{date} did not take place in the business's time zone (its clocks skipped it).",
            field="status_date",
        )
    return start


# Each booking's business's zone, in SQL, for the set-based data fixes: one pass
# over a pk range serves bookings of every zone (SPEC §9). A statement's filters
# join accounts_business (a hash join over a small table); an UPDATE may not join,
# so the new values it sets read the zone by a sub-select, which PostgreSQL runs
# only for the rows changed.
JOINED_BUSINESS_ZONE = models.F("business__timezone")
SELECTED_BUSINESS_ZONE = models.Subquery(
    Business.objects.filter(pk=models.OuterRef("business_id")).values("timezone")[:1],
    output_field=models.CharField(),
)


def zone_expression(zone: "dt.tzinfo | models.Expression") -> models.Expression:
    """`zone` as SQL: one zone (a tzinfo) as its name, an expression (a row's zone,
    e.g. JOINED_BUSINESS_ZONE) as it is."""
    if isinstance(zone, dt.tzinfo):
        return models.Value(str(zone), output_field=models.CharField())  # "UTC", or the key
    return zone


def is_utc(zone: models.Expression) -> bool:
    return isinstance(zone, models.Value) and zone.value == "UTC"


def compile_each(function: models.Func, compiler) -> tuple[list[str], tuple]:
    """The SQL of each of `function`'s arguments, and their parameters in order."""
    sqls, params = [], []
    for expression in function.get_source_expressions():
        sql, expression_params = compiler.compile(expression)
        sqls.append(sql)
        params.extend(expression_params)
    return sqls, tuple(params)


class ZonedFunc(models.Func):
    """A function of a value and a zone: one zone (a tzinfo), or each row's (an
    expression such as JOINED_BUSINESS_ZONE)."""

    arity = 2

    def __init__(self, value: str | models.Expression, zone: "dt.tzinfo | models.Expression"):
        super().__init__(value, zone_expression(zone))


class LocalDate(ZonedFunc):
    """`status_date_of` in SQL: the date of the datetime `moment` in `zone`, one zone
    (a tzinfo) or each row's (an expression such as JOINED_BUSINESS_ZONE). What
    TruncDate(tzinfo=...) writes, with the zone an expression: PostgreSQL's AT TIME
    ZONE, and on SQLite, which knows no zones, the Python function Django registers
    for TruncDate."""

    output_field = models.DateField()

    def as_sql(self, compiler, connection, **extra_context):
        (moment_sql, zone_sql), params = compile_each(self, compiler)
        return f"(({moment_sql}) AT TIME ZONE {zone_sql})::date", params

    def as_sqlite(self, compiler, connection, **extra_context):
        (moment_sql, zone_sql), params = compile_each(self, compiler)
        sql = f"django_datetime_cast_date({moment_sql}, {zone_sql}, %s)"
        return sql, (*params, connection.timezone_name)


class StartOfStatusDate(ZonedFunc):
    """`start_of_status_date` in SQL, for a date column: the first instant of the day
    in `zone`, one zone (a tzinfo) or each row's (an expression such as
    SELECTED_BUSINESS_ZONE), for the data fixes' set-based updates.

    Spelled per database so that the stored value is exactly what Django writes for
    that datetime (on SQLite a plain CAST would store '2025-01-10 00:00:00.000',
    which no equality filter for 2025-01-10T00:00:00Z would match). PostgreSQL's AT
    TIME ZONE reads a local time skipped by a DST change with the offset before the
    change, as `fold=0` does; SQLite, which knows no zones, calls Python."""

    output_field = models.DateTimeField()

    def as_sql(self, compiler, connection, **extra_context):
        (date_sql, zone_sql), params = compile_each(self, compiler)
        return f"(({date_sql})::timestamp AT TIME ZONE {zone_sql})", params

    def as_sqlite(self, compiler, connection, **extra_context):
        date, zone = self.get_source_expressions()
        if is_utc(zone):
            date_sql, date_params = compiler.compile(date)
            return f"datetime({date_sql})", date_params
        (date_sql, zone_sql), params = compile_each(self, compiler)
        connection.ensure_connection()
        connection.connection.create_function(
            "bookings_start_of_status_date", 2, sqlite_start_of_status_date, deterministic=True
        )
        return f"bookings_start_of_status_date({date_sql}, {zone_sql})", params


def sqlite_start_of_status_date(date: str | None, zone_name: str) -> str | None:
    if date is None:
        return None
    try:
        start = start_of_status_date(dt.date.fromisoformat(date), time_zone(zone_name))
    except InvalidValue:  # a day the zone skipped: it has no moment to give
        return None
    return f"{start:%Y-%m-%d %H:%M:%S}"


def status_moment(
    at: dt.datetime | None, on: dt.date | None, zone: dt.tzinfo
) -> dt.datetime | None:
    """The one moment a change_status body means, for a business in `zone`: `at` (the
    body's `status_at`), else the start of the day `on` (its `status_date`), else None
    (now). Both are accepted when `at`'s local date is `on`; otherwise InvalidValue
    naming `status_date`. A moment in the future is refused, naming the field it came
    from."""
    if at is not None:
        if timezone.is_naive(at):
            raise InvalidValue("The moment must carry a time zone.", field="status_at")
        if on is not None and status_date_of(at, zone) != on:
            raise InvalidValue(
                f"Disagrees with status_at, whose date in the business's time zone is "
                f"{status_date_of(at, zone)}; send one of them, or make them agree.",
                field="status_date",
            )
        ensure_not_in_future(at, field="status_at")
        return at
    if on is not None:
        moment = start_of_status_date(on, zone)
        ensure_not_in_future(moment, field="status_date")
        return moment
    return None


def status_stamp(status: str, moment: dt.datetime, zone: dt.tzinfo = dt.UTC) -> dict[str, Any]:
    """The fields a change to `status` at `moment` sets on a booking, with their new
    values: `status`; for tentative, definite and lost their own `<status>_at` (the
    moment) and `<status>_date` (its date in `zone`, the business's time zone); and
    `lost_at`/`lost_date` cleared unless the new status is lost. The other statuses'
    dates are kept, so they are not in it.

    Pure: Booking.change_status applies it to the row it locked, generate_bookings to
    the rows it writes."""
    fields: dict[str, Any] = {"status": status}
    if status in STAMPED_STATUSES:
        fields[f"{status}_at"] = moment
        fields[f"{status}_date"] = status_date_of(moment, zone)
    if status != BookingStatus.LOST:
        fields["lost_at"] = fields["lost_date"] = None
    return fields


def ensure_not_in_future(moment: dt.datetime, *, field: str = "status_at") -> None:
    """A status takes effect now or earlier; `field` names the input to blame."""
    if moment > timezone.now() + FUTURE_TOLERANCE:
        raise InvalidValue(
            "The moment is in the future; a status can only be changed as of now or earlier.",
            field=field,
        )


def ensure_known_status(status: str) -> None:
    """InvalidValue naming `status` unless it is one of the booking statuses."""
    if status not in BOOKING_STATUSES:
        raise InvalidValue(
            f"Unknown status {status!r}; expected one of {', '.join(BookingStatus.values)}.",
            field="status",
        )


def ensure_editable(fields: dict[str, Any]) -> None:
    """A programming error, not a client's: callers pass validated ordinary fields."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")


class BookingQuerySet(models.QuerySet):
    def for_business(self, business_id: int) -> "BookingQuerySet":
        return self.filter(business_id=business_id)

    def realign_status_dates(self, zone: dt.tzinfo) -> list[int]:
        """Make every `<status>_date` of these bookings the date of its `<status>_at`
        in `zone`: what a zone change does to its business's bookings
        (Business.set_timezone, in its transaction, after locking the business).
        Moments and history are left as they are. Returns the ids of the bookings
        whose dates changed; no other booking is written, and each one changed gets
        its `booking.updated` naming the dates that changed.

        Set-based: the bookings are locked in id order (SPEC §13), then one INSERT ...
        SELECT writes the events and one UPDATE realigns the bookings that need it."""
        # Every booking of the scope is locked, not only the misaligned ones: a
        # change_status holding one when we start then finishes before we read it.
        for _pk in self.order_by("pk").select_for_update().values_list("pk").iterator(10_000):
            pass
        misaligned = self.filter(self.any_misaligned_date_rule(zone))
        changed = list(misaligned.order_by("pk").values_list("pk", flat=True))
        realigned = {**self.realigned_dates(zone), "version": NEXT_VERSION}
        bookings_updated(misaligned, realigned)
        misaligned.update(**realigned)
        return changed

    @staticmethod
    def misaligned_date_rule(
        status: str, zone: "dt.tzinfo | models.Expression" = JOINED_BUSINESS_ZONE
    ) -> models.Q:
        """`<status>_at` is set and `<status>_date` is not its date in `zone`, the
        business's time zone (or is null). `zone` is one zone (a tzinfo: a zone
        change's), or by default each booking's business's, joined."""
        moment, date = f"{status}_at", f"{status}_date"
        return models.Q(**{f"{moment}__isnull": False}) & (
            models.Q(**{f"{date}__isnull": True}) | ~models.Q(**{date: LocalDate(moment, zone)})
        )

    @classmethod
    def any_misaligned_date_rule(
        cls, zone: "dt.tzinfo | models.Expression" = JOINED_BUSINESS_ZONE
    ) -> models.Q:
        rules = [cls.misaligned_date_rule(status, zone) for status in STAMPED_STATUSES]
        return rules[0] | rules[1] | rules[2]

    @staticmethod
    def realigned_dates(zone: dt.tzinfo) -> dict[str, models.Expression]:
        """An update() giving each `<status>_date` the date of its `<status>_at` in
        `zone`, and keeping a date whose moment is null."""
        return {
            f"{status}_date": models.functions.Coalesce(
                LocalDate(f"{status}_at", zone), f"{status}_date"
            )
            for status in STAMPED_STATUSES
        }

    # --- Data fixes -------------------------------------------------------
    # Which bookings the data-fix commands (backfill_status_datetimes,
    # repair_booking_status_dates) must touch. Each rule is a Q so that a
    # command can both filter on it and count by it (Count(filter=...)), and a
    # dry run counts exactly what the real run will change.

    def pk_range_starts(self, batch_size: int) -> range:
        """The starts of consecutive pk ranges `[start, start + batch_size)` that
        together cover this queryset's bookings (empty when there are none).

        Data fixes walk these ranges, one bounded statement per range, instead of
        loading rows: a million bookings are never held at once."""
        bounds = self.aggregate(first=models.Min("pk"), last=models.Max("pk"))
        if bounds["first"] is None:
            return range(0)
        return range(bounds["first"], bounds["last"] + 1, batch_size)

    def in_pk_range(self, start: int, stop: int) -> "BookingQuerySet":
        return self.filter(pk__gte=start, pk__lt=stop)

    @staticmethod
    def backfill_rule(status: str) -> models.Q:
        """`<status>_date` is set but `<status>_at` is null (data that predates the
        datetime fields)."""
        return models.Q(**{f"{status}_date__isnull": False, f"{status}_at__isnull": True})

    @classmethod
    def needing_backfill_rule(cls) -> models.Q:
        rules = [cls.backfill_rule(status) for status in STAMPED_STATUSES]
        return rules[0] | rules[1] | rules[2]

    def needing_backfill(self) -> "BookingQuerySet":
        return self.filter(self.needing_backfill_rule())

    @staticmethod
    def stray_lost_dates_rule() -> models.Q:
        """`lost_date`/`lost_at` set on a booking that is not lost: leaving lost
        clears them, so they are stale."""
        return ~models.Q(status=BookingStatus.LOST) & (
            models.Q(lost_date__isnull=False) | models.Q(lost_at__isnull=False)
        )

    def with_stray_lost_dates(self) -> "BookingQuerySet":
        return self.filter(self.stray_lost_dates_rule())

    @classmethod
    def mismatched_date_rule(
        cls, status: str, zone: "dt.tzinfo | models.Expression" = JOINED_BUSINESS_ZONE
    ) -> models.Q:
        """`<status>_at` is set and `<status>_date` is not its date in the business's
        time zone (`zone`, by default each booking's business's), or is null.

        Lost dates are judged on lost bookings only: on any other booking they are
        stray (see `stray_lost_dates_rule`) and get cleared, not corrected."""
        rule = cls.misaligned_date_rule(status, zone)
        if status == BookingStatus.LOST:
            rule &= models.Q(status=BookingStatus.LOST)
        return rule

    @classmethod
    def any_mismatched_date_rule(
        cls, zone: "dt.tzinfo | models.Expression" = JOINED_BUSINESS_ZONE
    ) -> models.Q:
        rules = [cls.mismatched_date_rule(status, zone) for status in STAMPED_STATUSES]
        return rules[0] | rules[1] | rules[2]

    def with_mismatched_status_dates(
        self, zone: "dt.tzinfo | models.Expression" = JOINED_BUSINESS_ZONE
    ) -> "BookingQuerySet":
        return self.filter(self.any_mismatched_date_rule(zone))

    @staticmethod
    def missing_own_date_rule() -> models.Q:
        """The booking is tentative, definite or lost, yet that status's own `_at`
        and `_date` are both null."""
        rules = [
            models.Q(
                status=status, **{f"{status}_at__isnull": True, f"{status}_date__isnull": True}
            )
            for status in STAMPED_STATUSES
        ]
        return rules[0] | rules[1] | rules[2]

    def missing_own_status_date(self) -> "BookingQuerySet":
        return self.filter(self.missing_own_date_rule())

    def needing_repair(
        self, zone: "dt.tzinfo | models.Expression" = JOINED_BUSINESS_ZONE
    ) -> "BookingQuerySet":
        """Bookings that break any rule repair_booking_status_dates fixes, their dates
        judged in `zone` (by default each booking's business's)."""
        return self.filter(
            self.stray_lost_dates_rule()
            | self.any_mismatched_date_rule(zone)
            | self.missing_own_date_rule()
        )

    @staticmethod
    def restamp_moment() -> models.Func:
        """The moment to stamp on a booking whose current status lost its own date:
        `status_at` of the most recently recorded history entry to that status (the
        one change_status applied last, even if backdated), else `updated_at`."""
        latest_entry = BookingStatusChange.objects.filter(
            booking=models.OuterRef("pk"), to_status=models.OuterRef("status")
        ).order_by("-id")
        return models.functions.Coalesce(
            models.Subquery(latest_entry.values("status_at")[:1]),
            models.F("updated_at"),
            output_field=models.DateTimeField(),
        )

    @classmethod
    def repaired_dates(
        cls, zone: "dt.tzinfo | models.Expression" = SELECTED_BUSINESS_ZONE
    ) -> dict[str, models.Expression]:
        """An update() making what repair_booking_status_dates makes of a booking that
        needs a repair (its dates in `zone`, by default each booking's business's, read
        by a sub-select as an UPDATE needs), in one pass: the current status's
        missing `_at`/`_date` stamped with `restamp_moment`, stray lost dates cleared,
        then every `<status>_date` the local date of its `<status>_at` (a date whose
        moment is null is kept). On a booking needing no repair it changes nothing."""
        stray = cls.stray_lost_dates_rule()
        values: dict[str, models.Expression] = {}
        for status in STAMPED_STATUSES:
            moment, date = f"{status}_at", f"{status}_date"
            missing = models.Q(
                status=status, **{f"{moment}__isnull": True, f"{date}__isnull": True}
            )
            cleared = [models.When(stray, then=models.Value(None))] if status == "lost" else []
            values[moment] = models.Case(
                models.When(missing, then=cls.restamp_moment()),
                *cleared,
                default=models.F(moment),
                output_field=models.DateTimeField(),
            )
            values[date] = models.functions.Coalesce(
                LocalDate(values[moment], zone),
                models.Case(*cleared, default=models.F(date), output_field=models.DateField()),
            )
        return values

    def record_restamps(
        self, *, status_at: models.Expression, source: str, now: dt.datetime | None = None
    ) -> int:
        """The bulk counterpart of BookingStatusChange.record for data fixes: one
        history entry per booking of this queryset (with its business), recording a
        re-stamp of its current status (from_status = to_status = status, changed_by null) at
        `status_at`, an expression over the booking, recorded `now`.

        Written by one INSERT ... SELECT, so no booking is loaded. Returns how many
        entries were written."""
        entries = self.order_by("pk").values_list(
            "pk",
            "business_id",
            "status",
            models.F("status"),
            status_at,
            models.Value(now or timezone.now(), output_field=models.DateTimeField()),
            models.Value(None, output_field=models.CharField()),
            models.Value(source, output_field=models.CharField()),
        )
        return fixed_sql.insert_select(BookingStatusChange, HISTORY_FIELDS, entries)


class BookingManager(models.Manager.from_queryset(BookingQuerySet)):
    def create_booking(
        self,
        business_id: int,
        fields: dict[str, Any],
        *,
        status: str | None = None,
        at: dt.datetime | None = None,
        on: dt.date | None = None,
        by: "AbstractBaseUser | str | None" = None,
        source: str = ChangeSource.API,
    ) -> "Booking":
        """The one way the API and the admin create a booking (`Booking.objects.create`
        stays for tests and fixtures), in one transaction with its events.

        `fields` are ordinary fields (EDITABLE_FIELDS). The booking starts as lead; with
        a `status`, it is inserted already stamped as change_status would stamp it (at
        `at`, else the start of the day `on` in the business's zone, else now) and a
        history entry from lead is recorded: one write, whose
        `booking.created` and then `booking.status_changed` both carry the final booking.
        Raises InvalidValue (naming the field) and writes nothing when `ends_at` is
        before `starts_at`, or the status or moment is refused."""
        ensure_editable(fields)
        booking = self.model(business_id=business_id, **fields)
        booking.ensure_ends_not_before_starts()
        if status is not None:
            ensure_known_status(status)
        with transaction.atomic(using=self.db):
            if status is not None:
                zone = business_zone(business_id, using=self.db)
                moment = status_moment(at, on, zone) or timezone.now()
                for name, value in status_stamp(status, moment, zone).items():
                    setattr(booking, name, value)
            booking.updated_at = booking.created_at
            # A fixed statement, as change_status's: every create pays for its event.
            fixed_sql.insert(booking, BOOKING_FIELDS, using=self.db)
            booking_created(booking)
            if status is not None:
                booking.record_status_change(BookingStatus.LEAD, moment, by=by, source=source)
        return booking

    def change_statuses(
        self,
        business_id: int,
        ids: list[int],
        status: str,
        *,
        at: dt.datetime | None = None,
        on: dt.date | None = None,
        by: "AbstractBaseUser | str | None" = None,
        source: str = ChangeSource.API,
    ) -> list["Booking"]:
        """change_status for many bookings of one business at once, all or nothing
        (SPEC §10): the bookings `ids` (distinct) are locked in ascending id order (the
        order every bulk writer takes locks in, so none deadlocks), stamped with one
        moment (`at`, else the start of the day `on`, else now, taken once) and each
        given one history entry and one `booking.status_changed`, written in ascending
        id. Returns the bookings as changed, in the order of `ids`.

        One statement each for the lock, the update, the history and the events,
        however many bookings (on SQLite, Django splits an insert at 999 parameters).
        Raises BookingsNotFound listing the ids not in the business, and InvalidValue
        as change_status does; nothing is written then."""
        ensure_known_status(status)
        with transaction.atomic(using=self.db):
            chosen = self.for_business(business_id).filter(pk__in=ids)
            locked = {booking.pk: booking for booking in chosen.order_by("pk").select_for_update()}
            missing = [pk for pk in ids if pk not in locked]
            if missing:
                raise BookingsNotFound(missing)
            zone = business_zone(business_id, using=self.db)
            moment = status_moment(at, on, zone) or timezone.now()
            changes = {**status_stamp(status, moment, zone), "updated_at": timezone.now()}
            chosen.update(**changes, version=NEXT_VERSION)
            bookings = [locked[pk] for pk in sorted(locked)]
            previous_statuses = [booking.status for booking in bookings]
            for booking in bookings:
                for name, value in changes.items():
                    setattr(booking, name, value)
                booking.version += 1
            entries = BookingStatusChange.objects.using(self.db).bulk_create(
                BookingStatusChange.of(
                    booking=booking,
                    from_status=previous,
                    to_status=status,
                    status_at=moment,
                    by=by,
                    source=source,
                )
                for booking, previous in zip(bookings, previous_statuses, strict=True)
            )
            booking_statuses_changed(zip(bookings, entries, strict=True))
        return [locked[pk] for pk in ids]

    def get_in_business(
        self, business_id: int, pk: int | str, *, for_update: bool = False
    ) -> "Booking":
        """`for_business(business_id).get(pk=pk)`, with `select_for_update()` when
        `for_update` (call it in a transaction: the row stays locked until it ends).
        Booking.DoesNotExist when the id names no booking of the business.

        The same queryset, compiled once (core/fixed_sql.py): the detail read, PATCH,
        DELETE, the history and change_status's locked re-read run it on every request."""
        try:
            pk = int(pk)
        except (TypeError, ValueError):  # e.g. more digits than int() takes
            raise Booking.DoesNotExist("No booking has this id.") from None
        if pk not in BIGINT_RANGE:
            raise Booking.DoesNotExist("No booking has this id.")
        query = BOOKING_IN_BUSINESS_LOCKED if for_update else BOOKING_IN_BUSINESS
        found = query.rows(self.db, business_id=business_id, pk=pk)
        if not found:
            raise Booking.DoesNotExist("No booking has this id in this business.")
        return found[0]


class Booking(models.Model):
    business = models.ForeignKey(
        "accounts.Business", on_delete=models.PROTECT, related_name="bookings"
    )
    name = models.CharField(max_length=200)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    guest_count = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True, default="")

    # Written only by change_status() (and by the data-fix commands).
    status = models.CharField(
        max_length=16, choices=BookingStatus.choices, default=BookingStatus.LEAD, editable=False
    )
    tentative_date = models.DateField(null=True, blank=True, editable=False)
    tentative_at = models.DateTimeField(null=True, blank=True, editable=False)
    definite_date = models.DateField(null=True, blank=True, editable=False)
    definite_at = models.DateTimeField(null=True, blank=True, editable=False)
    lost_date = models.DateField(null=True, blank=True, editable=False)
    lost_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # 1 on create, +1 on every write to the row: the API's ETag. The database default
    # serves the inserts that name no version (the fixed INSERT, fixtures' SQL).
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)

    objects = BookingManager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["business", "status", "id"], name="booking_business_status"),
            models.Index(fields=["business", "id"], name="booking_business_id"),
            # The pipeline report's range scan (reports/queries.py).
            models.Index(fields=["business", "created_at"], name="booking_business_created"),
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

    @classmethod
    def reference(cls, pk: int | str, business_id: int) -> "Booking":
        """A handle on booking `pk` of the business with nothing else loaded: enough for
        change_status() and edit(), which lock and read the row themselves.
        (Booking(pk=..., business_id=...) would compute every other field's default
        first.)"""
        return cls.from_db(None, ("id", "business_id"), (pk, business_id))

    def change_status(
        self,
        status: str,
        *,
        at: dt.datetime | None = None,
        on: dt.date | None = None,
        by: "AbstractBaseUser | str | None" = None,
        source: str = ChangeSource.API,
        expected_versions: Collection[int] | None = None,
    ) -> "BookingStatusChange":
        """The only way a booking's status changes.

        Locks the row, sets `status`, stamps `<status>_at`/`<status>_date` with the
        moment, keeps the dates of earlier statuses, clears `lost_*` unless the new
        status is lost, records one history entry and writes `booking.status_changed`
        (the booking after, the entry), all in one transaction. The moment is `at`,
        else the start of the day `on` in the business's time zone, else now (see
        `status_moment`); the date is the moment's date in that zone. Raises
        InvalidValue (naming the field) and writes nothing when the status is unknown,
        the moment in the future or `at` and `on` disagree, StaleVersion when
        `expected_versions` is given and the locked row's version is not among them,
        and Booking.DoesNotExist when the booking is not (or no longer) in its
        business.
        """
        ensure_known_status(status)
        with transaction.atomic():
            self._refresh_locked()
            # The zone is read after the lock, by a statement of its own: a zone change
            # committed while we waited for the lock is seen (SPEC §13).
            zone = business_zone(self.business_id, using=Booking.objects.db)
            moment = status_moment(at, on, zone) or timezone.now()
            self.ensure_version(expected_versions)
            previous_status = self.status
            changes = {
                **status_stamp(status, moment, zone),
                "updated_at": timezone.now(),
                "version": self.version + 1,
            }
            for name, value in changes.items():
                setattr(self, name, value)
            # Exactly the changed columns, in one fixed statement rather than save();
            # the lock keeps the row there.
            fixed_sql.update(self, sorted(changes))
            return self.record_status_change(previous_status, moment, by=by, source=source)

    change_status.alters_data = True

    def record_status_change(
        self,
        from_status: str,
        moment: dt.datetime,
        *,
        by: "AbstractBaseUser | str | None",
        source: str,
    ) -> "BookingStatusChange":
        """Record the change to its current status that this booking has just been
        stamped with (at `moment`): the history entry and its `booking.status_changed`,
        which carries the booking as it now is. For change_status and create_booking,
        inside their transaction."""
        change = BookingStatusChange.record(
            booking=self,
            from_status=from_status,
            to_status=self.status,
            status_at=moment,
            by=by,
            source=source,
        )
        booking_status_changed(self, change)
        return change

    record_status_change.alters_data = True

    def edit(
        self, fields: dict[str, Any], *, expected_versions: Collection[int] | None = None
    ) -> list[str]:
        """The one way a booking's ordinary fields change (PATCH, the admin's change form).

        Locks the row, compares `fields` (ordinary fields, EDITABLE_FIELDS) with the
        stored values and saves exactly those that differ, with `updated_at`, and writes
        `booking.updated` naming them, all in one transaction. Returns their names, in
        the order of EDITABLE_FIELDS. When no stored value changes it writes nothing, no
        `updated_at`, no version and no event (SPEC §13). Raises InvalidValue (naming
        `ends_at`) when `ends_at` would be before `starts_at`, StaleVersion when
        `expected_versions` is given and the locked row's version is not among them
        (checked after the body, SPEC §13), and Booking.DoesNotExist when the booking is
        not (or no longer) in its business; nothing is written then. The instance then
        holds the row as stored."""
        ensure_editable(fields)
        with transaction.atomic():
            self._refresh_locked()
            changed = [
                name
                for name in EDITABLE_FIELDS
                if name in fields and fields[name] != getattr(self, name)
            ]
            for name in changed:
                setattr(self, name, fields[name])
            self.ensure_ends_not_before_starts()
            self.ensure_version(expected_versions)
            if not changed:
                return []
            self.updated_at = timezone.now()
            self.version += 1
            # Exactly the changed columns, in one fixed statement as change_status's.
            fixed_sql.update(self, [*changed, "updated_at", "version"])
            booking_updated(self, changed)
        return changed

    edit.alters_data = True

    def delete(
        self,
        using: str | None = None,
        keep_parents: bool = False,
        *,
        expected_versions: Collection[int] | None = None,
    ) -> tuple[int, dict]:
        """Delete the booking and its history, and record `booking.deleted` with the
        booking as this instance holds it, in one transaction: read it locked in the
        caller's transaction first (the API and the admin do) so that it is the booking
        as it was just before, and the version compared with `expected_versions` (else
        StaleVersion, nothing deleted) is the stored one."""
        self.ensure_version(expected_versions)
        # No savepoint of its own (as Django's deletion): the event and the delete
        # stand or fall with the caller's transaction, or make up one of their own.
        with transaction.atomic(using=using, savepoint=False):
            booking_deleted(self)
            return super().delete(using=using, keep_parents=keep_parents)

    delete.alters_data = True

    def ensure_version(self, expected_versions: Collection[int] | None) -> None:
        """StaleVersion unless this (locked) booking's version is one of
        `expected_versions`; None expects nothing (no `If-Match`, or `*`)."""
        ensure_version(self.version, expected_versions)

    def ensure_ends_not_before_starts(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise InvalidValue("Must not be before starts_at.", field="ends_at")

    def _refresh_locked(self) -> None:
        """Re-read the row under a lock, within the booking's business: a stale instance
        can never overwrite a concurrent change, a booking deleted meanwhile raises
        DoesNotExist, and a caller may pass a bare `Booking.reference(pk, business_id)`
        handle. Call it inside a transaction."""
        locked = Booking.objects.get_in_business(self.business_id, self.pk, for_update=True)
        for field in Booking._meta.concrete_fields:
            setattr(self, field.attname, getattr(locked, field.attname))


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

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["booking", "id"], name="status_change_booking_id"),
            models.Index(fields=["business", "booking", "id"], name="status_change_business"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status} at {self.status_at:%Y-%m-%d %H:%M:%S}Z"

    @classmethod
    def of(
        cls,
        *,
        booking: Booking,
        from_status: str,
        to_status: str,
        status_at: dt.datetime,
        by: "AbstractBaseUser | str | None" = None,
        source: str,
    ) -> "BookingStatusChange":
        """The one factory for history rows that the write paths record (unsaved);
        the data-fix commands write theirs in bulk through
        BookingQuerySet.record_restamps, with the same fields."""
        return cls(
            booking=booking,
            business_id=booking.business_id,
            from_status=from_status,
            to_status=to_status,
            status_at=status_at,
            changed_by=getattr(by, "username", by),
            source=source,
        )

    @classmethod
    def record(cls, **entry: Any) -> "BookingStatusChange":
        """Write one entry (`of`'s arguments) by a fixed statement: change_status
        writes one on every call."""
        change = cls.of(**entry)
        fixed_sql.insert(change, HISTORY_FIELDS)
        return change


BOOKING_IN_BUSINESS = fixed_sql.CompiledQuery(
    lambda business_id, pk: Booking.objects.for_business(business_id).filter(pk=pk)
)
BOOKING_IN_BUSINESS_LOCKED = fixed_sql.CompiledQuery(
    lambda business_id, pk: (
        Booking.objects.for_business(business_id).filter(pk=pk).select_for_update()
    )
)
BOOKING_FIELDS = fixed_sql.insert_fields(Booking)
HISTORY_FIELDS = fixed_sql.insert_fields(BookingStatusChange)
BUSINESS_TIMEZONE = fixed_sql.CompiledQuery(
    lambda business_id: Business.objects.filter(pk=business_id).only("timezone")
)


def business_zone(business_id: int, *, using: str = "default") -> dt.tzinfo:
    """The business's time zone, read by one fixed statement (change_status runs it on
    every call)."""
    [business] = BUSINESS_TIMEZONE.rows(using, business_id=business_id)
    return business.zone


@receiver(timezone_changed, sender=Business)
def realign_bookings(business: Business, **kwargs) -> tuple[str, list[int]]:
    """A zone change realigns the business's bookings' dates (SPEC §9)."""
    bookings = Booking.objects.for_business(business.pk)
    return "bookings", bookings.realign_status_dates(business.zone)
