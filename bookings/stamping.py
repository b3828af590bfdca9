"""The booking lifecycle's statuses, and what a change to one stamps on a booking: the
zone and stamping arithmetic, stated once.

A status change's moment and its date are related here only: the date is the
moment's date in the business's time zone (SPEC §9), UTC unless the business chose
another. Every writer of status dates (the actions, the admin, generate_bookings, the
data fixes, a zone change) goes through these: in Python (`status_date_of`,
`start_of_status_date`, `status_stamp`), or in SQL for the set-based writers
(`LocalDate`, `StartOfStatusDate`: the same arithmetic, spelled per database).
"""

import dataclasses
import datetime as dt
import enum
from typing import Any

from django.db import models
from django.utils import timezone

from accounts.models import Business, time_zone
from core.errors import InvalidValue
from core.models import EARLIEST_MOMENT
from core.moments import ensure_not_in_future


class BookingStatus(models.TextChoices):
    LEAD = "lead"
    TENTATIVE = "tentative"
    DEFINITE = "definite"
    LOST = "lost"


# BookingStatus.values builds a new list on every access; every change checks it.
BOOKING_STATUSES = frozenset(BookingStatus.values)
# The statuses that stamp their own moment (`<status>_at`, `<status>_date`).
STAMPED_STATUSES = (BookingStatus.TENTATIVE, BookingStatus.DEFINITE, BookingStatus.LOST)
# How far ahead a hold may run (SPEC §15.2).
LONGEST_HOLD = dt.timedelta(days=366)


class Hold(enum.Enum):
    """A change to tentative that names no `hold_until` keeps the hold it has."""

    KEEP = "keep"


KEEP_HOLD = Hold.KEEP


def ensure_known_status(status: str) -> None:
    """InvalidValue naming `status` unless it is one of the booking statuses."""
    if status not in BOOKING_STATUSES:
        raise InvalidValue(
            f"Unknown status {status!r}; expected one of {', '.join(BookingStatus.values)}.",
            field="status",
        )


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


def ensure_not_too_early(moment: dt.datetime, *, field: str) -> None:
    """No moment before 1900-01-01T00:00:00Z (SPEC §17): a `status_date` of 1900-01-01
    in a zone east of UTC starts before it."""
    if moment < EARLIEST_MOMENT:
        raise InvalidValue("Must not be before 1900-01-01T00:00:00Z.", field=field)


def status_moment(
    at: dt.datetime | None, on: dt.date | None, zone: dt.tzinfo
) -> dt.datetime | None:
    """The one moment a change_status body means, for a business in `zone`: `at` (the
    body's `status_at`), else the start of the day `on` (its `status_date`), else None
    (now). Both are accepted when `at`'s local date is `on`; otherwise InvalidValue
    naming `status_date`. A moment in the future, or before 1900, is refused naming the
    field it came from."""
    if at is not None:
        if timezone.is_naive(at):
            raise InvalidValue("The moment must carry a time zone.", field="status_at")
        if on is not None and status_date_of(at, zone) != on:
            raise InvalidValue(
                f"Disagrees with status_at, whose date in the business's time zone is "
                f"{status_date_of(at, zone)}; send one of them, or make them agree.",
                field="status_date",
            )
        ensure_not_too_early(at, field="status_at")
        ensure_not_in_future(at, field="status_at")
        return at
    if on is not None:
        moment = start_of_status_date(on, zone)
        ensure_not_too_early(moment, field="status_date")
        ensure_not_in_future(moment, field="status_date")
        return moment
    return None


def ensure_hold_fits(hold_until: dt.datetime, *, after: dt.datetime | None) -> None:
    """A hold ends after the moment it is set as of (`after`: the change's moment, or
    the booking's tentative_at), and at most LONGEST_HOLD after now (SPEC §15.2);
    otherwise InvalidValue naming `hold_until`."""
    if after is not None and hold_until <= after:
        raise InvalidValue(
            f"Must be after the moment the booking became tentative ({after:%Y-%m-%dT%H:%M:%SZ}).",
            field="hold_until",
        )
    if hold_until > timezone.now() + LONGEST_HOLD:
        raise InvalidValue(
            f"Must be at most {LONGEST_HOLD.days} days from now.", field="hold_until"
        )


def status_stamp(
    status: str,
    moment: dt.datetime,
    zone: dt.tzinfo = dt.UTC,
    *,
    lost_reason: dict[str, Any] | None = None,
    lost_note: str | None = None,
    hold_until: dt.datetime | None | Hold = KEEP_HOLD,
) -> dict[str, Any]:
    """The fields a change to `status` at `moment` sets on a booking, with their new
    values: `status`; for tentative, definite and lost their own `<status>_at` (the
    moment) and `<status>_date` (its date in `zone`, the business's time zone). The
    other statuses' dates are kept, so they are not in it.

    What belongs to one status is cleared when a booking leaves it, and stated here
    once: a change to lost records its `lost_reason` (a reason's record) and
    `lost_note`; any other change clears `lost_at`, `lost_date`, `lost_reason` and
    `lost_note`. A change to tentative sets `hold_until` (None removes the hold) and
    re-arms its reminder, or with KEEP_HOLD keeps the hold it has; any other change
    clears the hold.

    `moment` may be a column of the row (F) and `zone` an expression (e.g.
    SELECTED_BUSINESS_ZONE): the stamp is then SQL, for a set-based UPDATE.

    Pure: the status-change action applies it to the rows it locked, generate_bookings
    to the rows it writes."""
    fields: dict[str, Any] = {"status": status}
    if status in STAMPED_STATUSES:
        fields[f"{status}_at"] = moment
        fields[f"{status}_date"] = (
            LocalDate(moment, zone)
            if hasattr(moment, "resolve_expression")
            else status_date_of(moment, zone)
        )
    if status == BookingStatus.LOST:
        fields["lost_reason"], fields["lost_note"] = lost_reason, lost_note
    else:
        fields.update(lost_at=None, lost_date=None, lost_reason=None, lost_note=None)
    if status != BookingStatus.TENTATIVE:
        fields["hold_until"] = fields["hold_reminded_at"] = None
    elif hold_until is not KEEP_HOLD:
        fields["hold_until"], fields["hold_reminded_at"] = hold_until, None
    return fields


