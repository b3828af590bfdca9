"""Operations on a business's whole status list: forking the shared defaults into it
(copy on first write) and adding a status to it.

Both lock the business row first, so that the writes to one business's list happen one
at a time: two concurrent first POSTs fork the shared list once, not twice.
"""

from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Business
from core import fixed_sql
from core.errors import InvalidValue
from core.fixed_sql import quote
from statuses.models import (
    SORT_ORDER_MAX,
    STATUS_INSERT_FIELDS,
    Status,
    ensure_writable,
    username_of,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


LOCK_BUSINESS_SQL = (
    f"SELECT {quote(Business._meta.pk.column)} FROM {quote(Business._meta.db_table)} "
    f"WHERE {quote(Business._meta.pk.column)} = %s"
)


def lock_status_list(business_id: int) -> None:
    """Take the business's row lock for the rest of the transaction: whoever holds it
    is the only one changing the shape of the business's status list.

    FOR NO KEY UPDATE rather than FOR UPDATE: it queues status-list writers behind one
    another but not inserts of bookings (whose foreign key takes FOR KEY SHARE). SQLite
    has no row locks; there every write transaction already starts with BEGIN IMMEDIATE.
    """
    connection = transaction.get_connection()
    sql = LOCK_BUSINESS_SQL
    if connection.features.has_select_for_no_key_update:
        sql += " FOR NO KEY UPDATE"
    found = fixed_sql.run(sql, [business_id], connection.alias)  # every POST /status runs it
    if not found:
        raise InvalidValue(f"There is no business {business_id}.", field="businessId")


def _copy_shared_list(business_id: int, *, by: "AbstractBaseUser | str | None") -> list[Status]:
    """Insert copies of every shared status (inactive ones too) into the business, in
    list order. The caller holds the business's lock and has seen it has no list."""
    now = timezone.now()
    copies = [
        Status(
            business_id=business_id,
            status=shared.status,
            sub_status=shared.sub_status,
            status_type=shared.status_type,
            sort_order=shared.sort_order,
            active=shared.active,
            user_selectable=shared.user_selectable,
            depends_on=shared.depends_on,
            created_at=now,
            created_user=username_of(by),
        )
        for shared in Status.objects.shared().in_list_order()
    ]
    return Status.objects.bulk_create(copies)


def fork_shared_statuses(
    business: Business | int, *, by: "AbstractBaseUser | str | None" = None
) -> list[Status]:
    """Copy the whole shared list into `business`, unless it already has its own list.

    The copies get new ids, the business, and the fork's time and `by` as their
    creation stamp. Returns them, or [] when the business already had a list. Safe to
    call concurrently: the second caller waits for the first and then finds its list.
    """
    business_id = business.pk if isinstance(business, Business) else business
    with transaction.atomic():
        lock_status_list(business_id)
        if Status.objects.for_business(business_id).exists():
            return []
        return _copy_shared_list(business_id, by=by)


def create_status(
    business_id: int, fields: dict[str, Any], *, by: "AbstractBaseUser | str | None"
) -> Status:
    """Add a status to the business's own list, in one transaction.

    `fields` holds writable fields; `status` and `sub_status` are required, `active`
    and `user_selectable` default to true and `sort_order` to after the last status.
    A business without its own list first gets a copy of the shared one; if the new
    status and sub-status are those of a copy, the given fields are applied to that
    copy (which keeps its other values) and it is returned. Otherwise a status whose
    status and sub-status are already in the list raises AlreadyExists. Nothing is
    written when anything fails.
    """
    ensure_writable(fields)
    status, sub_status = fields["status"], fields["sub_status"]
    with transaction.atomic():
        lock_status_list(business_id)
        appended = Status.objects.append(business_id, fields, by=by)
        if appended is not None:
            return appended
        # A first status (the shared list is copied first), a taken name, or a full
        # list: which one, and what to do, is settled here.
        last_sort_order, same_name = Status.objects.list_summary(business_id, status, sub_status)
        if last_sort_order is None:  # no own list yet
            copies = _copy_shared_list(business_id, by=by)
            match = next(
                (copy for copy in copies if (copy.status, copy.sub_status) == (status, sub_status)),
                None,
            )
            if match is not None:
                for name, value in fields.items():
                    setattr(match, name, value)
                match.save(update_fields=list(fields))
                return match
            last_sort_order = max((copy.sort_order for copy in copies), default=None)
        elif same_name:
            raise Status(business_id=business_id, **fields).duplicate_error()

        new_status = Status(business_id=business_id, created_user=username_of(by), **fields)
        if "sort_order" not in fields:
            new_status.sort_order = _after(last_sort_order)
        try:
            # No savepoint is needed: the error leaves this atomic block, which rolls
            # back (the fork above included).
            fixed_sql.insert(new_status, STATUS_INSERT_FIELDS)
        except IntegrityError as error:
            raise new_status.duplicate_error() from error
        return new_status


def _after(last_sort_order: int | None) -> int:
    if last_sort_order is None:
        return 1
    if last_sort_order >= SORT_ORDER_MAX:
        raise InvalidValue(
            "The list's last sortOrder is the largest allowed; send a sortOrder.",
            field="sortOrder",
        )
    return last_sort_order + 1
