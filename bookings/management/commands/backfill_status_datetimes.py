"""Give every status date that predates the datetime fields its moment.

Where `<status>_date` is set and `<status>_at` is null (tentative, definite,
lost), `<status>_at` becomes that date at 00:00 in the business's time zone
(00:00:00Z for a business on UTC), which is what change_status stamps for a
`status_date` given without a time.

How it stays cheap at a million bookings: it walks the pk space in ranges of
`--batch-size` and never loads more than a range's changed bookings. Per range,
whatever zones its businesses are on, in one transaction (bookings.fixes.backfill):
one query locks the bookings that need a backfill (FOR NO KEY UPDATE) and reads them,
one UPDATE sets the missing datetimes (COALESCE keeps those already set), each
booking's local midnight read from its business's zone in SQL, and the bookings are
read back in chunks to write each one's `booking.updated` (`changed_fields`: the
datetimes set), rendered as the API renders them. The lock keeps a booking a status
change stamps meanwhile out of it, or waits for the fix. The summary counts bookings;
`--dry-run` also counts per field, and writes nothing.

No history entries (so no `booking.status_changed`): the booking's status and
moments do not change, the moment only gets the precision its date already
stated. `updated_at` is left as it is, as by every data fix: it records the last
change made through the application. A booking whose date is before 1900 stops the
run before anything changes (SPEC §17).
"""

from collections import Counter

from django.db import models

from bookings import fixes
from bookings.management.batched import BatchedBookingFixCommand
from bookings.models import BookingQuerySet
from bookings.stamping import STAMPED_STATUSES

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
        return Counter(
            batch.aggregate(
                bookings=models.Count("pk", filter=fixes.NEEDING_BACKFILL),
                **{
                    status: models.Count("pk", filter=fixes.backfill_rule(status))
                    for status in STAMPED_STATUSES
                },
            )
        )

    def fix(self, batch: BookingQuerySet) -> Counter[str]:
        """Backfill `batch` (bookings.fixes.backfill); how many bookings changed.

        It counts bookings, not fields: a count per field would take a second pass
        over the range, and the dry run gives it beforehand."""
        return fixes.backfill(batch)

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
