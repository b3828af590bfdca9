"""The data fixes: which bookings each one must touch, and the set-based writes that fix
them (the commands backfill_status_datetimes and repair_booking_status_dates, and the
realignment a zone change makes).

Each rule is a Q over a booking, its dates judged in its business's zone
(`JOINED_BUSINESS_ZONE`, read in SQL) unless a zone is given, so that a command can both
filter on it and count by it (Count(filter=...)), and a dry run counts exactly what the
real run changes. The new values are the stamping rules of bookings/stamping.py in SQL
(`LocalDate`, `StartOfStatusDate`), set by one UPDATE per range of bookings; the
bookings changed are then read back in chunks and their events rendered from the one
representation (bookings/representation.py), as every other write's are.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import Business
from bookings.events import status_changed, updated
from bookings.models import NEXT_VERSION, Booking, BookingQuerySet, BookingStatusChange
from bookings.representation import BOOKING_API_NAMES
from bookings.stamping import (
    JOINED_BUSINESS_ZONE,
    SELECTED_BUSINESS_ZONE,
    STAMPED_STATUSES,
    BookingStatus,
    LocalDate,
    StartOfStatusDate,
)
from core.errors import InvalidValue
from core.insert_select import insert_select
from core.models import EARLIEST_MOMENT, ChangeSource
from events.models import Event

Zone = dt.tzinfo | models.Expression
# Bookings read back (and their events written) this many at a time.
READ_BACK_CHUNK = 2000


def any_of(rules: Iterable[models.Q]) -> models.Q:
    combined = models.Q()
    for rule in rules:
        combined |= rule
    return combined


# --- Which bookings --------------------------------------------------------------


def backfill_rule(status: str) -> models.Q:
    """`<status>_date` is set but `<status>_at` is null (data from before the datetime
    fields)."""
    return models.Q(**{f"{status}_date__isnull": False, f"{status}_at__isnull": True})


NEEDING_BACKFILL = any_of(backfill_rule(status) for status in STAMPED_STATUSES)

# Leaving lost clears `lost_*`: on a booking that is not lost they are stale.
STRAY_LOST_DATES = ~models.Q(status=BookingStatus.LOST) & (
    models.Q(lost_date__isnull=False) | models.Q(lost_at__isnull=False)
)

# The booking is tentative, definite or lost, yet that status's own `_at` and `_date`
# are both null.
MISSING_OWN_DATE = any_of(
    models.Q(status=status, **{f"{status}_at__isnull": True, f"{status}_date__isnull": True})
    for status in STAMPED_STATUSES
)

# A moment before 1900, or a date whose local midnight may be (SPEC §17): the
# database cannot be trusted to hold what a fix would derive from it, so a fix refuses
# to start while any booking in its scope has one.
ANCIENT = any_of(
    models.Q(**{f"{status}_at__lt": EARLIEST_MOMENT})
    | models.Q(**{f"{status}_date__lt": EARLIEST_MOMENT.date() + dt.timedelta(days=1)})
    for status in STAMPED_STATUSES
)


def misaligned_date_rule(status: str, zone: Zone = JOINED_BUSINESS_ZONE) -> models.Q:
    """`<status>_at` is set and `<status>_date` is not its date in `zone` (one zone, a
    tzinfo, or by default each booking's business's), or is null."""
    moment, date = f"{status}_at", f"{status}_date"
    return models.Q(**{f"{moment}__isnull": False}) & (
        models.Q(**{f"{date}__isnull": True}) | ~models.Q(**{date: LocalDate(moment, zone)})
    )


def any_misaligned_date(zone: Zone = JOINED_BUSINESS_ZONE) -> models.Q:
    return any_of(misaligned_date_rule(status, zone) for status in STAMPED_STATUSES)


def mismatched_date_rule(status: str, zone: Zone = JOINED_BUSINESS_ZONE) -> models.Q:
    """As `misaligned_date_rule`, except that lost dates are judged on lost bookings
    only: on any other booking they are stray, and get cleared, not corrected."""
    rule = misaligned_date_rule(status, zone)
    if status == BookingStatus.LOST:
        rule &= models.Q(status=BookingStatus.LOST)
    return rule


def any_mismatched_date(zone: Zone = JOINED_BUSINESS_ZONE) -> models.Q:
    return any_of(mismatched_date_rule(status, zone) for status in STAMPED_STATUSES)


def needing_repair(zone: Zone = JOINED_BUSINESS_ZONE) -> models.Q:
    """Bookings that break any rule repair_booking_status_dates fixes."""
    return STRAY_LOST_DATES | any_mismatched_date(zone) | MISSING_OWN_DATE


# The repairs that amount to re-stamping the current status: they get a history entry.
RESTAMPED = MISSING_OWN_DATE | STRAY_LOST_DATES
# What repair_booking_status_dates counts, each judged before the repair: its dry run
# and its real run count by the same rules.
REPAIR_KINDS = {
    "missing": MISSING_OWN_DATE,
    "stray_lost": STRAY_LOST_DATES,
    "mismatched": any_mismatched_date(),
    "history": RESTAMPED,
}


def ensure_none_ancient(bookings: BookingQuerySet) -> None:
    """InvalidValue naming the first bookings of `bookings` that hold a moment or date
    before 1900, before a fix or a zone change derives anything from them."""
    ancient = list(bookings.filter(ANCIENT).order_by("pk").values_list("pk", flat=True)[:11])
    if ancient:
        listed = ", ".join(map(str, ancient[:10])) + (", ..." if len(ancient) > 10 else "")
        raise InvalidValue(
            f"Bookings {listed} hold status dates before 1900-01-01, which this change "
            "would carry into dates the database cannot hold: correct them first. "
            "Nothing was changed."
        )


# --- The new values, in SQL ------------------------------------------------------


def backfilled_moments() -> dict[str, models.Expression]:
    """Every missing `<status>_at` set to the start of its `<status>_date` in each
    booking's business's zone; those already set kept."""
    return {
        f"{status}_at": models.functions.Coalesce(
            f"{status}_at", StartOfStatusDate(f"{status}_date", SELECTED_BUSINESS_ZONE)
        )
        for status in STAMPED_STATUSES
    }


def realigned_dates(zone: Zone) -> dict[str, models.Expression]:
    """Each `<status>_date` the date of its `<status>_at` in `zone`; a date whose moment
    is null kept."""
    return {
        f"{status}_date": models.functions.Coalesce(
            LocalDate(f"{status}_at", zone), f"{status}_date"
        )
        for status in STAMPED_STATUSES
    }


def restamp_moment() -> models.Func:
    """The moment to stamp on a booking whose current status lost its own date:
    `status_at` of the most recently recorded history entry to that status (the one a
    change applied last, even if backdated), else `updated_at`."""
    latest_entry = BookingStatusChange.objects.filter(
        booking=models.OuterRef("pk"), to_status=models.OuterRef("status")
    ).order_by("-id")
    return models.functions.Coalesce(
        models.Subquery(latest_entry.values("status_at")[:1]),
        models.F("updated_at"),
        output_field=models.DateTimeField(),
    )


def repaired_dates(zone: Zone = SELECTED_BUSINESS_ZONE) -> dict[str, models.Expression]:
    """What repair_booking_status_dates makes of a booking, in one pass: the current
    status's missing `_at`/`_date` stamped with `restamp_moment`, stray lost dates
    cleared, then every `<status>_date` the local date of its `<status>_at` (a date whose
    moment is null kept). On a booking needing no repair it changes nothing."""
    values: dict[str, models.Expression] = {}
    for status in STAMPED_STATUSES:
        moment, date = f"{status}_at", f"{status}_date"
        missing = models.Q(status=status, **{f"{moment}__isnull": True, f"{date}__isnull": True})
        cleared = (
            [models.When(STRAY_LOST_DATES, then=models.Value(None))]
            if status == BookingStatus.LOST
            else []
        )
        values[moment] = models.Case(
            models.When(missing, then=restamp_moment()),
            *cleared,
            default=models.F(moment),
            output_field=models.DateTimeField(),
        )
        values[date] = models.functions.Coalesce(
            LocalDate(values[moment], zone),
            models.Case(*cleared, default=models.F(date), output_field=models.DateField()),
        )
    return values


def restamp_history_moment(now: dt.datetime) -> models.Expression:
    """`status_at` of a repair's history entry: the moment stamped where the current
    status had no date, else the current status's `_at`, else now."""
    return models.functions.Coalesce(
        models.Case(
            models.When(MISSING_OWN_DATE, then=restamp_moment()),
            *(
                models.When(status=status, then=models.F(f"{status}_at"))
                for status in STAMPED_STATUSES
            ),
        ),
        models.Value(now),
        output_field=models.DateTimeField(),
    )


