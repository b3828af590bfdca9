"""What time moves (SPEC §16): each kind of due work is a job, and JOBS lists them in the
order a pass runs them.

A job says which records are due (`due`: an indexed query, ordered by when they fell
due) and how a batch of them moves (`move`: the domain's own write, given the records
locked and read under the lock in the scheduler's transaction, each re-checked there
so that a change a person made first wins). It assigns nothing itself: the records'
state changes through their app's actions and model methods. A job whose write path
takes its own locks in an order of its own (the appointments': the target status,
then the appointments) runs its batch itself (`run_batch`).
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from django.db import models, transaction

from accounts.models import Business
from appointments.actions import complete_due_appointments
from appointments.models import Appointment
from bookings import actions
from bookings.models import ONE_HOUR, Booking
from statuses.models import StatusName

# The most records one transaction moves (SPEC §16).
BATCH_SIZE = 500


class Job:
    """One kind of due work."""

    name: ClassVar[str]

    def due(self, now: dt.datetime) -> models.QuerySet:
        """The records due at `now`, soonest first, by an indexed query; the scheduler
        locks a batch of it (skipping those another transaction holds)."""
        raise NotImplementedError

    def move(self, locked: Sequence[Any], now: dt.datetime) -> int:
        """Move the records of `locked` that are still due at `now` (re-checked on the
        locked rows), in the scheduler's transaction; return how many moved."""
        raise NotImplementedError

    def run_batch(self, now: dt.datetime) -> tuple[int, int]:
        """Lock up to BATCH_SIZE records due at `now` (FOR UPDATE SKIP LOCKED: any
        number of schedulers share the work, none waiting for another) and move them,
        in one transaction; return (records taken, records moved)."""
        with transaction.atomic():
            claimed = self.due(now).select_for_update(skip_locked=True, of=("self",))
            locked = list(claimed[:BATCH_SIZE])
            moved = self.move(locked, now) if locked else 0
        return len(locked), moved

    def due_since(self, record: Any) -> dt.datetime:
        """When `record` fell due (for the metrics: how late the work is)."""
        raise NotImplementedError


class HoldReminders(Job):
    """`booking.hold_expiring` once per hold, `hold_reminder_hours` before it lapses."""

    name = "hold_reminder"

    def due(self, now: dt.datetime) -> models.QuerySet:
        return Booking.objects.holds_due_for_reminder(now)

    def move(self, locked: Sequence[Booking], now: dt.datetime) -> int:
        return len(actions.remind_holds(list(locked), now))

    def due_since(self, record: Booking) -> dt.datetime:
        return record.hold_until - record.business.hold_reminder_hours * ONE_HOUR


class HoldExpiry(Job):
    """A lapsed hold: the booking to lost, reason `hold_expired`, at `hold_until`."""

    name = "hold_expiry"

    def due(self, now: dt.datetime) -> models.QuerySet:
        return Booking.objects.holds_lapsed(now)

    def move(self, locked: Sequence[Booking], now: dt.datetime) -> int:
        return len(actions.expire_holds(list(locked), now))

    def due_since(self, record: Booking) -> dt.datetime:
        return record.hold_until


class AppointmentCompletion(Job):
    """An appointment still OPEN `auto_complete_after_hours` after its end: to its
    business's first active COMPLETED status that the list allows from OPEN, as of its
    `ends_at`, source `system` (SPEC §16, §17; none such: left alone)."""

    name = "appointment_completion"

    def due(self, now: dt.datetime) -> models.QuerySet:
        """Every business's due appointments (for the metrics), one condition per
        completion delay in use."""
        due = models.Q(pk__in=[])
        for hours in self.delays().values():
            due |= models.Q(
                business__auto_complete_after_hours=hours, ends_at__lte=now - hours * ONE_HOUR
            )
        return (
            Appointment.objects.filter(due, status=StatusName.OPEN)
            .select_related("business")
            .order_by("ends_at", "id")
        )

    def due_since(self, record: Appointment) -> dt.datetime:
        return record.ends_at + record.business.auto_complete_after_hours * ONE_HOUR

    def run_batch(self, now: dt.datetime) -> tuple[int, int]:
        """Up to BATCH_SIZE due appointments in one transaction, business by business
        (the partial index appointment_open_by_end is per business), each business's
        through appointments' write path, which locks the target status, then the
        appointments, and re-checks each: another scheduler's or a person's change
        first is left alone."""
        moved = 0
        with transaction.atomic():
            for business_id, hours in self.delays().items():
                done = complete_due_appointments(
                    business_id, now, after_hours=hours, limit=BATCH_SIZE - moved
                )
                moved += len(done)
                if moved >= BATCH_SIZE:
                    break
        return moved, moved

    @staticmethod
    def delays() -> dict[int, int]:
        """The businesses that complete appointments, with their delay in hours."""
        return dict(
            Business.objects.filter(auto_complete_after_hours__isnull=False)
            .order_by("pk")
            .values_list("pk", "auto_complete_after_hours")
        )


# A pass runs them in this order: a hold due for both is reminded, then expired; one
# already past when first seen expires unreminded (HoldReminders never takes it).
JOBS: tuple[Job, ...] = (HoldReminders(), HoldExpiry(), AppointmentCompletion())
