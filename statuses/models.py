"""Appointment statuses: the shared default list and each business's own copy of it."""

from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connections, models, transaction
from django.db.models import Exists, Q
from django.utils import timezone

from core import fixed_sql
from core.errors import AlreadyExists
from core.fixed_sql import ModelRows

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

SUB_STATUS_MAX_LENGTH = 64
SORT_ORDER_MAX = 2_147_483_647  # a PostgreSQL integer


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
WRITABLE_FIELDS = ("status", "sub_status", "status_type", "active", "sort_order", "user_selectable")


def ensure_writable(fields: dict[str, Any]) -> None:
    """A programming error, not a client's: callers pass validated writable fields."""
    unknown = set(fields) - set(WRITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not writable: {', '.join(sorted(unknown))}")


def username_of(user: "AbstractBaseUser | str | None") -> str | None:
    """The username to record: a copy, so the record outlives renames and deletions."""
    return getattr(user, "username", user)


class StatusQuerySet(models.QuerySet):
    def shared(self) -> "StatusQuerySet":
        """The default list every business starts on."""
        return self.filter(business__isnull=True)

    def for_business(self, business_id: int) -> "StatusQuerySet":
        """The business's own statuses (empty until it forks the shared list)."""
        return self.filter(business_id=business_id)

    def reachable_by(self, business_id: int | None) -> "StatusQuerySet":
        """The business's own statuses and the shared ones: what it may look at."""
        if business_id is None:
            return self.shared()
        return self.filter(Q(business_id=business_id) | Q(business__isnull=True))

    def visible_to(self, business_id: int) -> "StatusQuerySet":
        """The business's list: its own statuses once it has any (inactive ones count),
        otherwise the shared defaults. One query, whichever it turns out to be."""
        own_list_exists = Exists(Status.objects.for_business(business_id))
        return self.filter(
            Q(business_id=business_id) | (Q(business__isnull=True) & ~own_list_exists)
        )

    def active(self) -> "StatusQuerySet":
        return self.filter(active=True)

    def in_list_order(self) -> "StatusQuerySet":
        return self.order_by("sort_order", "id")

    def named(self, business_id: int | None, status: str, sub_status: str) -> "StatusQuerySet":
        """The status of one list (a business's, or the shared one for None) with this
        status and sub-status: at most one, by the unique constraints."""
        return self.filter(business_id=business_id, status=status, sub_status=sub_status)


class StatusManager(models.Manager.from_queryset(StatusQuerySet)):
    def active_list_of(self, business_id: int) -> list["Status"]:
        """What GET /status shows: `visible_to(business_id).active().in_list_order()`,
        as one fixed statement (config/fixed_sql.py), because every call runs it."""
        return STATUS_ROWS.select(ACTIVE_LIST_SQL, [business_id, business_id], self.db)

    def reachable(self, business_id: int, pk: int) -> "Status":
        """Status `pk` if it is the business's own or a shared one (what
        `reachable_by(business_id)` holds), else Status.DoesNotExist. One fixed
        statement: every PUT /status starts with it."""
        return self._one(STATUS_IN_REACH_SQL, [pk, business_id])

    def change(
        self,
        pk: int,
        changes: dict[str, Any],
        *,
        business_id: int | None,
        by: "AbstractBaseUser | str | None",
    ) -> "Status | None":
        """Update status `pk` of the business's own list (`business_id`; None: the shared
        list) with the writable fields in `changes`, others keeping their values, and
        stamp `modified_at`/`modified_user`, in one statement (which locks the row while
        it runs). Returns the status as it now is, or None when the list has no status
        `pk`. Raises AlreadyExists, writing nothing, when the new status and sub-status
        are another status's of the list: the unique constraint decides, so two
        concurrent renames cannot both win."""
        ensure_writable(changes)
        values = {**changes, "modified_at": timezone.now(), "modified_user": username_of(by)}
        where = {"id": pk, "business": business_id}
        # Alone, the statement is its own transaction. Inside a caller's transaction, a
        # savepoint keeps that transaction usable when the constraint refuses the change.
        in_transaction = transaction.get_connection(self.db).in_atomic_block
        try:
            with transaction.atomic(using=self.db) if in_transaction else nullcontext():
                changed = fixed_sql.update_returning(STATUS_ROWS, values, where, using=self.db)
        except IntegrityError as error:
            named = Status(status=changes.get("status"), sub_status=changes.get("sub_status"))
            raise named.duplicate_error() from error
        return changed[0] if changed else None

    def append(
        self, business_id: int, fields: dict[str, Any], *, by: "AbstractBaseUser | str | None"
    ) -> "Status | None":
        """Insert a status with `fields` (writable fields; `status` and `sub_status`
        required) into the business's own list, after its last status unless a
        `sort_order` is given, in one statement. Returns it, or None, writing nothing,
        when that cannot be done this simply: the business has no list yet, the list
        already has this status and sub-status, or its last sortOrder is the largest
        allowed. The caller holds the list's lock (services.lock_status_list)."""
        new_status = Status(business_id=business_id, created_user=username_of(by), **fields)
        given_sort_order = "sort_order" in fields
        connection = connections[self.db]
        values = fixed_sql.prepared_values(new_status, APPEND_FIELDS, connection)
        if given_sort_order:
            sql, params = APPEND_WITH_SORT_ORDER_SQL, [*values, fields["sort_order"], business_id]
        else:
            sql, params = APPEND_AFTER_LAST_SQL, [*values, business_id, SORT_ORDER_MAX]
        found = fixed_sql.run(sql, params, self.db)
        if not found:
            return None
        [(new_status.pk, new_status.sort_order)] = found
        new_status._state.adding = False
        new_status._state.db = self.db
        return new_status

    def list_summary(
        self, business_id: int, status: str, sub_status: str
    ) -> tuple[int | None, bool]:
        """(the largest sortOrder of the business's own list, None when it has no list;
        whether the list has a status named `status`/`sub_status`), in one fixed
        statement. Both parts are index lookups, however long the list."""
        [(last_sort_order, same_name)] = fixed_sql.run(
            LIST_SUMMARY_SQL, [business_id, business_id, status, sub_status], self.db
        )
        return last_sort_order, bool(same_name)

    def _one(self, sql: str, params: list) -> "Status":
        found = STATUS_ROWS.select(sql, params, self.db)
        if not found:
            raise Status.DoesNotExist("No status has this id here.")
        return found[0]


class Status(models.Model):
    """One appointment status/sub-status of a business, or of the shared default list
    (`business` null), which businesses copy before they change anything."""

    business = models.ForeignKey(
        "accounts.Business",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="statuses",
        help_text="Empty for the shared default list.",
    )
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

    objects = StatusManager()

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

    def apply_changes(
        self, changes: dict[str, Any], *, by: "AbstractBaseUser | str | None"
    ) -> None:
        """Update the writable fields given in `changes` (others keep their values) and
        stamp `modified_at`/`modified_user` (Status.objects.change); the instance then
        holds the row as stored. Raises AlreadyExists, writing nothing, when the new
        status and sub-status are another status's, and Status.DoesNotExist when the
        status is gone."""
        changed = Status.objects.change(self.pk, changes, business_id=self.business_id, by=by)
        if changed is None:
            raise Status.DoesNotExist("No status has this id here.")
        STATUS_ROWS.copy_values(changed, self)

    apply_changes.alters_data = True

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


STATUS_ROWS = ModelRows(Status)
_business, _active = STATUS_ROWS.column("business"), STATUS_ROWS.column("active")
ACTIVE_LIST_SQL = (
    f"SELECT {STATUS_ROWS.columns('s')} FROM {STATUS_ROWS.table} s "
    f"WHERE s.{_active} AND (s.{_business} = %s OR (s.{_business} IS NULL "
    f"AND NOT EXISTS (SELECT 1 FROM {STATUS_ROWS.table} own WHERE own.{_business} = %s))) "
    f"ORDER BY s.{STATUS_ROWS.column('sort_order')}, s.{STATUS_ROWS.column('id')}"
)
STATUS_BY_ID_SQL = (
    f"SELECT {STATUS_ROWS.columns()} FROM {STATUS_ROWS.table} WHERE {STATUS_ROWS.column('id')} = %s"
)
STATUS_IN_REACH_SQL = (
    f"{STATUS_BY_ID_SQL} AND ({STATUS_ROWS.column('business')} = %s "
    f"OR {STATUS_ROWS.column('business')} IS NULL)"
)
# sort_order is never null, so the largest is null exactly when the list is empty.
LIST_SUMMARY_SQL = (
    f"SELECT (SELECT MAX({STATUS_ROWS.column('sort_order')}) FROM {STATUS_ROWS.table} "
    f"WHERE {_business} = %s), "
    f"EXISTS (SELECT 1 FROM {STATUS_ROWS.table} WHERE {_business} = %s "
    f"AND {STATUS_ROWS.column('status')} = %s AND {STATUS_ROWS.column('sub_status')} = %s)"
)
STATUS_INSERT_FIELDS = fixed_sql.insert_fields(Status)

# POST /status's insert, in one statement: into the business's own list only (the
# largest sortOrder is null exactly when it has none), after its last status (the
# largest sortOrder, below the largest allowed) unless one is given, and nothing when
# the name is taken (ON CONFLICT DO NOTHING: either unique constraint).
APPEND_FIELDS = tuple(
    Status._meta.get_field(name) for name in STATUS_INSERT_FIELDS if name != "sort_order"
)
_sort_order = STATUS_ROWS.column("sort_order")
_append_columns = ", ".join(fixed_sql.quote(field.column) for field in APPEND_FIELDS)
_append_values = ", ".join(["%s"] * len(APPEND_FIELDS))


def _append_sql(sort_order: str, condition: str) -> str:
    return (
        f"INSERT INTO {STATUS_ROWS.table} ({_append_columns}, {_sort_order}) "
        f"SELECT {_append_values}, {sort_order} FROM (SELECT MAX({_sort_order}) AS last "
        f"FROM {STATUS_ROWS.table} WHERE {_business} = %s) own WHERE {condition} "
        f"ON CONFLICT DO NOTHING RETURNING {STATUS_ROWS.column('id')}, {_sort_order}"
    )


APPEND_WITH_SORT_ORDER_SQL = _append_sql("%s", "own.last IS NOT NULL")
APPEND_AFTER_LAST_SQL = _append_sql("own.last + 1", "own.last IS NOT NULL AND own.last < %s")
