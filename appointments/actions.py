"""The one home of every write to resources and appointments (SPEC §14): the API, the
admin, the commands and the scheduler all call these.

Each is one `transaction.atomic()` block that locks what it changes first (rows in
ascending id), re-reads it, checks the rules in SPEC's order, writes through the ORM,
and records the history entries and their events (Event.objects.write) in the same
transaction. A refusal raises a core.errors.DomainError and writes nothing.

Time (SPEC §14.4): a write that makes an appointment block time first looks for the
appointments it would overlap, and is refused naming them. On SQLite, whose writers
are serialised (BEGIN IMMEDIATE), that check decides. On PostgreSQL two transactions
could both pass it, so the exclusion constraint `appointment_time_blocked_once`
decides: the second writer's INSERT or UPDATE fails (SQLSTATE 23P01), its transaction
(or savepoint) rolls back, and the conflicting appointments, committed by then, are
read afterwards for the same answer.
"""

import dataclasses
import datetime as dt
import itertools
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import Business
from appointments.events import (
    appointment_created,
    appointments_status_changed,
    appointments_updated,
    resource_created,
    resource_updated,
)
from appointments.models import (
    Appointment,
    AppointmentStatusChange,
    Resource,
    due_for_completion,
)
from appointments.representation import EDITABLE_FIELDS
from appointments.rules import (
    LONGEST,
    NOT_BEFORE_START,
    allowed_moves,
    blocks_time,
    depends_on_allows,
    in_display_order,
    outcome_stamps,
)
from core.conditional import ensure_version
from core.errors import AlreadyExists, Conflict, DomainError, InvalidValue, NotFound
from core.models import ChangeSource
from core.moments import ensure_not_in_future
from events.models import Event
from statuses.models import Status, StatusName, status_changed, username_of
from statuses.services import StatusList

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser | str | None

RESOURCES_PER_BUSINESS = 500
EXCLUSION_VIOLATION = "23P01"  # PostgreSQL's SQLSTATE for an exclusion constraint
# Appointments read and rendered at a time by a write that changes many (a rename).
RENDERED_AT_ONCE = 1000


class TimeConflict(Conflict):
    """The appointment would block time that others already block (SPEC §14.4): 409
    `{"detail", "conflicts": [their ids, ascending]}`."""

    def __init__(self, conflicts: Sequence[int]) -> None:
        listed = ", ".join(str(pk) for pk in conflicts) or "one just committed"
        super().__init__(
            f"The resource is taken at that time by appointment(s) {listed}.",
            extra={"conflicts": list(conflicts)},
        )


@dataclasses.dataclass(frozen=True)
class Target:
    """The status of the business's list that a create or a change asks for: by
    `status_id`, or by `status` + `sub_status`; neither (a create only) means the
    list's first active OPEN status."""

    status_id: int | None = None
    status: str | None = None
    sub_status: str | None = None


# --- resources -----------------------------------------------------------------


def create_resource(business_id: int, *, name: str, active: bool = True) -> Resource:
    """Add a resource to the business (at most RESOURCES_PER_BUSINESS; names unique
    ignoring case: AlreadyExists naming `name`) and write `resource.created`."""
    resource = Resource(business_id=business_id, name=name, active=active)
    try:
        with transaction.atomic():
            # The business's row, so that concurrent creates count one at a time.
            Business.objects.select_for_update(no_key=True).filter(pk=business_id).exists()
            if Resource.objects.for_business(business_id).count() >= RESOURCES_PER_BUSINESS:
                raise Conflict(
                    f"A business has at most {RESOURCES_PER_BUSINESS} resources; retire one "
                    "(active: false) and rename it for its new use instead."
                )
            resource.save(force_insert=True)
            Event.objects.write([resource_created(resource)])
    except IntegrityError as error:
        raise duplicate_resource_name(name) from error
    return resource


