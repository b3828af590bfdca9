"""The scheduler's loop (SPEC §16): `run_schedules` runs one.

Each batch is one transaction: up to BATCH_SIZE due records of a job, locked with
`FOR UPDATE SKIP LOCKED` (so that any number of schedulers share the work, none waiting
for another, and a record another transaction holds is left for the next pass), then
moved by the job, which re-checks each on its locked row. PostgreSQL re-reads a row
that was changed by a transaction that committed after the statement began, and keeps
it only if it still meets the query's conditions: a booking confirmed a moment before
its hold lapsed is not taken. Each record is therefore moved exactly once, however
many schedulers run. On SQLite every write transaction holds the database (BEGIN
IMMEDIATE), so schedulers there simply take turns.

A pass runs every job until it has nothing due, a batch at a time; between passes the
scheduler sleeps SCHEDULER_INTERVAL seconds (settings), so work is done well within
60 s of falling due, and a scheduler that was stopped catches up at its first pass.
"""

import logging
import threading
from collections import Counter

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from scheduler.jobs import BATCH_SIZE, JOBS, Job

logger = logging.getLogger("scheduler")


class Scheduler:
    """Runs the jobs until stopped (`stop()`: SIGTERM, SIGINT), finishing the batch in
    hand first."""

    def __init__(self, jobs: tuple[Job, ...] = JOBS, *, interval: float | None = None) -> None:
        self.jobs = jobs
        self.interval = settings.SCHEDULER_INTERVAL if interval is None else interval
        self.stopping = threading.Event()

    def stop(self, *signal_arguments) -> None:
        self.stopping.set()

    def run_pass(self, now=None) -> Counter[str]:
        """Everything due at `now` (default: now), job after job, a batch at a time,
        until nothing is due or the scheduler is stopped; the records moved per job."""
        now = now or timezone.now()
        moved: Counter[str] = Counter()
        for job in self.jobs:
            while not self.stopping.is_set():
                locked, count = job.run_batch(now)
                moved[job.name] += count
                if count:
                    logger.info(
                        "%s: %s moved", job.name, count, extra={"job": job.name, "moved": count}
                    )
                # A full batch may leave more behind; a short one (or one whose records
                # all changed meanwhile) means the rest is someone else's, or none.
                if locked < BATCH_SIZE or count == 0:
                    break
        return moved

    def run(self, *, once: bool = False) -> Counter[str]:
        """With `once`, one pass over what is due now; else a pass every `interval`
        seconds until stopped. A lost database connection is logged and the pass tried
        again after the interval: the scheduler outlives a database restart."""
        if once:
            return self.run_pass()
        total: Counter[str] = Counter()
        while not self.stopping.is_set():
            try:
                total.update(self.run_pass())
            except DatabaseError as error:
                logger.warning(
                    "database unavailable (%s): trying again in %s s", error, self.interval
                )
                connection.close()
            self.stopping.wait(self.interval)
        return total