@dataclasses.dataclass(frozen=True)
class ChangeDetails:
    """What a status change stamps on bookings besides their status: the moment, the
    business's zone its date is taken in, and what `status_stamp` takes for lost and
    tentative. A change of many bookings at one moment shares one.

    With `moment_field` instead of a moment, each booking's moment is its own value of
    that column (the scheduler's expiry: each hold's `hold_until`) and its date is taken
    in its business's zone (`zone` None). Such a change can also be stated in SQL
    (`sql_stamp`), so that every booking sharing the details is written by one UPDATE,
    as the data fixes write theirs."""

    moment: dt.datetime | None
    zone: dt.tzinfo | None = dt.UTC
    lost_reason: dict[str, Any] | None = None
    lost_note: str | None = None
    hold_until: dt.datetime | None | Hold = KEEP_HOLD
    moment_field: str | None = None

    def moment_of(self, booking: Any) -> dt.datetime:
        """The change's moment for `booking` (read before it is stamped)."""
        return getattr(booking, self.moment_field) if self.moment_field else self.moment

    def stamp(self, status: str, booking: Any) -> dict[str, Any]:
        """The fields the change to `status` sets on `booking`, as values."""
        zone = self.zone if self.zone is not None else booking.business.zone
        return self._stamp(status, self.moment_of(booking), zone)

    def sql_stamp(self, status: str) -> dict[str, Any]:
        """The same for every booking these details are `moment_field`'s, in SQL: the
        moment the row's own column, its date in the row's business's zone."""
        return self._stamp(status, models.F(self.moment_field), SELECTED_BUSINESS_ZONE)

    def _stamp(self, status: str, moment: Any, zone: Any) -> dict[str, Any]:
        return status_stamp(
            status,
            moment,
            zone,
            lost_reason=self.lost_reason,
            lost_note=self.lost_note,
            hold_until=self.hold_until,
        )


# --- The same arithmetic in SQL, for the set-based writers -------------------------
# Each booking's business's zone, in SQL: one pass over a pk range serves bookings of
# every zone (SPEC §9). A statement's filters join accounts_business (a hash join over
# a small table); an UPDATE may not join, so the new values it sets read the zone by a
# sub-select, which PostgreSQL runs only for the rows changed.
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


class ZonedFunc(models.Func):
    """A function of a value and a zone: one zone (a tzinfo), or each row's (an
    expression such as JOINED_BUSINESS_ZONE)."""

    arity = 2

    def __init__(self, value: str | models.Expression, zone: "dt.tzinfo | models.Expression"):
        super().__init__(value, zone_expression(zone))

    def compile_arguments(self, compiler) -> tuple[list[str], tuple]:
        sqls, params = [], []
        for expression in self.get_source_expressions():
            sql, expression_params = compiler.compile(expression)
            sqls.append(sql)
            params.extend(expression_params)
        return sqls, tuple(params)


class LocalDate(ZonedFunc):
    """`status_date_of` in SQL: the date of the datetime `moment` in `zone`. What
    TruncDate(tzinfo=...) writes, with the zone an expression: PostgreSQL's AT TIME
    ZONE, and on SQLite, which knows no zones, the Python function Django registers
    for TruncDate."""

    output_field = models.DateField()

    def as_sql(self, compiler, connection, **extra_context):
        (moment_sql, zone_sql), params = self.compile_arguments(compiler)
        return f"(({moment_sql}) AT TIME ZONE {zone_sql})::date", params

    def as_sqlite(self, compiler, connection, **extra_context):
        (moment_sql, zone_sql), params = self.compile_arguments(compiler)
        sql = f"django_datetime_cast_date({moment_sql}, {zone_sql}, %s)"
        return sql, (*params, connection.timezone_name)


class StartOfStatusDate(ZonedFunc):
    """`start_of_status_date` in SQL, for a date column: the first instant of the day
    in `zone`.

    Spelled per database so that the stored value is exactly what Django writes for
    that datetime (on SQLite a plain CAST would store '2025-01-10 00:00:00.000',
    which no equality filter for 2025-01-10T00:00:00Z would match). PostgreSQL's AT
    TIME ZONE reads a local time skipped by a DST change with the offset before the
    change, as `fold=0` does; SQLite, which knows no zones, calls Python."""

    output_field = models.DateTimeField()

    def as_sql(self, compiler, connection, **extra_context):
        (date_sql, zone_sql), params = self.compile_arguments(compiler)
        return f"(({date_sql})::timestamp AT TIME ZONE {zone_sql})", params

    def as_sqlite(self, compiler, connection, **extra_context):
        date, zone = self.get_source_expressions()
        if isinstance(zone, models.Value) and zone.value == "UTC":
            date_sql, date_params = compiler.compile(date)
            return f"datetime({date_sql})", date_params
        (date_sql, zone_sql), params = self.compile_arguments(compiler)
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
