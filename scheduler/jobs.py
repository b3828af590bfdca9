"""What time moves (SPEC §16): each kind of due work is a job, and JOBS lists them in the
order a pass runs them.

A job says which records are due (`due`: an indexed query, ordered by when they fell
due) and how a batch of them moves (`move`: the domain's own write, given the records
locked and read under the lock in the scheduler's transaction, each re-checked there
so that a change a person made first wins). It assigns nothing itself: the records'
state changes through their app's actions and model methods.

To add a job (the appointments' auto-completion, SPEC §16), write a Job here whose
`due` is the appointments due for completion (their business's
`auto_complete_after_hours`, by an indexed query) and whose `move` completes a locked
batch through appointments' write path, and append it to JOBS.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from django.db import models

from bookings import actions
from bookings.models import ONE_HOUR, Booking


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


# A pass runs them in this order: a hold due for both is reminded, then expired; one
# already past when first seen expires unreminded (HoldReminders never takes it).
JOBS: tuple[Job, ...] = (HoldReminders(), HoldExpiry())
