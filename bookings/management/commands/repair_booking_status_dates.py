"""Repair bookings whose status dates contradict each other, counted by kind.

Kinds, applied in this order within each batch:

- missing: the booking's current status (tentative, definite, lost) has neither
  its `_at` nor its `_date`. Both are stamped from the most recently recorded
  history entry to that status (its `status_at`), else from `updated_at`.
- stray lost: `lost_date`/`lost_at` on a booking that is not lost. Cleared, as
  change_status clears them when a booking leaves lost.
- mismatched: a `_date` that is not the UTC date of its `_at`, or is null while
  its `_at` is set. The date becomes the UTC date of the `_at` (the `_at` is
  the precise record; the date is derived from it).

History: a booking repaired for *missing* or *stray lost* gets one entry with
source "command", from_status = to_status = its status, changed_by null: the
repair is what change_status would do on re-stamping the current status, and
that is recorded like any correction. `status_at` is the stamped moment; for a
stray-lost clearing alone it is the booking's own moment of its status (its
`_at`, else its `_date` at 00:00Z), and the time of the repair for a lead, which
has no moment of its own. A *mismatched* repair writes no entry: no status or
moment changes, a derived date is recomputed (an entry "definite → definite at
<tentative_at>" would only mislead). `updated_at` is left as it is.

How it stays cheap at a million bookings: it walks the pk space in ranges of
`--batch-size`. Per range, in one transaction: one query lists the bookings that
need a repair, locked (FOR UPDATE), with which rules they break; then one UPDATE
per kind (per status for *missing*) over exactly those pks, and one bulk INSERT
of the history entries. At most one batch of rows is held in memory.
"""

import datetime as dt
import sys
from collections import Counter
from collections.abc import Iterator, Sequence

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models.functions import TruncDate
from django.utils import timezone
from tqdm import tqdm

from accounts.models import Business
from bookings.models import (
    STAMPED_STATUSES,
    Booking,
    BookingQuerySet,
    BookingStatusChange,
    ChangeSource,
)

DEFAULT_BATCH_SIZE = 20_000

MISSING, STRAY_LOST, MISMATCHED = "missing", "stray_lost", "mismatched"
KIND_LABELS = {
    MISSING: "missing status dates stamped",
    STRAY_LOST: "stray lost dates cleared",
    MISMATCHED: "mismatched dates corrected",
}


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def chunked(pks: Sequence[int], size: int | None) -> Iterator[Sequence[int]]:
    """`pks` in slices that fit the database's limit on query parameters."""
    size = size or len(pks) or 1
    for offset in range(0, len(pks), size):
        yield pks[offset : offset + size]


def skip_jit_compilation() -> None:
    """PostgreSQL misjudges the per-batch queries as expensive (it cannot estimate
    how few rows break a rule) and JIT-compiles them: that takes longer than
    running them. Off for the current transaction only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def flag(rule: models.Q) -> models.ExpressionWrapper:
    return models.ExpressionWrapper(rule, output_field=models.BooleanField())


def own_status_field(suffix: str) -> models.Case:
    """The booking's `<status>_<suffix>` for its current status (null for a lead)."""
    return models.Case(
        *(
            models.When(status=status, then=models.F(f"{status}_{suffix}"))
            for status in STAMPED_STATUSES
        )
    )


def history_moment(row, now: dt.datetime) -> dt.datetime:
    """`status_at` of a repair's history entry: the moment stamped, else the
    booking's own moment of its status, else (a lead) the time of the repair."""
    if row.missing:
        return row.stamped_moment
    if row.own_at is not None:
        return row.own_at
    if row.own_date is not None:
        return dt.datetime.combine(row.own_date, dt.time(), tzinfo=dt.UTC)
    return now


def restamp_entry(booking_id: int, status: str, moment: dt.datetime) -> BookingStatusChange:
    """The history entry of a repair: the field values BookingStatusChange.record
    writes for a re-stamp of `status` by a command, unsaved, for bulk_create."""
    return BookingStatusChange(
        booking_id=booking_id,
        from_status=status,
        to_status=status,
        status_at=moment,
        changed_by=None,
        source=ChangeSource.COMMAND,
    )


