"""Give every status date that predates the datetime fields its moment.

Where `<status>_date` is set and `<status>_at` is null (tentative, definite,
lost), `<status>_at` becomes that date at 00:00:00Z, which is what
change_status stamps for a `status_date` given without a time.

How it stays cheap at a million bookings: it walks the pk space in ranges of
`--batch-size` and never loads bookings: per range, one UPDATE (its own
transaction) sets the three fields where they are missing, COALESCE keeping the
ones already set. Each row's fix is that one atomic statement, so nothing else
needs locking; a booking change_status stamps meanwhile no longer matches and is
left alone. The summary counts bookings; `--dry-run` also counts per field.

No history entries: the booking's status and moments do not change, the moment
only gets the precision its date already stated. `updated_at` is left as it
is, as by every data fix: it records the last change made through the
application.
"""

import sys
from collections import Counter

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models.functions import Coalesce
from tqdm import tqdm

from accounts.models import Business
from bookings.models import STAMPED_STATUSES, Booking, BookingQuerySet

DEFAULT_BATCH_SIZE = 100_000


class UtcMidnight(models.Func):
    """The moment 00:00:00Z of a date column.

    Spelled per database so that the stored value is exactly what Django writes
    for that datetime: on SQLite a plain CAST would store '2025-01-10 00:00:00.000',
    which no equality filter for 2025-01-10T00:00:00Z would match."""

    arity = 1
    output_field = models.DateTimeField()

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="CAST(%(expressions)s AS TIMESTAMP)", **extra_context
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="((%(expressions)s)::timestamp AT TIME ZONE 'UTC')",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="datetime(%(expressions)s)", **extra_context
        )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def skip_jit_compilation() -> None:
    """PostgreSQL cannot tell how few rows of a batch need the fix, judges the
    per-batch queries expensive and JIT-compiles them, which takes longer than
    running them. Off for the current transaction only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


class Command(BaseCommand):
    help = (
        "Set every tentative_at/definite_at/lost_at that is null while its date is set "
        "to that date at 00:00:00Z. Safe to re-run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would be backfilled; change nothing.",
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
            desc="backfill_status_datetimes",
            unit="batch",
            file=sys.stderr,
            disable=no_progress or not sys.stderr.isatty(),
        )
        for start in starts:
            batch = bookings.in_pk_range(start, start + batch_size)
            counts.update(self.count(batch) if dry_run else self.backfill(batch))
            starts.set_postfix(bookings=counts["bookings"], refresh=False)
        self.report(counts, dry_run=dry_run)

    def count(self, batch: BookingQuerySet) -> Counter[str]:
        """How many bookings of `batch` need a backfill, and of which field."""
        any_field = BookingQuerySet.needing_backfill_rule()
        return Counter(
            batch.aggregate(
                bookings=models.Count("pk", filter=any_field),
                **{
                    status: models.Count("pk", filter=BookingQuerySet.backfill_rule(status))
                    for status in STAMPED_STATUSES
                },
            )
        )

    def backfill(self, batch: BookingQuerySet) -> Counter[str]:
        """Backfill `batch` in one statement; return how many bookings changed.

        It counts bookings, not fields: a count per field would take a second pass
        over the range (about a third more time at a million bookings), and the
        dry run gives it beforehand."""
        with transaction.atomic():
            skip_jit_compilation()
            # One UPDATE for the three fields; COALESCE keeps the datetimes already set.
            backfilled = batch.needing_backfill().update(
                **{
                    f"{status}_at": Coalesce(f"{status}_at", UtcMidnight(f"{status}_date"))
                    for status in STAMPED_STATUSES
                }
            )
        return Counter(bookings=backfilled)

    def report(self, counts: Counter[str], *, dry_run: bool) -> None:
        bookings = f"{counts['bookings']} booking{'' if counts['bookings'] == 1 else 's'}"
        if not counts["bookings"]:
            self.stdout.write(
                self.style.SUCCESS("Nothing to backfill: every status date has its datetime.")
            )
        elif dry_run:
            detail = ", ".join(f"{status}_at {counts[status]}" for status in STAMPED_STATUSES)
            self.stdout.write(
                self.style.WARNING(
                    f"Dry run: would backfill {bookings} ({detail}); nothing was changed."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Backfilled the status datetimes of {bookings}."))
