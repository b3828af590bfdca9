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
`--batch-size` and never loads bookings. Per range, whatever zones its
businesses are on (each booking's dates are judged in its business's zone, read
in SQL), in one transaction: one query locks the bookings of the range that need
a repair (FOR NO KEY UPDATE of the bookings, not their businesses), reading only
which kinds of repair each needs (the counts); one INSERT ... SELECT writes the
history entries, one the `booking.updated` events, one UPDATE makes all the
repairs (BookingQuerySet.repaired_dates), and one INSERT ... SELECT writes the
`booking.status_changed` events. The number of statements does not depend on
the number of bookings.
"""

import datetime as dt
from collections import Counter

from django.db import models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from bookings.events import bookings_status_changed, bookings_updated
from bookings.management.batched import BatchedBookingFixCommand, skip_jit_compilation
from bookings.models import (
    JOINED_BUSINESS_ZONE,
    NEXT_VERSION,
    SELECTED_BUSINESS_ZONE,
    STAMPED_STATUSES,
    BookingQuerySet,
    BookingStatusChange,
    ChangeSource,
)

DEFAULT_BATCH_SIZE = 50_000

MISSING, STRAY_LOST, MISMATCHED, HISTORY = "missing", "stray_lost", "mismatched", "history"
# The repairs that amount to re-stamping the current status: they get a history entry.
RESTAMPED = BookingQuerySet.missing_own_date_rule() | BookingQuerySet.stray_lost_dates_rule()
KIND_LABELS = {
    MISSING: "missing status dates stamped",
    STRAY_LOST: "stray lost dates cleared",
    MISMATCHED: "mismatched dates corrected",
}


# The bookings each kind of repair (and each history entry) is for, judged before
# the repair: the dry run counts by them, and the real run counts the same way.
KIND_RULES = {
    MISSING: BookingQuerySet.missing_own_date_rule(),
    STRAY_LOST: BookingQuerySet.stray_lost_dates_rule(),
    MISMATCHED: BookingQuerySet.any_mismatched_date_rule(),
    HISTORY: RESTAMPED,
}


def repaired_values(zone: models.Expression) -> dict[str, models.Expression]:
    """The repair as update() values, each booking's dates in its business's `zone`."""
    return {**BookingQuerySet.repaired_dates(zone), "version": NEXT_VERSION}


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


class Command(BatchedBookingFixCommand):
    help = (
        "Repair inconsistent booking status dates: stamp a current status's missing date, "
        "clear lost dates on bookings that are not lost, correct dates that are not the local "
        "date of their datetime in the business's time zone. Safe to re-run."
    )

    default_batch_size = DEFAULT_BATCH_SIZE
    dry_run_help = "Report what would be repaired; change nothing."

    def fixed_so_far(self, counts: Counter[str]) -> int:
        return counts.total() - counts[HISTORY]

    def count(self, batch: BookingQuerySet) -> Counter[str]:
        """What `fix` would do to `batch`: repairs per kind, history entries."""
        return Counter(
            batch.aggregate(
                **{kind: models.Count("pk", filter=rule) for kind, rule in KIND_RULES.items()}
            )
        )

    def fix(self, batch: BookingQuerySet) -> Counter[str]:
        """Repair `batch` in one transaction, with the events; return the repairs made
        per kind and the number of history entries written."""
        with transaction.atomic():
            skip_jit_compilation()
            # Lock the bookings to repair until commit: the statements below then all
            # see them as this query did, and the history and the events match the
            # repairs. The query also tells which repairs each one needs. It joins the
            # businesses for their zones and locks the bookings only.
            needing_repair = batch.needing_repair()
            kinds = needing_repair.select_for_update(no_key=True, of=("self",)).values_list(
                *(
                    models.ExpressionWrapper(rule, models.BooleanField())
                    for rule in KIND_RULES.values()
                )
            )
            counts = Counter(
                kind
                for row in kinds
                for kind, needed in zip(KIND_RULES, row, strict=True)
                if needed
            )
            if not counts:  # every row was read, so every one is locked
                return counts
            # History first: once stamped, a booking no longer shows it was missing.
            # Its entries get ids above the last one now: the events below find them
            # through the primary key, not by scanning the whole history.
            last_entry = BookingStatusChange.objects.aggregate(last=models.Max("pk"))["last"]
            now = timezone.now()
            counts[HISTORY] = batch.filter(RESTAMPED).record_restamps(
                status_at=history_moment(now), source=ChangeSource.COMMAND, now=now
            )
            # booking.updated is for a change without a history entry (SPEC §8.1): a
            # re-stamped booking's event is its booking.status_changed, which carries the
            # booking as the whole repair left it. One event per change, never two.
            # The events' SELECT reads the zones through the join its rule makes already.
            bookings_updated(
                needing_repair.exclude(RESTAMPED), repaired_values(JOINED_BUSINESS_ZONE)
            )
            # An UPDATE cannot join: it takes the bookings to repair by id, within the
            # range (else PostgreSQL would scan the whole table for them), and its new
            # values read each zone by a sub-select.
            batch.filter(pk__in=needing_repair.values("pk")).update(
                **repaired_values(SELECTED_BUSINESS_ZONE)
            )
            bookings_status_changed(
                BookingStatusChange.objects.filter(
                    pk__gt=last_entry or 0,
                    booking__in=batch.values("pk"),
                    source=ChangeSource.COMMAND,
                    recorded_at=now,
                )
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
