"""The appointments report of SPEC §14.6: per bucket of the local day appointments start
on, how many there are and how they ended, by their current top-level status.

One ORM statement: the business's appointments starting in the window (DELETED ones
left out), grouped by their start truncated to the bucket in the business's zone
(Django's Trunc with `tzinfo`: `AT TIME ZONE` on PostgreSQL, its Python function on
SQLite), counted with filtered aggregates. Windows and buckets are the pipeline's
(reports.queries.ReportWindow)."""

from django.db import router
from django.db.models import Count, DateField, Q
from django.db.models.functions import Trunc

from appointments.models import Appointment
from reports.queries import RATE_DECIMALS, ReportWindow, as_date
from statuses.models import StatusName

APPOINTMENTS_COLUMNS = (
    "bucket",
    "appointments",
    "completed",
    "no_show",
    "cancelled",
    "no_show_rate",
    "cancellation_rate",
)
APPOINTMENTS_DEFINITIONS = {
    "bucket": "The bucket's first local day (its calendar start, also when the range "
    "clips it); weeks start on Monday.",
    "appointments": "Appointments starting (local date of starts_at) in the bucket and the "
    "range, DELETED ones left out (and, with resource_id, only that resource's).",
    "completed": "Of those, appointments whose current top-level status is COMPLETED.",
    "no_show": "Of those, appointments whose current top-level status is NO_SHOW.",
    "cancelled": "Of those, appointments whose current top-level status is CANCELLED.",
    "no_show_rate": "no_show / appointments; null for an empty bucket.",
    "cancellation_rate": "cancelled / appointments; null for an empty bucket.",
}
OUTCOMES = {
    "completed": StatusName.COMPLETED,
    "no_show": StatusName.NO_SHOW,
    "cancelled": StatusName.CANCELLED,
}


def appointments_report(
    business, window: ReportWindow, *, resource_id: int | None = None
) -> list[dict]:
    """One row per bucket of `window`, empty ones included, oldest first."""
    alias = router.db_for_read(Appointment, report=True)
    appointments = (
        Appointment.objects.using(alias)
        .for_business(business.pk)
        .filter(starts_at__gte=window.starts_at, starts_at__lt=window.ends_at)
        .not_deleted()
    )
    if resource_id is not None:
        appointments = appointments.filter(resource_id=resource_id)
    counted = (
        appointments.annotate(
            bucket=Trunc("starts_at", window.interval, output_field=DateField(), tzinfo=window.zone)
        )
        .values("bucket")
        .annotate(
            appointments=Count("pk"),
            **{name: Count("pk", filter=Q(status=status)) for name, status in OUTCOMES.items()},
        )
        .order_by()
    )
    found = {as_date(row["bucket"]): row for row in counted}
    rows = []
    for bucket in window.buckets():
        counts = found.get(bucket, {"appointments": 0, **dict.fromkeys(OUTCOMES, 0)})
        total = counts["appointments"]
        rows.append(
            {
                "bucket": bucket,
                "appointments": total,
                "completed": counts["completed"],
                "no_show": counts["no_show"],
                "cancelled": counts["cancelled"],
                "no_show_rate": rate(counts["no_show"], total),
                "cancellation_rate": rate(counts["cancelled"], total),
            }
        )
    return rows


def rate(part: int, total: int) -> float | None:
    return round(part / total, RATE_DECIMALS) if total else None