def edit_resource(business_id: int, resource_id: int, changes: dict[str, Any]) -> Resource:
    """Change the resource's `name` and/or `active`; `resource.updated` when a stored
    value changed (nothing is written otherwise). NotFound for another business's."""
    try:
        with transaction.atomic():
            resource = locked(Resource.objects.for_business(business_id), resource_id)
            changed = [name for name in ("name", "active") if name in changes]
            changed = [name for name in changed if getattr(resource, name) != changes[name]]
            if not changed:
                return resource
            for name in changed:
                setattr(resource, name, changes[name])
            resource.save(update_fields=changed)
            Event.objects.write([resource_updated(resource)])
    except IntegrityError as error:
        raise duplicate_resource_name(changes["name"]) from error
    return resource


def duplicate_resource_name(name: str) -> AlreadyExists:
    return AlreadyExists(
        f"This business already has a resource named {name!r} (names are unique ignoring case).",
        field="name",
    )


# --- appointments ----------------------------------------------------------------


def create_appointment(
    business_id: int,
    fields: dict[str, Any],
    *,
    target: Target = Target(),
    at: dt.datetime | None = None,
    note: str | None = None,
    by: "User" = None,
    source: str = ChangeSource.API,
) -> Appointment:
    """Create an appointment in the target status (SPEC §14.2), recorded as its first
    history entry (from no status), with one `appointment.created` event carrying both.

    `fields`: `resource_id`, `starts_at`, `ends_at` (required), `client_name`,
    `client_email`, `notes`. The moment of the initial status is `at`, else now. A
    business's first appointment forks its status list (SPEC §14.5). Refused, in this
    order: the times (InvalidValue naming `ends_at`), the resource (naming
    `resource_id`), an unknown target or a future moment (InvalidValue), then the
    rules of entering a status from none (Conflict) and the resource's time
    (TimeConflict)."""
    ensure_editable(fields)
    ensure_span(fields["starts_at"], fields["ends_at"])
    now = timezone.now()
    appointment = Appointment(business_id=business_id, created_at=now, updated_at=now, **fields)
    try:
        with transaction.atomic():
            if appointment.resource_id is not None:
                ensure_usable_resource(business_id, appointment.resource_id)
            status = resolve_target(business_id, target, by=by)
            if status is None:
                raise missing_target(target)
            moment = moment_of(at, now)
            ensure_may_enter(status, current=None, moment=moment, starts_at=appointment.starts_at)
            if blocks_time(status.status):
                ensure_time_free(appointment)
            enter(appointment, status, moment)
            appointment.save(force_insert=True)
            [change] = record_changes(
                [(appointment, None)], status, moment, by=by, source=source, note=note
            )
            Event.objects.write([appointment_created(appointment, change)])
    except IntegrityError as error:
        raise_time_conflict_of([appointment], error)
    return appointment


def edit_appointment(
    business_id: int,
    appointment_id: int,
    changes: dict[str, Any],
    *,
    expected_versions: Collection[int] | None = None,
) -> Appointment:
    """Change the appointment's ordinary fields (EDITABLE_FIELDS) and write
    `appointment.updated` naming those whose stored value changed, in JSON order;
    return the appointment as stored. A change that changes nothing writes nothing.

    Refused, in this order (SPEC §13, §17): NotFound; the times (naming `ends_at`) and a
    move onto a resource that is not an active one of the business (`resource_id`);
    StaleVersion; any change to an appointment in a READ_ONLY or READ_ONLY_FREE status
    (a synced block: delete and re-create it); new times or resource that would block
    another appointment's time (TimeConflict)."""
    ensure_editable(changes)
    appointment = None
    try:
        with transaction.atomic():
            appointment = locked(Appointment.objects.for_business(business_id), appointment_id)
            ensure_span(
                changes.get("starts_at", appointment.starts_at),
                changes.get("ends_at", appointment.ends_at),
            )
            changed = [
                name
                for name in EDITABLE_FIELDS
                if name in changes and changes[name] != getattr(appointment, name)
            ]
            if "resource_id" in changed and changes["resource_id"] is not None:
                ensure_usable_resource(business_id, changes["resource_id"])
            ensure_version(appointment.version, expected_versions)
            if appointment.status in (StatusName.READ_ONLY, StatusName.READ_ONLY_FREE):
                raise Conflict(
                    f"An appointment in {appointment.status} is a block synced from another "
                    "calendar and is not edited: move it to DELETED and create it anew.",
                    field="status",
                )
            if not changed:
                return appointment
            for name in changed:
                setattr(appointment, name, changes[name])
            if appointment.blocks_time and {"resource_id", "starts_at", "ends_at"} & set(changed):
                ensure_time_free(appointment)
            appointment.updated_at = timezone.now()
            appointment.version += 1
            appointment.save(update_fields=[*changed, "updated_at", "version"])
            Event.objects.write(appointments_updated([appointment], changed))
    except IntegrityError as error:
        raise_time_conflict_of([appointment] if appointment else [], error)
    return appointment