# --- The writes --------------------------------------------------------------------


def skip_jit_compilation() -> None:
    """PostgreSQL cannot tell how few rows of a range need a fix, judges the per-range
    statements expensive and JIT-compiles them, which takes longer than running them.
    Off for the current transaction only: a planner setting, which the ORM has no
    statement for."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def _locked_api_rows(bookings: BookingQuerySet) -> dict[int, tuple]:
    """Lock `bookings` until commit (FOR NO KEY UPDATE: their businesses are joined by
    the rules, not locked) and return each one's API fields as they are now."""
    rows = bookings.select_for_update(no_key=True, of=("self",)).order_by("pk")
    return {row[0]: row for row in rows.values_list(*BOOKING_API_NAMES)}


def _read_back(pks: list[int]) -> Iterable[tuple]:
    """The bookings `pks` as they now are, a chunk at a time, in pk order: named rows of
    what their events render (the API's fields and the business), not model instances,
    which the representation does not need."""
    for start in range(0, len(pks), READ_BACK_CHUNK):
        chunk = Booking.objects.filter(pk__in=pks[start : start + READ_BACK_CHUNK])
        yield from chunk.order_by("pk").values_list(*BOOKING_API_NAMES, "business_id", named=True)


def _announce_updates(before: dict[int, tuple], *, skip: frozenset[int] = frozenset()) -> None:
    """A `booking.updated` for each booking of `before` (but `skip`) whose API fields
    differ from `before`, naming them (SPEC §13: never `updated_at` nor `version`)."""
    listed = [
        (index, name)
        for index, name in enumerate(BOOKING_API_NAMES)
        if name not in {"updated_at", "version"}
    ]
    pks = [pk for pk in before if pk not in skip]
    events = []
    for booking in _read_back(pks):
        was = before[booking.id]
        changed = [name for index, name in listed if getattr(booking, name) != was[index]]
        if changed:
            events.append(updated(booking, changed))
        if len(events) >= READ_BACK_CHUNK:
            Event.objects.write(events)
            events = []
    Event.objects.write(events)


