"""The pipeline reports of SPEC §11 and §15.1, computed in the database from the status
history.

`lost_reasons` (why bookings were lost) is one GROUP BY the ORM states. The two others
are each one parameterised statement: `pipeline` (bookings by the local date they were
created, and how far they got) and `time_in_status` (how long bookings stayed in each
status). Those statements are SQL rather than the ORM because they
aggregate over window functions (each stay ends at the next entry's moment), which a
queryset cannot aggregate. Three things differ between the databases, and only those
are spelled per database (`Dialect`):

- the business-local bucket of a moment: PostgreSQL's `date_trunc` on the moment `AT
  TIME ZONE` the business's zone; SQLite knows no zones, so it calls Python
  (`local_bucket`, the same rule `ReportWindow.buckets` labels with);
- the seconds between two moments: `EXTRACT(EPOCH FROM …)`; SQLite, which stores
  datetimes as text, calls Python, with the same float arithmetic;
- the percentiles: PostgreSQL's `percentile_cont(p) WITHIN GROUP (ORDER BY …)`
  (`PercentileCont`), and on SQLite the same linear interpolation written with
  window functions, so both give the same figures.

Rounding, stated once (ROUNDING): days are floats rounded to 2 decimals, rates to 4.
"""

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

from django.db import connections, models, router, transaction
from django.db.models import Aggregate, Count, FloatField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import time_zone
from bookings.models import Booking, BookingStatusChange, LostReason
from bookings.stamping import BookingStatus
from core.errors import InvalidValue
from core.moments import EARLIEST_DATE, LATEST_DATE, DateOutOfRange, iso_date

DAY_DECIMALS = 2
RATE_DECIMALS = 4
ROUNDING = (
    f"Days are decimal days (a day is 86,400 s) rounded to {DAY_DECIMALS} places; "
    f"rates are fractions from 0 to 1 rounded to {RATE_DECIMALS} places."
)
MAX_BUCKETS = 400
# A booking has reached tentative once it was in one of these (so a booking made
# definite directly has); it is open while its current status is one of OPEN_STATUSES.
REACHES_TENTATIVE = (BookingStatus.TENTATIVE, BookingStatus.DEFINITE)
OPEN_STATUSES = (BookingStatus.LEAD, BookingStatus.TENTATIVE)

PIPELINE_COLUMNS = (
    "bucket",
    "bookings",
    "reached_tentative",
    "reached_definite",
    "lost",
    "open",
    "conversion_to_definite",
    "median_days_to_definite",
)
TIME_IN_STATUS_COLUMNS = ("status", "stays", "median_days", "p90_days")

PIPELINE_DEFINITIONS = {
    "bucket": "The bucket's first local day (its calendar start, also when the range "
    "clips it); weeks start on Monday.",
    "bookings": "Bookings created (local date of created_at) in the bucket and the range.",
    "reached_tentative": "Of those, bookings with a history entry to tentative or definite, "
    "or whose current status is one of them.",
    "reached_definite": "Of those, bookings with a history entry to definite, or currently "
    "definite.",
    "lost": "Of those, bookings whose current status is lost.",
    "open": "Of those, bookings whose current status is lead or tentative.",
    "conversion_to_definite": "reached_definite / bookings; null for an empty bucket.",
    "median_days_to_definite": "Median of the days from created_at to the first definite "
    "moment (the earliest history entry to definite; for a definite booking without one, "
    "definite_at), negative spans counted as 0; null when no booking reached definite.",
}
TIME_IN_STATUS_DEFINITIONS = {
    "status": "The status the booking stayed in.",
    "stays": "Stays in that status that ended in the range. A booking's first stay is "
    "in lead, from created_at to its first history entry's moment; each entry starts a "
    "stay in its to_status that ends at the next entry's moment (entries ordered by "
    "moment, then id). Stays still open are left out.",
    "median_days": "Median length of those stays in days, negative spans counted as 0; "
    "null without stays.",
    "p90_days": "90th percentile of the same, by linear interpolation; null without stays.",
}


class Interval(models.TextChoices):
    MONTH = "month"
    WEEK = "week"
    DAY = "day"


def local_bucket(day: dt.date, interval: str) -> dt.date:
    """The first day of the bucket of `interval` that holds `day`: the 1st of its
    month, the Monday of its week, or the day itself."""
    if interval == Interval.MONTH:
        return day.replace(day=1)
    if interval == Interval.WEEK:
        return day - dt.timedelta(days=day.weekday())
    return day


