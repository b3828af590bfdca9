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

History: a booking repaired for *missing* or *stray lost* (or both) gets one
entry, source "command", from_status = to_status = its status, changed_by null:
the repair is what change_status does when it re-stamps the current status, and
is recorded like that correction. `status_at` is the booking's moment of its
status after the repair (the stamped one for *missing*), or the time of the
repair where it has none (a lead; a date still waiting for
backfill_status_datetimes). A *mismatched* repair writes no entry: no status and
no moment changes, a derived date is recomputed (an entry "definite -> definite
at <tentative_at>" would only mislead). `updated_at` is left as it is: it
records the last change made through the application.

How it stays cheap at a million bookings: it walks the pk space in ranges of
`--batch-size` and never loads bookings. Per range, in one transaction: one
query locks the bookings of the range that need a repair (FOR NO KEY UPDATE),
then one INSERT ... SELECT writes the history entries and one UPDATE per kind
fixes the range, each statement restricted to the rows breaking its rule; the
counts are the statements' row counts.
"""

import datetime as dt
import sys
from collections import Counter

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from tqdm import tqdm

from accounts.models import Business
from bookings.models import STAMPED_STATUSES, Booking, BookingQuerySet, ChangeSource

DEFAULT_BATCH_SIZE = 50_000

MISSING, STRAY_LOST, MISMATCHED, HISTORY = "missing", "stray_lost", "mismatched", "history"
# The repairs that amount to re-stamping the current status: they get a history entry.
RESTAMPED = BookingQuerySet.missing_own_date_rule() | BookingQuerySet.stray_lost_dates_rule()
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


def skip_jit_compilation() -> None:
    """PostgreSQL cannot tell how few rows of a batch break a rule, judges the
    per-batch queries expensive and JIT-compiles them, which takes longer than
    running them. Off for the current transaction only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def history_moment(now: dt.datetime) -> Coalesce:
    """`status_at` of a repair's history entry: the moment to stamp where the
    current status has no date, else the current status's `_at`, else now."""
    return Coalesce(
        models.Case(
            models.When(
                BookingQuerySet.missing_own_date_rule(), then=BookingQuerySet.restamp_moment()
            ),
            *(
                models.When(status=status, then=models.F(f"{status}_at"))
                for status in STAMPED_STATUSES
            ),
        ),
        models.Value(now),
        output_field=models.DateTimeField(),
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
            help=f"Booking pks per transaction (default {DEFAULT_BATCH_SIZE}).",
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
            disable=no_progress or not sys.stderr.isatty(),
        )
        for start in starts:
            batch = bookings.in_pk_range(start, start + batch_size)
            counts.update(self.count(batch) if dry_run else self.repair(batch))
            starts.set_postfix(repairs=counts.total() - counts[HISTORY], refresh=False)
        self.report(counts, dry_run=dry_run)

    def count(self, batch: BookingQuerySet) -> Counter[str]:
        """What `repair` would do to `batch`: repairs per kind, history entries."""
        return Counter(
            batch.aggregate(
                **{
                    MISSING: models.Count("pk", filter=BookingQuerySet.missing_own_date_rule()),
                    STRAY_LOST: models.Count("pk", filter=BookingQuerySet.stray_lost_dates_rule()),
                    MISMATCHED: models.Count(
                        "pk", filter=BookingQuerySet.any_mismatched_date_rule()
                    ),
                    HISTORY: models.Count("pk", filter=RESTAMPED),
                }
            )
        )

    def repair(self, batch: BookingQuerySet) -> Counter[str]:
        """Repair `batch` in one transaction; return the repairs made per kind and
        the number of history entries written."""
        counts: Counter[str] = Counter()
        with transaction.atomic():
            skip_jit_compilation()
            # Lock the bookings to repair until commit: the statements below then
            # all see them as this query did, and the history matches the repairs.
            locked = batch.needing_repair().select_for_update(no_key=True).values_list("pk")
            if not list(locked):  # evaluated in full: every row is locked
                return counts
            # History first: once stamped, a booking no longer shows it was missing.
            now = timezone.now()
            counts[HISTORY] = batch.filter(RESTAMPED).record_restamps(
                status_at=history_moment(now), source=ChangeSource.COMMAND, now=now
            )
            moment = BookingQuerySet.restamp_moment()
            counts[MISSING] = batch.missing_own_status_date().update(
                **{
                    f"{status}_{suffix}": models.Case(
                        models.When(status=status, then=value),
                        default=models.F(f"{status}_{suffix}"),
                    )
                    for status in STAMPED_STATUSES
                    for suffix, value in (
                        ("at", moment),
                        ("date", TruncDate(moment, tzinfo=dt.UTC)),
                    )
                }
            )
            counts[STRAY_LOST] = batch.with_stray_lost_dates().update(lost_at=None, lost_date=None)
            counts[MISMATCHED] = batch.with_mismatched_status_dates().update(
                **{
                    f"{status}_date": Coalesce(
                        TruncDate(f"{status}_at", tzinfo=dt.UTC), f"{status}_date"
                    )
                    for status in STAMPED_STATUSES
                }
            )
        return counts

    def report(self, counts: Counter[str], *, dry_run: bool) -> None:
        repairs = sum(counts[kind] for kind in KIND_LABELS)
        detail = ", ".join(f"{label} {counts[kind]}" for kind, label in KIND_LABELS.items())
        history = f"{counts[HISTORY]} history entries"
        if not repairs:
            self.stdout.write(
                self.style.SUCCESS("Nothing to repair: all status dates are consistent.")
            )
        elif dry_run:
            self.stdout.write(
                self.style.WARNING(
                    f"Dry run: would make {repairs} repairs ({detail}) and write {history}; "
                    "nothing was changed."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Made {repairs} repairs ({detail}); wrote {history}.")
            )