def _announce_restamps(entries: models.QuerySet) -> None:
    """A `booking.status_changed` for each history entry of `entries` (just written,
    set-based), with its booking as it now is: read a chunk at a time by id (a plain
    cursor, whose timestamps psycopg parses in C, rather than a server-side one)."""
    pks = list(entries.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), READ_BACK_CHUNK):
        chunk = BookingStatusChange.objects.filter(pk__in=pks[start : start + READ_BACK_CHUNK])
        Event.objects.write(
            status_changed(entry.booking, entry)
            for entry in chunk.select_related("booking").order_by("pk")
        )


def backfill(batch: BookingQuerySet) -> Counter[str]:
    """Backfill the status datetimes of `batch`, in one transaction, with a
    `booking.updated` per booking changed (no history entry: no status and no moment
    changes, the moment only gets the precision its date stated). Returns how many
    bookings changed."""
    with transaction.atomic():
        skip_jit_compilation()
        before = _locked_api_rows(batch.filter(NEEDING_BACKFILL))
        if not before:
            return Counter()
        batch.filter(NEEDING_BACKFILL).update(**backfilled_moments(), version=NEXT_VERSION)
        _announce_updates(before)
    return Counter(bookings=len(before))


def repair(batch: BookingQuerySet) -> Counter[str]:
    """Repair `batch` in one transaction and return the repairs made per kind of
    REPAIR_KINDS (judged before the repair), `history` counting the history entries.

    A booking re-stamped (RESTAMPED) gets one history entry (source command, from its
    status to the same, changed_by null), and its `booking.status_changed` carries the
    booking as the whole repair left it; every other booking repaired gets one
    `booking.updated`. One event per booking, never two."""
    with transaction.atomic():
        skip_jit_compilation()
        chosen = batch.filter(needing_repair())
        fields = len(BOOKING_API_NAMES)
        rows = (
            chosen.select_for_update(no_key=True, of=("self",))
            .order_by("pk")
            .values_list(
                *BOOKING_API_NAMES,
                *(
                    models.ExpressionWrapper(rule, models.BooleanField())
                    for rule in REPAIR_KINDS.values()
                ),
            )
        )
        before, restamped, counts = {}, set(), Counter()
        for row in rows:
            before[row[0]] = row[:fields]
            needed = [kind for kind, need in zip(REPAIR_KINDS, row[fields:], strict=True) if need]
            counts.update(needed)
            if "history" in needed:
                restamped.add(row[0])
        if not before:
            return counts
        # History first: once stamped, a booking no longer shows it was missing. Its
        # entries get ids above the last one now, which finds them again below.
        last_entry = BookingStatusChange.objects.aggregate(last=models.Max("pk"))["last"] or 0
        now = timezone.now()
        counts["history"] = record_restamps(
            batch.filter(RESTAMPED), status_at=restamp_history_moment(now), now=now
        )
        # An UPDATE cannot join: it takes the bookings by id, within the range, and its
        # new values read each zone by a sub-select.
        batch.filter(pk__in=chosen.values("pk")).update(**repaired_dates(), version=NEXT_VERSION)
        _announce_updates(before, skip=frozenset(restamped))
        _announce_restamps(
            BookingStatusChange.objects.filter(pk__gt=last_entry, booking__in=batch.values("pk"))
        )
    return counts


