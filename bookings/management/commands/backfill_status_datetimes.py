"""Give every status date that predates the datetime fields its moment.

Where `<status>_date` is set and `<status>_at` is null (tentative, definite,
lost), `<status>_at` becomes that date at 00:00 in the business's time zone
(00:00:00Z for a business on UTC), which is what change_status stamps for a
`status_date` given without a time.

How it stays cheap at a million bookings: it walks the pk space in ranges of
`--batch-size` and never loads bookings. Per range, whatever zones its
businesses are on, in one transaction: one query locks the bookings that need a
backfill (FOR NO KEY UPDATE; only their ids are read), one INSERT ... SELECT
writes a `booking.updated` for each (`changed_fields`: the datetimes set), and
one UPDATE sets the three fields where they are missing, COALESCE keeping the
ones already set, each booking's local midnight read from its business's zone in
SQL. The lock keeps a booking change_status stamps meanwhile out of both, or
waits for the fix. The summary counts bookings; `--dry-run` also counts per
field, and writes nothing.

No history entries (so no `booking.status_changed`): the booking's status and
moments do not change, the moment only gets the precision its date already
stated. `updated_at` is left as it
is, as by every data fix: it records the last change made through the
application.
"""

from collections import Counter

from django.db import models, transaction
from django.db.models.functions import Coalesce

from bookings.events import bookings_updated
from bookings.management.batched import BatchedBookingFixCommand, skip_jit_compilation
from bookings.models import (
    NEXT_VERSION,
    SELECTED_BUSINESS_ZONE,
    STAMPED_STATUSES,
    BookingQuerySet,
    StartOfStatusDate,
)

DEFAULT_BATCH_SIZE = 100_000


class Command(BatchedBookingFixCommand):
    help = (
        "Set every tentative_at/definite_at/lost_at that is null while its date is set "
        "to that date at 00:00 in the business's time zone. Safe to re-run."
    )

    default_batch_size = DEFAULT_BATCH_SIZE
    dry_run_help = "Report what would be backfilled; change nothing."

    def fixed_so_far(self, counts: Counter[str]) -> int:
        return counts["bookings"]

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

    def fix(self, batch: BookingQuerySet) -> Counter[str]:
        """Backfill `batch` in one transaction with a `booking.updated` per booking
        changed; return how many bookings changed.

        It counts bookings, not fields: a count per field would take a second pass
        over the range, and the dry run gives it beforehand."""
        with transaction.atomic():
            skip_jit_compilation()
            needing_backfill = batch.needing_backfill()
            # Locked until commit, so that the events and the UPDATE see the same rows.
            if not list(needing_backfill.select_for_update(no_key=True).values_list("pk")):
                return Counter()
            # COALESCE keeps the datetimes already set.
            backfilled_moments = {
                f"{status}_at": Coalesce(
                    f"{status}_at", StartOfStatusDate(f"{status}_date", SELECTED_BUSINESS_ZONE)
                )
                for status in STAMPED_STATUSES
            }
            backfilled_moments["version"] = NEXT_VERSION
            bookings_updated(needing_backfill, backfilled_moments)
            backfilled = needing_backfill.update(**backfilled_moments)
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