def change_status(
    business_id: int,
    appointment_id: int,
    target: Target,
    *,
    at: dt.datetime | None = None,
    note: str | None = None,
    by: "User" = None,
    source: str = ChangeSource.API,
    expected_versions: Collection[int] | None = None,
) -> Appointment:
    """Move one appointment to the target status (SPEC §14.3): `change_statuses` of
    one, which raises NotFound when it is not (or no longer) the business's."""
    [appointment] = change_statuses(
        business_id,
        [appointment_id],
        target,
        at=at,
        note=note,
        by=by,
        source=source,
        expected_versions=expected_versions,
    )
    return appointment


def change_statuses(
    business_id: int,
    ids: Sequence[int],
    target: Target,
    *,
    at: dt.datetime | F | None = None,
    note: str | None = None,
    by: "User" = None,
    source: str = ChangeSource.API,
    expected_versions: Collection[int] | None = None,
    still: Q | None = None,
) -> list[Appointment]:
    """Move appointments `ids` of one business to the target status, all or nothing,
    and return them as changed, in ascending id.

    The target status is share-locked first, then the appointments in ascending id
    (the order a change of the status takes them in). Each gets the status, its names and
    the moment (`at`; None: now; `F("ends_at")`: each appointment's own end, for the
    scheduler), the outcome stamps of SPEC §14.3, `version` + 1, one history entry and
    one `appointment.status_changed`: one UPDATE, one INSERT of entries and one of
    events for the lot.

    Refused, in SPEC §14.3's order, nothing written: NotFound (an id not of the
    business); an unknown target or a future moment (InvalidValue); StaleVersion
    (`expected_versions`, from If-Match); an inactive target (Conflict naming
    `status_id`); a move the table does not allow (`status`); a `dependsOn` the
    current status is not in (`dependsOn`); COMPLETED or NO_SHOW before the start
    (`status_at`); time another appointment blocks (TimeConflict).

    With `still` (a condition, e.g. the scheduler's "still due"), the appointments
    that no longer meet it once locked are left out rather than refused: each record
    is re-checked on its locked row, so a change a person made meanwhile wins."""
    now = timezone.now()
    appointments: list[Appointment] = []
    try:
        with transaction.atomic():
            status = resolve_target(business_id, target, by=by)
            chosen = Appointment.objects.for_business(business_id).filter(pk__in=ids)
            if still is not None:
                chosen = chosen.filter(still)
            appointments = list(chosen.order_by("pk").select_for_update(no_key=True))
            if still is None and len(appointments) != len(set(ids)):
                raise NotFound("No appointment has this id in this business.")
            if not appointments:
                return []
            if status is None:
                raise missing_target(target)
            moments = [moment_of(at, now, appointment) for appointment in appointments]
            for appointment in appointments:
                ensure_version(appointment.version, expected_versions)
            for appointment, moment in zip(appointments, moments, strict=True):
                ensure_may_enter(
                    status,
                    current=appointment.status,
                    moment=moment,
                    starts_at=appointment.starts_at,
                )
            previous = [
                (appointment.status, appointment.sub_status, appointment.list_status_id)
                for appointment in appointments
            ]
            newly_blocking = [
                appointment
                for appointment in appointments
                if blocks_time(status.status) and not appointment.blocks_time
            ]
            for appointment, moment in zip(appointments, moments, strict=True):
                appointment.updated_at = now
                appointment.version += 1
                enter(appointment, status, moment)
            for appointment in newly_blocking:
                ensure_time_free(appointment, alongside=appointments)
            # One moment for all, or each appointment's own field.
            moment = at if isinstance(at, F) else moments[0]
            Appointment.objects.filter(pk__in=[a.pk for a in appointments]).update(
                status=status.status,
                sub_status=status.sub_status,
                list_status=status,
                status_at=moment,
                updated_at=now,
                version=F("version") + 1,
                **outcome_stamps(status.status, moment),
            )
            changes = record_changes(
                list(zip(appointments, previous, strict=True)),
                status,
                moments,
                by=by,
                source=source,
                note=note,
            )
            Event.objects.write(
                appointments_status_changed(zip(appointments, changes, strict=True))
            )
    except IntegrityError as error:
        raise_time_conflict_of(appointments, error)
    return appointments


