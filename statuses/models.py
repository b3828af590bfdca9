"""Appointment statuses: the shared default list and each business's own copy of it."""

from typing import TYPE_CHECKING, Any

from django.db import connections, models
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from core.errors import AlreadyExists
from core.tenant_lists import SharedListQuerySet, tenant_or_shared

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

SUB_STATUS_MAX_LENGTH = 64


class StatusName(models.TextChoices):
    PENDING = "PENDING"
    PENDING_CONFIRMATION = "PENDING_CONFIRMATION"
    PENDING_WAITLIST = "PENDING_WAITLIST"
    OPEN = "OPEN"
    READ_ONLY = "READ_ONLY"
    READ_ONLY_FREE = "READ_ONLY_FREE"
    NO_SHOW = "NO_SHOW"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    DELETED = "DELETED"


class StatusType(models.TextChoices):
    APPOINTMENT = "APPOINTMENT"


# The fields a caller may set (API body, admin form); everything else is the server's.
WRITABLE_FIELDS = (
    "status",
    "sub_status",
    "status_type",
    "active",
    "sort_order",
    "user_selectable",
    "depends_on",
)
# `dependsOn`: null, or 1 to this many distinct top-level names.
DEPENDS_ON_MAX = 10

# Sent by StatusList.update inside its transaction, once the status is saved (its lock
# held), with `status` as saved and `previous`, a Status holding the values it had
# before. The apps that put records in a status answer it: they may refuse the change
# by raising a core.errors.DomainError (the transaction rolls back, nothing is
# written), or bring their records in line in the same transaction. statuses imports
# none of them.
status_changed = Signal()


def ensure_writable(fields: dict[str, Any]) -> None:
    """A programming error, not a client's: callers pass validated writable fields."""
    unknown = set(fields) - set(WRITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not writable: {', '.join(sorted(unknown))}")


def username_of(user: "AbstractBaseUser | str | None") -> str | None:
    """The username to record: a copy, so the record outlives renames and deletions."""
    return getattr(user, "username", user)


class StatusQuerySet(SharedListQuerySet):
    def list_of(self, business_id: int) -> "StatusQuerySet":
        """The business's own active statuses once it has any (inactive ones count as
        having a list), otherwise the shared active ones, in list order."""
        return super().list_of(business_id).active()

    def shown_to(self, business_id: int) -> list["Status"]:
        """What GET /status shows: `list_of`, by the plain statements of `rows_of`."""
        return self.rows_of(business_id, active=True)

    def named(self, business_id: int | None, status: str, sub_status: str) -> "StatusQuerySet":
        """The status of one list (a business's, or the shared one for None) with this
        status and sub-status: at most one, by the unique constraints."""
        return self.filter(business_id=business_id, status=status, sub_status=sub_status)

    def locked_for_entry(self, business_id: int, status_id: int) -> "Status | None":
        """Status `status_id` of the business's own list or of the shared one (else
        None), as committed now, share-locked until the transaction ends: for a write
        that puts a record in it. Such writes do not wait for one another, but a change
        to the status (StatusList.update locks it FOR NO KEY UPDATE) waits for them and
        they for it: the change then sees every record put in it, and a record never
        enters it under a name or meaning it no longer has. Call it in a transaction.

        Written in SQL because the ORM cannot say FOR SHARE. SQLite has no row locks
        (its writers are serialised by BEGIN IMMEDIATE), so the clause is left out
        there, as Django leaves out FOR UPDATE."""
        connection = connections[self.db]
        quote = connection.ops.quote_name
        table, business = quote(Status._meta.db_table), quote("business_id")
        sql = (
            f"SELECT * FROM {table} WHERE {quote('id')} = %s "
            f"AND ({business} = %s OR {business} IS NULL)"
        )
        if connection.vendor == "postgresql":
            sql += " FOR SHARE"
        return next(iter(self.raw(sql, [status_id, business_id])), None)


class Status(models.Model):
    """One appointment status/sub-status of a business, or of the shared default list
    (`business` null), which businesses copy before they change anything."""

    business = tenant_or_shared(related_name="statuses")
    status = models.CharField(max_length=32, choices=StatusName.choices)
    sub_status = models.CharField(max_length=SUB_STATUS_MAX_LENGTH)
    status_type = models.CharField(
        max_length=16, choices=StatusType.choices, default=StatusType.APPOINTMENT
    )
    sort_order = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    user_selectable = models.BooleanField(default=True)
    depends_on = models.JSONField(null=True, blank=True, editable=False)

    # Usernames as they were at the time. NULL, not "", means "no user" (a migration, a
    # command; never modified): the API shows it as null.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_user = models.CharField(  # noqa: DJ001
        max_length=150, null=True, blank=True, editable=False
    )
    modified_at = models.DateTimeField(null=True, blank=True, editable=False)
    modified_user = models.CharField(  # noqa: DJ001
        max_length=150, null=True, blank=True, editable=False
    )

    objects = StatusQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "statuses"
        ordering = ["business_id", "sort_order", "id"]
        constraints = [
            # NULLs are distinct in a unique index, so the shared list (business NULL)
            # needs its own partial index; both work on SQLite and PostgreSQL.
            models.UniqueConstraint(
                fields=["business", "status", "sub_status"],
                name="status_unique_per_business",
                violation_error_message="This business already has this status and sub-status.",
            ),
            models.UniqueConstraint(
                fields=["status", "sub_status"],
                condition=Q(business__isnull=True),
                name="status_unique_shared",
                violation_error_message="The shared list already has this status and sub-status.",
            ),
        ]
        indexes = [
            models.Index(fields=["business", "sort_order", "id"], name="status_business_order"),
        ]

    def __str__(self) -> str:
        return f"{self.status} / {self.sub_status}"

    @property
    def is_shared(self) -> bool:
        return self.business_id is None

    def name_is_taken(self) -> bool:
        """Whether another status of the same list has this status and sub-status."""
        return (
            Status.objects.named(self.business_id, self.status, self.sub_status)
            .exclude(pk=self.pk)
            .exists()
        )

    def duplicate_error(self) -> AlreadyExists:
        return AlreadyExists(
            f"This list already has a status {self.status} with sub-status "
            f"{self.sub_status!r}; status and sub-status must be unique together."
        )
