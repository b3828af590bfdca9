"""A tenant's list that starts as the shared defaults and becomes its own on its first
write (copy on first write): the mechanism the status list (SPEC §4) and the lost
reasons (§15.1) share.

Rows of such a list belong to one tenant (`business`) or to the shared defaults
(`business` NULL). A tenant without rows of its own sees the shared ones; its first
write copies every shared row into its own list (new ids, the tenant), and when the
row it posts is one of those copies (the same key) the posted values are applied to
that copy. Each write is one transaction that first locks the tenant's row, so that
one tenant's writes happen one at a time (two concurrent first writes fork once, not
twice). The unique constraints decide duplicates: no write checks a name beforehand,
so two concurrent writers of one name cannot both win.

The tenant's row is locked through settings.TENANT_MODEL, named rather than imported:
core imports no app.
"""

from typing import TYPE_CHECKING, Any, ClassVar

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from core.errors import AlreadyExists, InvalidValue, NotAllowed, NotFound

if TYPE_CHECKING:
    import datetime as dt

    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser | str | None

SORT_ORDER_MAX = 2_147_483_647  # a PostgreSQL integer


def tenant_or_shared(related_name: str) -> models.ForeignKey:
    """The `business` of a list's row: its tenant, or NULL for the shared defaults."""
    return models.ForeignKey(
        settings.TENANT_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name=related_name,
        help_text="Empty for the shared default list.",
    )


class SharedListQuerySet(models.QuerySet):
    """Rows of lists that start as the shared defaults (a model with a
    `tenant_or_shared` business, `active` and a sort order)."""

    def shared(self) -> "SharedListQuerySet":
        """The default list every tenant starts on."""
        return self.filter(business__isnull=True)

    def for_business(self, business_id: int) -> "SharedListQuerySet":
        """The tenant's own rows (none until it forks the shared list)."""
        return self.filter(business_id=business_id)

    def reachable_by(self, business_id: int | None) -> "SharedListQuerySet":
        """The tenant's own rows and the shared ones: what it may look at."""
        if business_id is None:
            return self.shared()
        return self.filter(models.Q(business_id=business_id) | models.Q(business__isnull=True))

    def active(self) -> "SharedListQuerySet":
        return self.filter(active=True)

    def in_list_order(self) -> "SharedListQuerySet":
        return self.order_by("sort_order", "id")

    def list_of(self, business_id: int) -> "SharedListQuerySet":
        """The tenant's list, inactive rows included, in list order: its own rows once
        it has any, otherwise the shared ones (one statement, by an EXISTS), for
        reading more into (a report's, a form's)."""
        has_own_list = models.Exists(self.model.objects.for_business(business_id))
        return self.filter(
            models.Q(business_id=business_id) | models.Q(~has_own_list, business__isnull=True)
        ).in_list_order()

    def rows_of(self, business_id: int, *, active: bool | None = None) -> list[models.Model]:
        """`list_of(business_id)` read by plain statements (`active`: only the active
        rows, or only the inactive ones): the tenant's own rows, and only when it has
        none, the shared ones. The ORM builds each of these for less than the one
        statement with an EXISTS, and a tenant with its own list pays for one."""
        rows = list(self.for_business(business_id).in_list_order()) or list(
            self.shared().in_list_order()
        )
        return [row for row in rows if active is None or row.active == active]

    def in_list_of(self, business_id: int, pk: int) -> models.Model | None:
        """Row `pk` when it is in the tenant's list (`list_of`), else None: its own, or
        a shared one while it has no list of its own. One statement: row `pk` first,
        if the tenant may reach it, then one of the tenant's own rows, whose presence
        says that a shared row is no longer in its list."""
        is_pk = models.ExpressionWrapper(models.Q(pk=pk), output_field=models.BooleanField())
        reachable = models.Q(business_id=business_id) | models.Q(pk=pk, business__isnull=True)
        rows = list(self.filter(reachable).order_by(is_pk.desc())[:2])
        row = rows[0] if rows and rows[0].pk == pk else None
        shared_but_forked = row is not None and row.business_id is None and len(rows) > 1
        return None if shared_but_forked else row


