"""The skeleton every booking data-fix command shares: refuse to start while a booking
of the scope holds a date before 1900 (SPEC §17), then walk the bookings (all, or one
business's) in pk ranges, fix or count each range in its own transaction, show
progress, and print one summary. A range's bookings may belong to businesses on
different zones: the rules read each booking's zone from its business in SQL
(bookings.stamping.JOINED_BUSINESS_ZONE), so one pass serves them all."""

import sys
from abc import ABC, abstractmethod
from collections import Counter

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import Business
from bookings.fixes import ensure_none_ancient
from bookings.models import Booking, BookingQuerySet
from core.errors import DomainError


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class BatchedBookingFixCommand(ABC, BaseCommand):
    """Subclasses set `default_batch_size` and `dry_run_help`, and implement `count`
    (what a batch needs, for --dry-run), `fix` (fix a batch in one transaction, return
    what was done), `fixed_so_far` (for the progress bar) and `report`."""

    default_batch_size: int
    dry_run_help: str

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help=self.dry_run_help)
        parser.add_argument(
            "--business", type=int, metavar="ID", help="Only this business's bookings."
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=self.default_batch_size,
            metavar="N",
            help=f"Booking pks per transaction (default {self.default_batch_size}).",
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
        try:
            ensure_none_ancient(bookings)
        except DomainError as refused:
            raise CommandError(refused.message) from None

        counts: Counter[str] = Counter()
        starts = tqdm(
            bookings.pk_range_starts(batch_size),
            desc=self.__module__.rsplit(".", 1)[-1],
            unit="batch",
            file=sys.stderr,
            disable=no_progress or not sys.stderr.isatty(),
        )
        for start in starts:
            batch = bookings.in_pk_range(start, start + batch_size)
            counts.update(self.count(batch) if dry_run else self.fix(batch))
            starts.set_postfix(fixed=self.fixed_so_far(counts), refresh=False)
        self.report(counts, dry_run=dry_run)

    @abstractmethod
    def count(self, batch: BookingQuerySet) -> Counter[str]:
        """What fixing `batch` would do, without doing it (--dry-run)."""

    @abstractmethod
    def fix(self, batch: BookingQuerySet) -> Counter[str]:
        """Fix `batch` in one transaction; return what was done, counted by kind."""

    @abstractmethod
    def fixed_so_far(self, counts: Counter[str]) -> int:
        """The number the progress bar shows."""

    @abstractmethod
    def report(self, counts: Counter[str], *, dry_run: bool) -> None:
        """Write the summary line."""
