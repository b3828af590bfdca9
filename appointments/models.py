"""Resources, appointments and the history of their status changes (SPEC §14).

Models and querysets only: every write goes through appointments/actions.py."""

import datetime as dt
from collections.abc import Collection

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import DEFAULT_DB_ALIAS, models
from django.db.models.functions import Lower
from django.utils import timezone

from appointments.rules import BLOCKING, LONGEST
from core.models import ChangeSource
from core.moments import local_day_bounds
from statuses.models import SUB_STATUS_MAX_LENGTH, StatusName

RESOURCE_NAME_MAX_LENGTH = 100
CLIENT_NAME_MAX_LENGTH = 200
NOTE_MAX_LENGTH = 500


class ResourceQuerySet(models.QuerySet):
    def for_business(self, business_id: int) -> "ResourceQuerySet":
        return self.filter(business_id=business_id)

    def in_list_order(self) -> "ResourceQuerySet":
        return self.order_by("name", "id")


class Resource(models.Model):
    """What an appointment occupies: a member of staff, a room, a chair. Never deleted:
    `active = False` retires it (its appointments keep it)."""

    business = models.ForeignKey(
        "accounts.Business", on_delete=models.PROTECT, related_name="resources", db_index=False
    )
    name = models.CharField(max_length=RESOURCE_NAME_MAX_LENGTH)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ResourceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # Also the index the business's list is read by.
            models.UniqueConstraint(
                "business",
                Lower("name"),
                name="resource_name_unique_per_business",
                violation_error_message="This business already has a resource of this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TsTzRange(models.Func):
    """PostgreSQL's `tstzrange(lower, upper, bounds)`."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class PostgreSQLExclusionConstraint(ExclusionConstraint):
    """An exclusion constraint that exists on PostgreSQL only.

    SQLite cannot hold one: there the schema editor gets no SQL from it (as Django's
    own indexes and constraints answer a database without the feature), and SQLite's
    writers, serialised by BEGIN IMMEDIATE, rely on the write paths' check made inside
    their transaction. Model validation (`full_clean`) does not run it: the write paths
    check first and name the conflicting appointments; the constraint is the database's
    guarantee under concurrency, whose violation they answer the same way."""

    def constraint_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().constraint_sql(model, schema_editor)

    def create_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().create_sql(model, schema_editor)

    def remove_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().remove_sql(model, schema_editor)

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS):
        return None


class AppointmentQuerySet(models.QuerySet):
    def for_business(self, business_id: int) -> "AppointmentQuerySet":
        return self.filter(business_id=business_id)

    def in_start_order(self) -> "AppointmentQuerySet":
        return self.order_by("starts_at", "id")

    def not_deleted(self) -> "AppointmentQuerySet":
        return self.exclude(status=StatusName.DELETED)

    def starting_on(self, day: dt.date, zone: dt.tzinfo) -> "AppointmentQuerySet":
        """Those that start on the local day `day` of `zone`."""
        start, end = local_day_bounds(day, zone)
        return self.filter(starts_at__gte=start, starts_at__lt=end)

    def overlapping(self, starts_at: dt.datetime, ends_at: dt.datetime) -> "AppointmentQuerySet":
        """Those whose [starts_at, ends_at) overlaps the given span (back to back is no
        overlap). No appointment lasts longer than LONGEST, so those that overlap
        started within LONGEST before the span: a bounded range of the (resource,
        starts_at) index, however long the resource's history."""
        return self.filter(
            starts_at__lt=ends_at, starts_at__gt=starts_at - LONGEST, ends_at__gt=starts_at
        )

    def blocking_time(self) -> "AppointmentQuerySet":
        return self.filter(status__in=BLOCKING)

    def conflicting_with(
        self,
        resource_id: int | None,
        starts_at: dt.datetime,
        ends_at: dt.datetime,
        *,
        excluding: Collection[int | None] = (),
    ) -> "AppointmentQuerySet":
        """The appointments that would conflict with one on `resource_id` over the span,
        were it to block time (SPEC §14.4): the resource's other time-blocking
        appointments that overlap it, by id. Without a resource, none."""
        if resource_id is None:
            return self.none()
        return (
            self.filter(resource_id=resource_id)
            .blocking_time()
            .overlapping(starts_at, ends_at)
            .exclude(pk__in=[pk for pk in excluding if pk is not None])
            .order_by("pk")
        )

    def due_for_completion(self, now: dt.datetime, *, after_hours: int) -> "AppointmentQuerySet":
        """Appointments still OPEN (any sub-status) whose `ends_at` + `after_hours` has
        come by `now` (SPEC §16), oldest end first. `after_hours` is their business's
        `auto_complete_after_hours`: scope this to that business first
        (`for_business`); the partial index appointment_open_by_end serves it."""
        return self.filter(due_for_completion(now, after_hours)).order_by("ends_at", "id")


def due_for_completion(now: dt.datetime, after_hours: int) -> models.Q:
    """The condition of AppointmentQuerySet.due_for_completion, to re-check on a
    locked row."""
    return models.Q(status=StatusName.OPEN, ends_at__lte=now - dt.timedelta(hours=after_hours))


class Appointment(models.Model):
    """An appointment of a business, in one status of the business's own status list.

    `status` (the top-level name) and `sub_status` are kept on the row beside
    `list_status` (the status of the list, `status_id` in the API): the time-blocking
    rule and the list's filters read them without a join. Neither goes stale: a status
    that appointments are in cannot change its top-level name (SPEC §14.5), and a
    renamed sub-status is written to its appointments in the rename's transaction."""

    business = models.ForeignKey(
        "accounts.Business", on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    resource = models.ForeignKey(
        Resource,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        db_index=False,
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    client_name = models.CharField(max_length=CLIENT_NAME_MAX_LENGTH)
    client_email = models.EmailField(blank=True, default="")
    notes = models.TextField(blank=True, default="")

    # Written only by appointments.actions (a create, a status change, a rename).
    status = models.CharField(max_length=32, choices=StatusName.choices, editable=False)
    sub_status = models.CharField(max_length=SUB_STATUS_MAX_LENGTH, editable=False)
    list_status = models.ForeignKey(
        "statuses.Status",
        on_delete=models.PROTECT,
        related_name="appointments",
        db_column="status_id",
        editable=False,
    )
    status_at = models.DateTimeField(editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    no_show_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # 1 on create, +1 on every write to the row: the API's ETag.
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            # The list (cursor pages by starts_at, id) and its `date` and range filters.
            models.Index(fields=["business", "starts_at", "id"], name="appointment_business_start"),
            # The conflict check: a resource's appointments by start.
            models.Index(fields=["resource", "starts_at"], name="appointment_resource_start"),
            # The scheduler's completion: a business's open appointments by end.
            models.Index(
                fields=["business", "ends_at"],
                condition=models.Q(status=StatusName.OPEN),
                name="appointment_open_by_end",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="appointment_ends_after_start",
            ),
            # Two appointments of one resource that block time never overlap (SPEC
            # §14.4), whatever commits concurrently: the database refuses the second.
            # Needs btree_gist for `=` on the resource (migration 0001).
            PostgreSQLExclusionConstraint(
                name="appointment_time_blocked_once",
                expressions=[
                    ("resource", RangeOperators.EQUAL),
                    (
                        TsTzRange("starts_at", "ends_at", RangeBoundary(True, False)),
                        RangeOperators.OVERLAPS,
                    ),
                ],
                condition=models.Q(status__in=sorted(BLOCKING)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_name} at {self.starts_at:%Y-%m-%d %H:%M}Z ({self.status})"

    @property
    def blocks_time(self) -> bool:
        return self.status in BLOCKING


class AppointmentStatusChange(models.Model):
    """One status change of an appointment, in the order recorded, with the names the
    statuses had then: a later rename does not rewrite the history."""

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="status_changes", db_index=False
    )
    # The appointment's business (it never changes), for reads of a business's history.
    business = models.ForeignKey(
        "accounts.Business", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Null on the first entry, the creation.
    from_status = models.CharField(  # noqa: DJ001
        max_length=32, choices=StatusName.choices, null=True
    )
    from_sub_status = models.CharField(  # noqa: DJ001
        max_length=SUB_STATUS_MAX_LENGTH, null=True
    )
    # Always an earlier entry's `to_list_status`, which PROTECT already keeps: no
    # constraint or index of its own.
    from_list_status = models.ForeignKey(
        "statuses.Status",
        on_delete=models.DO_NOTHING,
        null=True,
        related_name="+",
        db_column="from_status_id",
        db_constraint=False,
        db_index=False,
    )
    to_status = models.CharField(max_length=32, choices=StatusName.choices)
    to_sub_status = models.CharField(max_length=SUB_STATUS_MAX_LENGTH)
    # A status that any history entry entered cannot be deleted (SPEC §14.5).
    to_list_status = models.ForeignKey(
        "statuses.Status", on_delete=models.PROTECT, related_name="+", db_column="to_status_id"
    )
    status_at = models.DateTimeField(help_text="The moment the status took effect.")
    recorded_at = models.DateTimeField(default=timezone.now)
    # The username as it was at the time; NULL when no user made the change.
    changed_by = models.CharField(max_length=150, null=True, blank=True)  # noqa: DJ001
    source = models.CharField(max_length=16, choices=ChangeSource.choices)
    note = models.CharField(max_length=NOTE_MAX_LENGTH, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["appointment", "id"], name="appointment_history_order"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status} at {self.status_at:%Y-%m-%d %H:%M:%S}Z"
