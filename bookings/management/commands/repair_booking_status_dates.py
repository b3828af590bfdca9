"""Repair bookings whose status dates contradict each other, counted by kind.

Kinds, applied in this order within each batch:

- missing: the booking's current status (tentative, definite, lost) has neither
  its `_at` nor its `_date`. Both are stamped from the most recently recorded
  history entry to that status (its `status_at`), else from `updated_at`.
- stray lost: `lost_date`/`lost_at` on a booking that is not lost. Cleared, as
  change_status clears them when a booking leaves lost.
- mismatched: a `_date` that is not the local date of its `_at` (in the
  business's time zone), or is null while its `_at` is set. The date becomes
  the local date of the `_at` (the `_at` is the precise record; the date is
  derived from it).

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

Events: each booking repaired gets one `booking.updated` (`changed_fields`: the
fields the repair changed) and each history entry its `booking.status_changed`
(`change`: the entry), both carrying the booking as repaired, in the repair's
transaction. `--dry-run` writes nothing.

How it stays cheap at a million bookings: it walks the pk space in ranges of
`--batch-size` and never loads more than a range's changed bookings. Per range,
whatever zones its businesses are on (each booking's dates are judged in its
business's zone, read in SQL), in one transaction (bookings.fixes.repair): one query
locks and reads the bookings of the range that need a repair (FOR NO KEY UPDATE of
the bookings, not their businesses) with the kinds of repair each needs (the counts),
one INSERT ... SELECT writes the history entries, one UPDATE makes all the repairs,
and the bookings are read back in chunks to write their events, rendered as the API
renders them. A booking holding a moment or date before 1900 stops the run before
anything changes (SPEC §17).
"""

from collections import Counter

from django.db import models

from bookings import fixes
from bookings.management.batched import BatchedBookingFixCommand
from bookings.models import BookingQuerySet

DEFAULT_BATCH_SIZE = 50_000

KIND_LABELS = {
    "missing": "missing status dates stamped",
    "stray_lost": "stray lost dates cleared",
    "mismatched": "mismatched dates corrected",
}


class Command(BatchedBookingFixCommand):
    help = (
        "Repair inconsistent booking status dates: stamp a current status's missing date, "
        "clear lost dates on bookings that are not lost, correct dates that are not the local "
        "date of their datetime in the business's time zone. Safe to re-run."
    )

    default_batch_size = DEFAULT_BATCH_SIZE
    dry_run_help = "Report what would be repaired; change nothing."

    def fixed_so_far(self, counts: Counter[str]) -> int:
        return counts.total() - counts["history"]

    def count(self, batch: BookingQuerySet) -> Counter[str]:
        """What `fix` would do to `batch`: repairs per kind, history entries."""
        return Counter(
            batch.aggregate(
                **{
                    kind: models.Count("pk", filter=rule)
                    for kind, rule in fixes.REPAIR_KINDS.items()
                }
            )
        )

    def fix(self, batch: BookingQuerySet) -> Counter[str]:
        """Repair `batch` (bookings.fixes.repair); the repairs made per kind and the
        number of history entries written."""
        return fixes.repair(batch)

    def report(self, counts: Counter[str], *, dry_run: bool) -> None:
        repairs = sum(counts[kind] for kind in KIND_LABELS)
        detail = ", ".join(f"{label} {counts[kind]}" for kind, label in KIND_LABELS.items())
        history = f"{counts['history']} history entries"
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