def record_restamps(
    bookings: BookingQuerySet, *, status_at: models.Expression, now: dt.datetime
) -> int:
    """One history entry per booking of `bookings` recording a re-stamp of its current
    status (from_status = to_status = status, changed_by null, source command) at
    `status_at`, an expression over the booking, recorded `now`: one INSERT … SELECT,
    no booking loaded. The set-based counterpart of the entries the actions write
    (BookingStatusChange.of). Returns how many were written."""
    entries = bookings.order_by("pk").values_list(
        "pk",
        "business_id",
        "status",
        models.F("status"),
        status_at,
        models.Value(now, output_field=models.DateTimeField()),
        models.Value(None, output_field=models.CharField()),
        models.Value(ChangeSource.COMMAND, output_field=models.CharField()),
    )
    fields = (
        "booking",
        "business",
        "from_status",
        "to_status",
        "status_at",
        "recorded_at",
        "changed_by",
        "source",
    )
    return insert_select(BookingStatusChange, fields, entries)


def realign(bookings: BookingQuerySet, zone: dt.tzinfo) -> list[int]:
    """Make every `<status>_date` of `bookings` (one business's) the date of its
    `<status>_at` in `zone`: what a zone change does, in its transaction, after locking
    the business. Moments and history are left as they are. Returns the ids of the
    bookings whose dates changed; each gets its `booking.updated` naming them, and no
    other booking is written. Refuses (InvalidValue, nothing changed) while a booking
    holds a moment before 1900."""
    ensure_none_ancient(bookings)
    # Every booking of the scope is locked, in id order, not only the misaligned ones:
    # a change_status holding one when we start then finishes before we read it.
    for _pk in (
        bookings.order_by("pk").select_for_update(no_key=True).values_list("pk").iterator(10_000)
    ):
        pass
    misaligned = bookings.filter(any_misaligned_date(zone))
    before = _locked_api_rows(misaligned)
    if before:
        misaligned.update(**realigned_dates(zone), version=NEXT_VERSION)
        _announce_updates(before)
    return list(before)


def realign_business(business: Business, **kwargs) -> tuple[str, list[int]]:
    """`timezone_changed`'s receiver: a zone change realigns the business's bookings."""
    return "bookings", realign(Booking.objects.for_business(business.pk), business.zone)


def check_realignment(business: Business, **kwargs) -> None:
    """`timezone_change_checked`'s receiver: what `realign` would refuse."""
    ensure_none_ancient(Booking.objects.for_business(business.pk))