def months_before(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` before `day`'s month."""
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def local_midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The first instant of `day` in `zone`, in UTC (where a DST change skips midnight,
    the first instant after the gap)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


@dataclasses.dataclass(frozen=True)
class ReportWindow:
    """The business-local dates a report covers, inclusive, and its bucket size."""

    first: dt.date
    last: dt.date
    interval: str
    zone: dt.tzinfo

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, str],
        zone: dt.tzinfo,
        *,
        today: dt.date | None = None,
        interval_allowed: bool = True,
    ) -> "ReportWindow":
        """The window that the query parameters `from`, `to` and `interval` ask for
        (SPEC §11, §13): `to` defaults to today in `zone`; `from` to the first day of
        the month 12 months before `to`'s month; `interval` to month (and is not read
        when not allowed). Raises InvalidValue naming the parameter at fault."""
        if today is None:
            today = timezone.now().astimezone(zone).date()
        last = parse_date(params, "to") or today
        first = parse_date(params, "from") or months_before(last, 12)
        if first > last:
            raise InvalidValue(f"Must not be after `to` ({last}).", field="from")
        interval = (params.get("interval") if interval_allowed else None) or Interval.MONTH
        if interval not in Interval.values:
            raise InvalidValue(f"Must be one of: {', '.join(Interval.values)}.", field="interval")
        window = cls(first=first, last=last, interval=interval, zone=zone)
        if window.bucket_count() > MAX_BUCKETS:
            if not interval_allowed:  # then only the range can change: name where it starts
                raise InvalidValue(
                    f"The range holds {window.bucket_count()} months; at most {MAX_BUCKETS}: "
                    "choose a later `from`.",
                    field="from",
                )
            raise InvalidValue(
                f"The range holds {window.bucket_count()} buckets of a {interval}; at most "
                f"{MAX_BUCKETS}: choose a longer interval or a shorter range.",
                field="interval",
            )
        return window

    @property
    def starts_at(self) -> dt.datetime:
        return local_midnight(self.first, self.zone)

    @property
    def ends_at(self) -> dt.datetime:
        """The first instant after the window (exclusive)."""
        return local_midnight(self.last + dt.timedelta(days=1), self.zone)

    def bucket_count(self) -> int:
        first = local_bucket(self.first, self.interval)
        last = local_bucket(self.last, self.interval)
        if self.interval == Interval.MONTH:
            return (last.year - first.year) * 12 + last.month - first.month + 1
        return (last - first).days // (7 if self.interval == Interval.WEEK else 1) + 1

    def buckets(self) -> list[dt.date]:
        """Each bucket's label (its calendar start), oldest first."""
        first = local_bucket(self.first, self.interval)
        if self.interval == Interval.MONTH:
            return [months_before(first, -offset) for offset in range(self.bucket_count())]
        step = dt.timedelta(days=7 if self.interval == Interval.WEEK else 1)
        return [first + step * offset for offset in range(self.bucket_count())]

    def meta(self, *, with_interval: bool = True) -> dict[str, Any]:
        used = {"time_zone": str(self.zone), "from": self.first, "to": self.last}
        if with_interval:
            used["interval"] = self.interval
        return used


def parse_date(params: Mapping[str, str], name: str) -> dt.date | None:
    """The parameter as a date (YYYY-MM-DD), or None when absent or empty."""
    value = params.get(name)
    if not value:
        return None
    try:
        return iso_date(value)
    except DateOutOfRange:
        raise InvalidValue(f"Must be from {EARLIEST_DATE} to {LATEST_DATE}.", field=name) from None
    except ValueError:
        raise InvalidValue("Must be a date, YYYY-MM-DD.", field=name) from None


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(p) WITHIN GROUP (ORDER BY expression)`: the p-th
    percentile by linear interpolation between the two nearest values; NULLs ignored."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        # A literal of the statement, not a parameter: PostgreSQL must see a float.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


class Dialect:
    """The SQL that differs between the databases; the rest of each report is shared."""

    def __init__(self, alias: str):
        self.connection = connections[alias]
        self.vendor = self.connection.vendor

    def local_bucket(self, moment: str, window: ReportWindow) -> tuple[str, list]:
        """SQL for the first local day of the bucket holding the moment column."""
        if self.vendor == "postgresql":
            return f"(date_trunc(%s, {moment} AT TIME ZONE %s))::date", [
                window.interval,
                str(window.zone),
            ]
        self.register_sqlite_functions()
        return f"reports_local_bucket({moment}, %s, %s)", [str(window.zone), window.interval]

    def seconds_between(self, start: str, end: str) -> str:
        """SQL for the seconds from one moment to another (a float, negative when the
        end comes first, NULL when either is)."""
        if self.vendor == "postgresql":
            return f"EXTRACT(EPOCH FROM ({end}) - ({start}))::float8"
        self.register_sqlite_functions()
        return f"reports_seconds_between({start}, {end})"

    def percentiles(self, source: str, fractions: tuple[float, ...]) -> tuple[list[str], str]:
        """For a query `FROM {source} AS spans {join} GROUP BY spans.grp`: one column
        per fraction, that fraction's percentile of `spans.value` (NULLs ignored) in
        the group, and the join (if any) those columns need."""
        if self.vendor == "postgresql":
            compiler = Booking.objects.none().query.get_compiler(connection=self.connection)
            columns = [
                compiler.compile(PercentileCont(RawSQL("spans.value", ()), fraction))[0]
                for fraction in fractions
            ]
            return columns, ""
        # SQLite: percentile_cont as PostgreSQL computes it. With the group's values
        # ordered (ranks from 0), position = p × (count − 1); the values `low` and
        # `high` at ranks floor(position) and ceil(position) give
        # low + (position − floor(position)) × (high − low).
        selected = []
        for index, fraction in enumerate(fractions):
            position = f"({float(fraction)!r} * last_rank)"
            floor = f"CAST({position} AS INTEGER)"
            ceil = f"({floor} + ({position} > {floor}))"
            low = f"MAX(CASE WHEN value_rank = {floor} THEN value END)"
            high = f"MAX(CASE WHEN value_rank = {ceil} THEN value END)"
            share = f"(MAX({position}) - MAX({floor}))"
            selected.append(f"{low} + {share} * ({high} - {low}) AS p{index}")
        join = (
            f"LEFT JOIN (SELECT grp, {', '.join(selected)} FROM ("
            " SELECT grp, value,"
            " ROW_NUMBER() OVER (PARTITION BY grp ORDER BY value) - 1 AS value_rank,"
            " COUNT(*) OVER (PARTITION BY grp) - 1 AS last_rank"
            f" FROM {source} WHERE value IS NOT NULL"
            ") AS ranked GROUP BY grp) AS percentiles ON percentiles.grp = spans.grp"
        )
        return [f"MAX(percentiles.p{index})" for index in range(len(fractions))], join

    def moment(self, value: dt.datetime) -> Any:
        """A datetime parameter as the database compares it with the stored column."""
        return self.connection.ops.adapt_datetimefield_value(value)

    def register_sqlite_functions(self) -> None:
        self.connection.ensure_connection()
        create = self.connection.connection.create_function
        create("reports_local_bucket", 3, sqlite_local_bucket, deterministic=True)
        create("reports_seconds_between", 2, sqlite_seconds_between, deterministic=True)


# Days from seconds (a column `seconds` of the relation), negative spans counted as 0:
# the same arithmetic on both databases.
DAYS = "CASE WHEN seconds < 0 THEN 0.0 ELSE seconds END / 86400.0"


def sqlite_moment(stored: str) -> dt.datetime:
    # SQLite holds datetimes as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
    return dt.datetime.fromisoformat(stored).replace(tzinfo=dt.UTC)


def sqlite_local_bucket(stored: str | None, zone_name: str, interval: str) -> str | None:
    if stored is None:
        return None
    local_day = sqlite_moment(stored).astimezone(time_zone(zone_name)).date()
    return local_bucket(local_day, interval).isoformat()


def sqlite_seconds_between(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    return (sqlite_moment(end) - sqlite_moment(start)).total_seconds()


def report_alias() -> str:
    """The database the reports read: the replica when one is configured (the router
    decides, reports/routers.py), else the default."""
    return router.db_for_read(Booking, report=True)


def tables() -> dict[str, str]:
    return {
        "booking": Booking._meta.db_table,
        "history": BookingStatusChange._meta.db_table,
    }


def run(alias: str, sql: str, params: list) -> list[tuple]:
    connection = connections[alias]
    on_postgresql = connection.vendor == "postgresql"
    # On PostgreSQL in a transaction of its own, for the SET LOCAL; never on SQLite,
    # where a transaction would take the write lock (BEGIN IMMEDIATE) for a read.
    in_transaction = (
        transaction.atomic(using=alias, savepoint=False) if on_postgresql else nullcontext()
    )
    with in_transaction, connection.cursor() as cursor:
        if on_postgresql:
            # A pooled connection prepares a statement it has run DB_PREPARE_THRESHOLD
            # times, and PostgreSQL may then plan it once for every business: after a
            # few small ones, a busy business got a generic plan slower than its own.
            # A report is planned for its business.
            cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        cursor.execute(sql, params)
        return cursor.fetchall()


def as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def rounded(value: float | None, decimals: int) -> float | None:
    return None if value is None else round(value, decimals)


def pipeline(business, window: ReportWindow) -> list[dict]:
    """SPEC §11's pipeline: one row per bucket of `window`, empty ones included,
    oldest first, of the business's bookings by the local date they were created."""
    alias = report_alias()
    found = {
        as_date(row[0]): row[1:] for row in run(alias, *pipeline_statement(business, window, alias))
    }
    rows = []
    for bucket in window.buckets():
        bookings, tentative, definite_count, lost, open_count, median = found.get(
            bucket, (0, 0, 0, 0, 0, None)
        )
        rows.append(
            {
                "bucket": bucket,
                "bookings": bookings,
                "reached_tentative": tentative,
                "reached_definite": definite_count,
                "lost": lost,
                "open": open_count,
                "conversion_to_definite": (
                    round(definite_count / bookings, RATE_DECIMALS) if bookings else None
                ),
                "median_days_to_definite": rounded(median, DAY_DECIMALS),
            }
        )
    return rows


def pipeline_statement(business, window: ReportWindow, alias: str) -> tuple[str, list]:
    """The pipeline's one statement for the database `alias`: a row per bucket that
    holds bookings (its label, the five counts, the median days to definite)."""
    dialect = Dialect(alias)
    bucket_sql, bucket_params = dialect.local_bucket("b.created_at", window)
    # The first definite moment: the earliest history entry to definite, else (a
    # legacy booking made definite before the history) definite_at.
    seconds_sql = dialect.seconds_between(
        "created_at",
        "COALESCE(first_definite_at, CASE WHEN status = %s THEN definite_at END)",
    )
    (median,), percentile_join = dialect.percentiles("spans", (0.5,))
    sql = f"""
        WITH per_booking AS (
            SELECT {bucket_sql} AS grp, b.status, b.created_at, b.definite_at,
                   MAX(CASE WHEN h.to_status IN (%s, %s) THEN 1 ELSE 0 END) AS tentative_entry,
                   MIN(CASE WHEN h.to_status = %s THEN h.status_at END) AS first_definite_at
            FROM {tables()["booking"]} b
                LEFT JOIN {tables()["history"]} h
                    ON h.booking_id = b.id AND h.business_id = b.business_id
            WHERE b.business_id = %s AND b.created_at >= %s AND b.created_at < %s
            GROUP BY b.id, b.status, b.created_at, b.definite_at
        ),
        facts AS (
            SELECT grp, status,
                   status IN (%s, %s) OR tentative_entry = 1 AS reached_tentative,
                   status = %s OR first_definite_at IS NOT NULL AS reached_definite,
                   {seconds_sql} AS seconds
            FROM per_booking
        ),
        spans AS (SELECT facts.*, {DAYS} AS value FROM facts)
        SELECT spans.grp,
               COUNT(*),
               SUM(CASE WHEN spans.reached_tentative THEN 1 ELSE 0 END),
               SUM(CASE WHEN spans.reached_definite THEN 1 ELSE 0 END),
               SUM(CASE WHEN spans.status = %s THEN 1 ELSE 0 END),
               SUM(CASE WHEN spans.status IN (%s, %s) THEN 1 ELSE 0 END),
               {median}
        FROM spans {percentile_join}
        GROUP BY spans.grp
    """
    definite = BookingStatus.DEFINITE
    params = [
        *bucket_params,
        *REACHES_TENTATIVE,
        definite,
        business.pk,
        dialect.moment(window.starts_at),
        dialect.moment(window.ends_at),
        *REACHES_TENTATIVE,
        definite,
        definite,
        BookingStatus.LOST,
        *OPEN_STATUSES,
    ]
    return sql, params


def time_in_status(business, window: ReportWindow) -> list[dict]:
    """SPEC §11's time in status: for each status, in order, the stays of the
    business's bookings that ended in `window`, with their median and 90th percentile
    length in days."""
    alias = report_alias()
    found = {
        row[0]: row[1:] for row in run(alias, *time_in_status_statement(business, window, alias))
    }
    rows = []
    for status in BookingStatus.values:
        stays, median, p90 = found.get(status, (0, None, None))
        rows.append(
            {
                "status": status,
                "stays": stays,
                "median_days": rounded(median, DAY_DECIMALS),
                "p90_days": rounded(p90, DAY_DECIMALS),
            }
        )
    return rows


def time_in_status_statement(business, window: ReportWindow, alias: str) -> tuple[str, list]:
    """Time in status's one statement for the database `alias`: a row per status that
    has stays (the status, their count, median and 90th percentile in days)."""
    dialect = Dialect(alias)
    (median, p90), percentile_join = dialect.percentiles("spans", (0.5, 0.9))
    # Each history entry ends one stay: the one its predecessor started (in moment
    # order), or for the first entry the lead stay from created_at. Entries at or
    # after the window's end end no stay inside it, and leaving them out changes no
    # earlier entry's predecessor.
    sql = f"""
        WITH stays AS (
            SELECT COALESCE(LAG(h.to_status) OVER in_order, %s) AS grp,
                   COALESCE(LAG(h.status_at) OVER in_order, b.created_at) AS started,
                   h.status_at AS ended
            FROM {tables()["history"]} h
                JOIN {tables()["booking"]} b
                    ON b.id = h.booking_id AND b.business_id = h.business_id
            WHERE h.business_id = %s AND h.status_at < %s
            WINDOW in_order AS (PARTITION BY h.booking_id ORDER BY h.status_at, h.id)
        ),
        facts AS (
            SELECT grp, {dialect.seconds_between("started", "ended")} AS seconds
            FROM stays WHERE ended >= %s
        ),
        spans AS (SELECT grp, {DAYS} AS value FROM facts)
        SELECT spans.grp, COUNT(*), {median}, {p90}
        FROM spans {percentile_join}
        GROUP BY spans.grp
    """
    params = [
        BookingStatus.LEAD,
        business.pk,
        dialect.moment(window.ends_at),
        dialect.moment(window.starts_at),
    ]
    return sql, params


# --- Why bookings were lost (SPEC §15.1) ------------------------------------------------

LOST_REASONS_COLUMNS = ("reason_code", "reason_label", "lost", "share")
LOST_REASONS_DEFINITIONS = {
    "reason": "The reason of the business's list (its id, code and label as they are now), "
    "or null for the losses recorded without one. The same code counts as one reason, "
    "whether recorded from the shared list or from the business's own copy of it.",
    "lost": "History entries into lost recorded in the range (local days), with this reason.",
    "share": "lost / all the entries into lost in the range; rows are most lost first, and "
    "reasons with none are left out.",
}


def lost_reasons(business, window: ReportWindow) -> list[dict]:
    """SPEC §15.1's report: a row per reason of the history entries into lost recorded in
    `window`, plus one for none (`reason` null) when some had none: `{"reason", "lost",
    "share"}`, most first (then by code, none last).

    The entries are counted by the reason recorded (one GROUP BY over the business's
    entries into lost, on the index status_change_lost); a reason is named by its code,
    which never changes, as the business's list now shows it."""
    alias = report_alias()
    recorded = (
        BookingStatusChange.objects.using(alias)
        .filter(
            business_id=business.pk,
            to_status=BookingStatus.LOST,
            recorded_at__gte=window.starts_at,
            recorded_at__lt=window.ends_at,
        )
        .values_list("lost_reason")
        .annotate(lost=Count("pk"))
        .order_by()
    )
    counts: Counter = Counter()
    named: dict[str, dict] = {}
    for record, lost in recorded:
        code = record["code"] if record else None
        counts[code] += lost
        if record:
            named.setdefault(code, record)
    if counts.keys() - {None}:
        listed = LostReason.objects.using(alias).list_of(business.pk).filter(code__in=named)
        named.update({reason.code: reason.record() for reason in listed})
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    return [
        {
            "reason": named[code] if code is not None else None,
            "lost": lost,
            "share": round(lost / total, RATE_DECIMALS),
        }
        for code, lost in ordered
    ]


def lost_reasons_csv_row(row: dict) -> dict:
    """A row of the report as its CSV's columns (LOST_REASONS_COLUMNS)."""
    reason = row["reason"] or {}
    return {
        "reason_code": reason.get("code"),
        "reason_label": reason.get("label"),
        "lost": row["lost"],
        "share": row["share"],
    }