class CopyOnFirstWriteList:
    """A tenant's list of `model` rows (`business_id` None: the shared defaults, which
    only superusers change, in the admin). The model's manager is a
    SharedListQuerySet's; its `sort_order` orders the list.

    A subclass names its `model` and says how a shared row is copied (`copy_of`), what
    makes two rows the same entry (`key_of`), how a duplicate is refused
    (`duplicate_error`), what a shared row's write is told (`shared_refusal`), and what
    its writes announce (`announce_copies`, `announce_created`: events, or nothing)."""

    model: ClassVar[type[models.Model]]
    # The API's names, for the errors that name a field.
    tenant_field: ClassVar[str] = "business_id"
    # What a row is called in messages ("status", "lost reason").
    noun: ClassVar[str] = "row"
    sort_order_field: ClassVar[str] = "sort_order"

    def __init__(self, business_id: int | None) -> None:
        self.business_id = business_id

    @classmethod
    def of(cls, business: models.Model | int | None):
        return cls(business.pk if isinstance(business, models.Model) else business)

    @property
    def is_shared(self) -> bool:
        return self.business_id is None

    # --- what a subclass says ------------------------------------------------------

    def copy_of(self, shared: models.Model, *, now: "dt.datetime", by: "User") -> models.Model:
        """An unsaved copy of the shared row `shared` for this tenant."""
        raise NotImplementedError

    def key_of(self, row: models.Model) -> tuple:
        """What makes two rows of one list the same entry (unique per list)."""
        raise NotImplementedError

    def duplicate_error(self, row: models.Model) -> AlreadyExists:
        raise NotImplementedError

    def shared_refusal(self, pk: int) -> NotAllowed:
        """The refusal of a write to shared row `pk` by a tenant: POST a copy first."""
        raise NotImplementedError

    def announce_copies(self, copies: list[models.Model]) -> None:
        """Called in the write's transaction with the copies a fork has just made."""

    def announce_created(self, row: models.Model) -> None:
        """Called in the write's transaction with a row just added (not a copy)."""

    # --- reading --------------------------------------------------------------------

    def own_rows(self) -> SharedListQuerySet:
        return self.model.objects.for_business(self.business_id)

    def reachable_rows(self) -> SharedListQuerySet:
        """The tenant's own rows and the shared ones: what it may look at."""
        return self.model.objects.reachable_by(self.business_id)

    def entry(self, pk: int, *, for_update: bool = False) -> models.Model:
        """Row `pk` of this list, for a write. Raises NotFound for an unknown row or
        another tenant's (as if it did not exist), then `shared_refusal` for a shared
        row when this is a tenant's list. With `for_update` the row is locked (FOR NO
        KEY UPDATE): a row deleted while this waits for it is not found."""
        rows = self.reachable_rows()
        if for_update:
            rows = rows.select_for_update(no_key=True)
        try:
            found = rows.get(pk=pk)
        except self.model.DoesNotExist:
            raise NotFound(f"There is no {self.noun} {pk} in your business's list.") from None
        if found.business_id is None and not self.is_shared:
            raise self.shared_refusal(pk)
        return found

    # --- writing --------------------------------------------------------------------

    def fork(self, *, by: "User" = None) -> list[models.Model]:
        """Copy the whole shared list into the tenant, unless it already has its own.

        Returns the copies, or [] when the tenant already had a list. Safe to call
        concurrently: the second caller waits for the first and then finds its list."""
        with transaction.atomic():
            self._lock()
            if self.own_rows().exists():
                return []
            copies = self._copy_shared_list(by=by)
            self.announce_copies(copies)
            return copies

    fork.alters_data = True

    def add(self, new: models.Model, fields: dict[str, Any], *, by: "User") -> models.Model:
        """Add the unsaved row `new` (made of the writable `fields`) to the list, in
        one transaction, and return it as stored.

        Without a `sort_order` in `fields` it goes after the last row. A tenant
        without its own list first gets a copy of the shared one; when `new` has the
        key of a copy, `fields` are applied to that copy (which keeps its other
        values) and the copy is returned. A key already in the list (inactive rows
        too) raises `duplicate_error`. Nothing is written when anything fails: a
        failed first write leaves no half-forked list."""
        try:
            with transaction.atomic():
                self._lock()
                # Read after the lock, by a statement of its own: one that waited for the
                # lock would still see the list as it was when it started (its snapshot),
                # and fork the list a concurrent first write has just forked.
                last = self.own_rows().aggregate(last=models.Max("sort_order"))["last"]
                copies = []
                if last is None and not self.is_shared:  # the first write
                    copies = self._copy_shared_list(by=by)
                    same = next((c for c in copies if self.key_of(c) == self.key_of(new)), None)
                    if same is not None:
                        for name, value in fields.items():
                            setattr(same, name, value)
                        same.save(update_fields=list(fields))
                        # Each copy's announcement carries it as stored, the posted
                        # values in.
                        self.announce_copies(copies)
                        return same
                    last = max((c.sort_order for c in copies), default=None)
                if "sort_order" not in fields:
                    new.sort_order = self._after(last)
                new.save(force_insert=True)
                self.announce_copies(copies)
                self.announce_created(new)
        except IntegrityError as error:
            raise self.duplicate_error(new) from error
        return new

    add.alters_data = True

    def _lock(self) -> None:
        """Take the tenant's row lock for the rest of the transaction: whoever holds it
        is the only one changing the tenant's list.

        FOR NO KEY UPDATE rather than FOR UPDATE: it queues the list's writers behind
        one another but not inserts of rows that refer to the tenant (whose foreign
        keys take FOR KEY SHARE). SQLite has no row locks (Django leaves the clause
        out); there every write transaction already starts with BEGIN IMMEDIATE. The
        shared list has no row to lock: only superusers change it, and its constraints
        still decide duplicates."""
        if self.is_shared:
            return
        tenants = apps.get_model(settings.TENANT_MODEL).objects
        if not tenants.select_for_update(no_key=True).filter(pk=self.business_id).exists():
            raise InvalidValue(f"There is no business {self.business_id}.", field=self.tenant_field)

    def _copy_shared_list(self, *, by: "User") -> list[models.Model]:
        """Insert copies of every shared row (inactive ones too) into the tenant, in
        list order. The caller holds the tenant's lock and has seen it has no list."""
        now = timezone.now()
        shared = self.model.objects.shared().in_list_order()
        return self.model.objects.bulk_create([self.copy_of(row, now=now, by=by) for row in shared])

    def _after(self, last_sort_order: int | None) -> int:
        if last_sort_order is None:
            return 1
        if last_sort_order >= SORT_ORDER_MAX:
            raise InvalidValue(
                f"The list's last {self.sort_order_field} is the largest allowed; send "
                f"a {self.sort_order_field}.",
                field=self.sort_order_field,
            )
        return last_sort_order + 1