class Command(BaseCommand):
    help = (
        "Repair inconsistent booking status dates: stamp a current status's missing date, "
        "clear lost dates on bookings that are not lost, correct dates that are not the UTC "
        "date of their datetime. Safe to re-run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be repaired; change nothing."
        )
        parser.add_argument(
            "--business", type=int, metavar="ID", help="Only this business's bookings."
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"Bookings pks per transaction (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(
        self,
        *args,
        dry_run: bool,
        business: int | None,
        batch_size: int,
        no_progress: bool,
        **options,
    ) -> None:
        bookings = Booking.objects.order_by()
        if business is not None:
            if not Business.objects.filter(pk=business).exists():
                raise CommandError(f"There is no business {business}.")
            bookings = bookings.for_business(business)

        counts: Counter[str] = Counter()
        starts = tqdm(
            bookings.pk_range_starts(batch_size),
            desc="repair_booking_status_dates",
            unit="batch",
            file=sys.stderr,
            disable=no_progress or not self.stderr.isatty(),
        )
        for start in starts:
            batch = bookings.in_pk_range(start, start + batch_size)
            counts.update(self.count(batch) if dry_run else self.repair(batch))
            starts.set_postfix(repaired=counts.total() - counts["history"], refresh=False)
        self.report(counts, dry_run=dry_run)

    def count(self, batch: BookingQuerySet) -> Counter[str]:
        """Per kind, how many bookings of `batch` need a repair (as `repair` would
        count them), and how many history entries it would write."""
        stray_or_missing = (
            BookingQuerySet.stray_lost_dates_rule() | BookingQuerySet.missing_own_date_rule()
        )
        return Counter(
            batch.aggregate(
                **{
                    MISSING: models.Count("pk", filter=BookingQuerySet.missing_own_date_rule()),
                    STRAY_LOST: models.Count("pk", filter=BookingQuerySet.stray_lost_dates_rule()),
                    MISMATCHED: models.Count(
                        "pk", filter=BookingQuerySet.any_mismatched_date_rule()
                    ),
                    "history": models.Count("pk", filter=stray_or_missing),
                }
            )
        )

    def repair(self, batch: BookingQuerySet) -> Counter[str]:
        """Repair `batch` in one transaction; return the number of bookings
        repaired per kind, and of history entries written."""
        counts: Counter[str] = Counter()
        max_params = connection.features.max_query_params
        with transaction.atomic():
            skip_jit_compilation()
            rows = list(
                batch.needing_repair()
                .select_for_update(no_key=True)
                .annotate(
                    missing=flag(BookingQuerySet.missing_own_date_rule()),
                    stray_lost=flag(BookingQuerySet.stray_lost_dates_rule()),
                    mismatched=flag(BookingQuerySet.any_mismatched_date_rule()),
                    stamped_moment=models.Case(
                        models.When(
                            BookingQuerySet.missing_own_date_rule(),
                            then=BookingQuerySet.restamp_moment(),
                        ),
                        output_field=models.DateTimeField(),
                    ),
                    own_at=own_status_field("at"),
                    own_date=own_status_field("date"),
                )
                .values_list(
                    "pk",
                    "status",
                    "missing",
                    "stray_lost",
                    "mismatched",
                    "stamped_moment",
                    "own_at",
                    "own_date",
                    named=True,
                )
            )
            if not rows:
                return counts
            now = timezone.now()
            entries = [
                restamp_entry(row.pk, row.status, history_moment(row, now))
                for row in rows
                if row.missing or row.stray_lost
            ]

            moment = BookingQuerySet.restamp_moment()
            for status in STAMPED_STATUSES:
                pks = [row.pk for row in rows if row.missing and row.status == status]
                for chunk in chunked(pks, max_params):
                    counts[MISSING] += (
                        Booking.objects.filter(pk__in=chunk)
                        .filter(BookingQuerySet.missing_own_date_rule(), status=status)
                        .update(
                            **{
                                f"{status}_at": moment,
                                f"{status}_date": TruncDate(moment, tzinfo=dt.UTC),
                            }
                        )
                    )
            for chunk in chunked([row.pk for row in rows if row.stray_lost], max_params):
                counts[STRAY_LOST] += (
                    Booking.objects.filter(pk__in=chunk)
                    .with_stray_lost_dates()
                    .update(lost_at=None, lost_date=None)
                )
            for chunk in chunked([row.pk for row in rows if row.mismatched], max_params):
                counts[MISMATCHED] += (
                    Booking.objects.filter(pk__in=chunk)
                    .with_mismatched_status_dates()
                    .update(
                        **{
                            f"{status}_date": models.functions.Coalesce(
                                TruncDate(f"{status}_at", tzinfo=dt.UTC), f"{status}_date"
                            )
                            for status in STAMPED_STATUSES
                        }
                    )
                )
            BookingStatusChange.objects.bulk_create(entries)
            counts["history"] += len(entries)
        return counts

    def report(self, counts: Counter[str], *, dry_run: bool) -> None:
        repaired = sum(counts[kind] for kind in KIND_LABELS)
        detail = ", ".join(f"{label} {counts[kind]}" for kind, label in KIND_LABELS.items())
        history = f"{counts['history']} history entries"
        if not repaired:
            self.stdout.write(
                self.style.SUCCESS("Nothing to repair: all status dates are consistent.")
            )
        elif dry_run:
            self.stdout.write(
                self.style.WARNING(
                    f"Dry run: would make {repaired} repairs ({detail}) and write {history}; "
                    "nothing was changed."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Made {repaired} repairs ({detail}); wrote {history}.")
            )