def complete_due_appointments(
    business_id: int, now: dt.datetime, *, after_hours: int, limit: int = 500
) -> list[Appointment]:
    """The scheduler's completion (SPEC §16, §17) for one business whose
    `auto_complete_after_hours` is `after_hours`: up to `limit` appointments still OPEN
    whose end + `after_hours` has come by `now` move to `completion_target`, each as of
    its own `ends_at`, with source "system" and no user, through `change_statuses`
    (one transaction; each re-checked once locked, so one a person moved meanwhile is
    left alone). Returns those moved; none when the list has no such target."""
    target = completion_target(business_id)
    if target is None:
        return []
    due = Appointment.objects.for_business(business_id).due_for_completion(
        now, after_hours=after_hours
    )
    ids = list(due.values_list("pk", flat=True)[:limit])
    if not ids:
        return []
    return change_statuses(
        business_id,
        ids,
        Target(status_id=target.pk),
        at=F("ends_at"),
        source=ChangeSource.SYSTEM,
        still=due_for_completion(now, after_hours),
    )


def completion_target(business_id: int) -> Status | None:
    """The business's first active COMPLETED status (list order) that SPEC §14.3
    allows from OPEN, its `dependsOn` included; None when it has none."""
    candidates = Status.objects.for_business(business_id).filter(
        status=StatusName.COMPLETED, active=True
    )
    for status in candidates.in_list_order():
        if depends_on_allows(status.depends_on, StatusName.OPEN):
            return status
    return None


# --- the steps the writes share ------------------------------------------------


def locked(queryset, pk: int):
    """The row `pk` of the (business-scoped) queryset, locked FOR NO KEY UPDATE (its
    key never changes) until the transaction ends; NotFound when it is not there."""
    found = queryset.filter(pk=pk).select_for_update(no_key=True).first()
    if found is None:
        raise NotFound(f"No {queryset.model._meta.verbose_name} {pk} in this business.")
    return found


def ensure_editable(fields: dict[str, Any]) -> None:
    """A programming error, not a client's: callers pass validated ordinary fields."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")


def ensure_span(starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidValue("Must be after starts_at.", field="ends_at")
    if ends_at - starts_at > LONGEST:
        raise InvalidValue(
            "An appointment lasts at most 24 hours after its starts_at.", field="ends_at"
        )


def ensure_usable_resource(business_id: int, resource_id: int) -> None:
    """An active resource of the business; another business's is as unknown."""
    active = (
        Resource.objects.for_business(business_id)
        .filter(pk=resource_id)
        .values_list("active", flat=True)
        .first()
    )
    if active is None:
        raise InvalidValue(
            f"There is no resource {resource_id} in your business.", field="resource_id"
        )
    if not active:
        raise InvalidValue(
            f"Resource {resource_id} is retired (active: false): nothing new goes on it.",
            field="resource_id",
        )


def moment_of(at: dt.datetime | F | None, now: dt.datetime, appointment=None) -> dt.datetime:
    """The moment a status takes effect: `at` (not in the future), now, or for
    `F(name)` the appointment's own value of that field."""
    if isinstance(at, F):
        return getattr(appointment, at.name)
    if at is None:
        return now
    ensure_not_in_future(at, field="status_at")
    return at


