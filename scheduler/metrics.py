"""The scheduler's backlog as Prometheus gauges, read at each scrape
(settings.METRICS_COLLECTORS): what an operator alerts on when no scheduler runs, or
they fall behind (docs/operations.md)."""

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from scheduler.jobs import JOBS


class ScheduledWorkCollector:
    """Per job: how many records are due now, and how long ago the first of them (in
    the job's order) fell due. Both read the job's own indexed lookup."""

    def collect(self):
        now = timezone.now()
        due = GaugeMetricFamily(
            "scheduler_due_records", "Records due for a scheduler job now.", labels=["job"]
        )
        late = GaugeMetricFamily(
            "scheduler_oldest_due_age_seconds",
            "Seconds since the first record due for a scheduler job fell due (0 when none).",
            labels=["job"],
        )
        for job in JOBS:
            records = job.due(now)
            first = records.first()
            due.add_metric([job.name], records.count())
            late.add_metric(
                [job.name], (now - job.due_since(first)).total_seconds() if first else 0.0
            )
        yield due
        yield late