def resolve_target(business_id: int, target: Target, *, by: "User") -> Status | None:
    """The status of the business's own list that `target` names, share-locked
    (Status.objects.locked_for_entry) until the transaction ends; None when there is
    none (`missing_target` says why).

    A shared status's id (what GET /status shows a business that has not forked)
    names the business's copy with the same names (SPEC §17). The business's own list
    is forked first when it has none (SPEC §14.5: its first appointment does).

    Writers take this lock before the appointments' (a change of the status, which
    locks it and then updates its appointments, takes them in the same order)."""
    status = find_target(business_id, target)
    if status is None:
        # Perhaps the list is not forked yet, or was forked by a concurrent first
        # appointment since the look-up (fork waits for that one's lock): look again.
        if not Status.objects.for_business(business_id).exists():
            StatusList.of(business_id).fork(by=by)
        status = find_target(business_id, target)
    return status


def missing_target(target: Target) -> DomainError:
    """The refusal when the list has no status `target` names: InvalidValue naming the
    field, or for the default a Conflict naming `status_id` (no active OPEN status)."""
    if target.status_id is not None:
        return InvalidValue(
            f"There is no status {target.status_id} in your business's list.", field="status_id"
        )
    if target.status is not None:
        return InvalidValue(
            f"Your business's list has no status {target.status} with sub-status "
            f"{target.sub_status!r}.",
            field="sub_status",
        )
    return Conflict(
        "Your business's list has no active OPEN status to start in: give status_id.",
        field="status_id",
    )


def find_target(business_id: int, target: Target) -> Status | None:
    """The business's own status `target` names, share-locked, or None. One statement
    for an own status's id; two otherwise (find it, then lock it)."""
    own = Status.objects.for_business(business_id)
    if target.status_id is not None:
        status = Status.objects.locked_for_entry(business_id, target.status_id)
        if status is None or not status.is_shared:
            return status
        found = own.named(business_id, status.status, status.sub_status)
    elif target.status is not None:
        found = own.named(business_id, target.status, target.sub_status)
    else:
        found = own.filter(status=StatusName.OPEN, active=True).in_list_order()
    status_id = found.values_list("pk", flat=True).first()
    if status_id is None:
        return None
    status = Status.objects.locked_for_entry(business_id, status_id)
    return status if status is not None and named_as(status, target) else None


def named_as(status: Status, target: Target) -> bool:
    """The locked status still is what the target named (it may have been renamed
    between the look-up and the lock)."""
    if target.status is None:
        return True
    return (status.status, status.sub_status) == (target.status, target.sub_status)


def ensure_may_enter(
    status: Status, *, current: str | None, moment: dt.datetime, starts_at: dt.datetime
) -> None:
    """SPEC §14.3's checks 1–4 for entering `status` from the top-level `current`
    (None: a new appointment), in order."""
    if not status.active:
        raise Conflict(
            f"{status} is inactive: appointments in it keep it, but none enters it.",
            field="status_id",
        )
    allowed = allowed_moves(current)
    if status.status not in allowed:
        names = ", ".join(in_display_order(allowed)) or "nothing"
        raise Conflict(
            f"An appointment in {current or 'no status yet'} may move to: {names}.",
            field="status",
        )
    if not depends_on_allows(status.depends_on, current):
        raise Conflict(
            f"{status} may be entered only from: {', '.join(status.depends_on)}.",
            field="dependsOn",
        )
    if status.status in NOT_BEFORE_START and moment < starts_at:
        raise Conflict(
            f"{status.status} cannot take effect before the appointment starts "
            f"({starts_at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}).",
            field="status_at",
        )


def ensure_time_free(appointment: Appointment, *, alongside: Sequence[Appointment] = ()) -> None:
    """TimeConflict when `appointment`, blocking time, would overlap another
    time-blocking appointment of its resource: one stored, or one of `alongside` (the
    rest of a batch, all moving into the same blocking status)."""
    batch = [other for other in alongside if other.pk != appointment.pk]
    conflicts = stored_conflicts(appointment, besides=[other.pk for other in batch])
    conflicts.update(
        other.pk
        for other in batch
        if other.resource_id is not None
        and other.resource_id == appointment.resource_id
        and other.starts_at < appointment.ends_at
        and appointment.starts_at < other.ends_at
    )
    if conflicts:
        raise TimeConflict(sorted(conflicts))


def raise_time_conflict_of(appointments: Sequence[Appointment], error: IntegrityError):
    """Re-raise `error`, as a TimeConflict naming the appointments now in the way when
    it is the exclusion constraint's (PostgreSQL, a concurrent writer won). Called
    once the transaction (or savepoint) has rolled back, so they can be read."""
    if getattr(error.__cause__, "sqlstate", None) != EXCLUSION_VIOLATION:
        raise error
    conflicts = set()
    for appointment in appointments:
        conflicts.update(stored_conflicts(appointment))
    raise TimeConflict(sorted(conflicts)) from error


def stored_conflicts(appointment: Appointment, *, besides: Collection[int] = ()) -> set[int]:
    """The ids of the stored appointments that `appointment`'s span on its resource
    would overlap if it blocks time (leaving out itself and `besides`)."""
    return set(
        Appointment.objects.conflicting_with(
            appointment.resource_id,
            appointment.starts_at,
            appointment.ends_at,
            excluding=[appointment.pk, *besides],
        ).values_list("pk", flat=True)
    )


def enter(appointment: Appointment, status: Status, moment: dt.datetime) -> None:
    """Put the (unsaved or locked) appointment in `status` as of `moment`."""
    appointment.status = status.status
    appointment.sub_status = status.sub_status
    appointment.list_status = status
    appointment.status_at = moment
    for name, value in outcome_stamps(status.status, moment).items():
        setattr(appointment, name, value)


def record_changes(
    moved: Sequence[tuple[Appointment, tuple[str, str, int] | None]],
    status: Status,
    moments: dt.datetime | Sequence[dt.datetime],
    *,
    by: "User",
    source: str,
    note: str | None,
) -> list[AppointmentStatusChange]:
    """One history entry per (appointment, its (status, sub-status, status id) before,
    or None for a new one), by one INSERT, in the order given; `moments` one for all or
    one each."""
    if isinstance(moments, dt.datetime):
        moments = [moments] * len(moved)
    now = timezone.now()
    return AppointmentStatusChange.objects.bulk_create(
        AppointmentStatusChange(
            appointment=appointment,
            business_id=appointment.business_id,
            from_status=previous[0] if previous else None,
            from_sub_status=previous[1] if previous else None,
            from_list_status_id=previous[2] if previous else None,
            to_status=status.status,
            to_sub_status=status.sub_status,
            to_list_status=status,
            status_at=moment,
            recorded_at=now,
            changed_by=username_of(by),
            source=source,
            note=note,
        )
        for (appointment, previous), moment in zip(moved, moments, strict=True)
    )


# --- what a change to a status of the list means for its appointments --------------


@receiver(status_changed, sender=Status)
def follow_status_change(status: Status, previous: Status, **kwargs) -> None:
    """StatusList.update's change of `status` (locked, saved; `previous` as it was),
    in its transaction: refused with a Conflict naming `status` when appointments are
    in it and its top-level status changes (it would change what they mean; their
    history keeps names, not meaning). A renamed sub-status is written to the
    appointments in it, each with `version` + 1 and an `appointment.updated` naming
    `sub_status`: one UPDATE, and their events written a chunk at a time."""
    in_it = Appointment.objects.filter(list_status=status)
    if status.status != previous.status and in_it.exists():
        raise Conflict(
            f"Appointments are in this status: its top-level status cannot change from "
            f"{previous.status} (it would change what they mean). Add a status instead.",
            field="status",
        )
    if status.sub_status == previous.sub_status:
        return
    now = timezone.now()
    if not in_it.update(sub_status=status.sub_status, updated_at=now, version=F("version") + 1):
        return
    renamed = in_it.order_by("pk").iterator(chunk_size=RENDERED_AT_ONCE)
    while chunk := list(itertools.islice(renamed, RENDERED_AT_ONCE)):
        Event.objects.write(appointments_updated(chunk, ["sub_status"]))
