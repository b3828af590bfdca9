"""Every write to a booking, one home each (the shape of saleor's order/actions.py and
zulip's zerver/actions/): create, edit, change status, delete.

Each is one transaction that locks the bookings first (in ascending id: the order
every writer of several bookings takes, so none deadlocks), re-reads them under the
lock, writes through the ORM, and records the history entries and the events in the
same transaction, so a change that fails or rolls back leaves nothing behind and a
committed one always has its history and events (SPEC §8.1). A single booking's change
is a bulk change of one. Checks run in the contract's order (SPEC §13): not in the
business (404), then the body (400), then If-Match (412); a refusal writes nothing.

The API, the admin, the commands and the scheduler all write through here; the model's
`change_status`, `edit` and `delete` are delegators to these functions.
"""

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import transaction
from django.utils import timezone

from accounts.models import Business, time_zone
from bookings import events
from bookings.lost_reasons import reason_for_change
from bookings.models import (
    EDITABLE_FIELDS,
    HOLD_FIELD,
    NEXT_VERSION,
    Booking,
    BookingStatusChange,
    LostReason,
)
from bookings.stamping import (
    KEEP_HOLD,
    BookingStatus,
    ChangeDetails,
    Hold,
    ensure_hold_fits,
    ensure_known_status,
    status_moment,
)
from core.conditional import ensure_version
from core.errors import InvalidValue, NotFound
from core.models import ID_RANGE, ChangeSource
from events.models import Event

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser | str | None

# The most bookings one bulk status change takes (SPEC §10).
BULK_CHANGE_LIMIT = 500


class BookingsNotFound(NotFound):
    """Some bookings of a bulk write are not in the business: `ids`, in request order."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__("No booking has these ids in this business.")
        self.ids = ids

    def as_dict(self) -> dict:
        return {"detail": self.message, "ids": self.ids}


class BusinessRules(NamedTuple):
    """What a status change reads of its business: its zone and its settings."""

    zone: dt.tzinfo
    require_lost_reason: bool


def business_rules(business_id: int, *, lock: bool = False) -> BusinessRules:
    """The business's zone and `require_lost_reason`, read now (one query). A status
    change reads them after taking its bookings' locks, so that a zone change committed
    meanwhile is seen, and a zone change waits for a status change that holds one of
    them (SPEC §13). A new booking has no row a zone change would lock: with `lock`,
    its create takes the business's row (FOR NO KEY UPDATE, as a zone change does) so
    that the two cannot interleave."""
    businesses = Business.objects.filter(pk=business_id)
    if lock:
        businesses = businesses.select_for_update(no_key=True)
    name, require_lost_reason = businesses.values_list("timezone", "require_lost_reason").get()
    return BusinessRules(time_zone(name), require_lost_reason)


def ensure_details_fit(
    status: str | None,
    *,
    lost_reason_id: int | None,
    lost_note: str | None,
    hold_until: dt.datetime | None | Hold,
) -> None:
    """A reason and a note go with lost, a hold with tentative: any of them with
    another status is an InvalidValue naming it."""
    if status != BookingStatus.LOST:
        for name, value in (("lost_reason_id", lost_reason_id), ("lost_note", lost_note)):
            if value is not None:
                raise InvalidValue(f"Only a change to lost takes a {name}.", field=name)
    if status != BookingStatus.TENTATIVE and hold_until is not KEEP_HOLD:
        raise InvalidValue("Only a change to tentative takes a hold_until.", field=HOLD_FIELD)


def change_details(
    business_id: int,
    status: str,
    moment: dt.datetime,
    rules: BusinessRules,
    *,
    lost_reason_id: int | None,
    lost_note: str | None,
    hold_until: dt.datetime | None | Hold,
) -> ChangeDetails:
    """What a change to `status` at `moment` stamps besides the status, checked: the
    reason `lost_reason_id` (an active reason of the business's list, required when the
    business requires one) and `lost_note` for lost, `hold_until` (after the moment)
    for tentative. InvalidValue naming the field otherwise."""
    reason = None
    if status == BookingStatus.LOST:
        if lost_reason_id is not None:
            reason = reason_for_change(business_id, lost_reason_id).record()
        elif rules.require_lost_reason:
            raise InvalidValue(
                "Your business requires a reason for every lost booking: send a "
                "lost_reason_id (GET /v2/lost_reasons lists them).",
                field="lost_reason_id",
            )
    if isinstance(hold_until, dt.datetime):
        ensure_hold_fits(hold_until, after=moment)
    return ChangeDetails(
        moment, rules.zone, lost_reason=reason, lost_note=lost_note or None, hold_until=hold_until
    )


def ensure_editable(fields: dict[str, Any]) -> None:
    """A programming error, not a client's: callers pass validated ordinary fields."""
    unknown = set(fields) - {*EDITABLE_FIELDS, HOLD_FIELD}
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")


def lock_bookings(business_id: int, ids: Iterable[int]) -> dict[int, Booking]:
    """The bookings `ids` of the business, locked in ascending id and read under the
    lock, by id; BookingsNotFound listing (in the order given) those not there."""
    ids = list(ids)
    # An id past the id range names no booking (and would overflow the parameter).
    candidates = [pk for pk in ids if pk in ID_RANGE]
    locked = {
        booking.pk: booking
        for booking in Booking.objects.for_business(business_id).filter(pk__in=candidates).locked()
    }
    missing = [pk for pk in ids if pk not in locked]
    if missing:
        raise BookingsNotFound(missing)
    return locked


def lock_booking(business_id: int, pk: int) -> Booking:
    """`lock_bookings` of one: NotFound when it is not there."""
    try:
        [booking] = lock_bookings(business_id, [pk]).values()
    except BookingsNotFound:
        raise NotFound(f"No booking {pk} in business {business_id}.") from None
    return booking


# --- create -------------------------------------------------------------------------


def create_booking(
    business_id: int,
    fields: dict[str, Any],
    *,
    status: str | None = None,
    at: dt.datetime | None = None,
    on: dt.date | None = None,
    lost_reason_id: int | None = None,
    lost_note: str | None = None,
    hold_until: dt.datetime | None | Hold = KEEP_HOLD,
    by: "User" = None,
    source: str = ChangeSource.API,
) -> Booking:
    """Create a booking of the business from its ordinary `fields` (EDITABLE_FIELDS). It
    starts as lead; with a `status` it is inserted already stamped as a change would
    stamp it (at `at`, else the start of the day `on` in the business's zone, else now;
    with the reason, note or hold a change takes) and a history entry from lead is
    recorded: one write, whose `booking.created` and then `booking.status_changed` both
    carry the final booking (SPEC §13). Raises InvalidValue (naming the field) and
    writes nothing when `ends_at` is before `starts_at`, or the status, moment, reason
    or hold is refused."""
    ensure_editable(fields)
    booking = Booking(business_id=business_id, **fields)
    booking.ensure_ends_not_before_starts()
    asked = {"lost_reason_id": lost_reason_id, "lost_note": lost_note, "hold_until": hold_until}
    if status is not None:
        ensure_known_status(status)
        ensure_details_fit(status, **asked)
    with transaction.atomic():
        if status is not None:
            rules = business_rules(business_id, lock=True)
            moment = status_moment(at, on, rules.zone) or timezone.now()
            details = change_details(business_id, status, moment, rules, **asked)
            for name, value in details.stamp(status, booking).items():
                setattr(booking, name, value)
        booking.updated_at = booking.created_at
        booking.save(force_insert=True)
        written = [events.created(booking)]
        if status is not None:
            [change] = BookingStatusChange.objects.bulk_create(
                [
                    BookingStatusChange.of(
                        booking=booking,
                        from_status=BookingStatus.LEAD,
                        status_at=moment,
                        by=by,
                        source=source,
                    )
                ]
            )
            written.append(events.status_changed(booking, change))
        Event.objects.write(written)
    return booking


# --- edit ---------------------------------------------------------------------------


def edit_booking(
    business_id: int,
    pk: int,
    fields: dict[str, Any],
    *,
    expected_versions: Collection[int] | None = None,
) -> tuple[Booking, list[str]]:
    """Edit the booking's ordinary fields (PATCH, the admin's change form), and its
    `hold_until` while it is tentative (PATCH): compare `fields` with the stored values
    under the lock and save exactly those that differ, with `updated_at` and the
    version, and write `booking.updated` naming them (in the order of EDITABLE_FIELDS,
    then hold_until). A new hold re-arms its reminder. Returns the booking as stored and
    those names. When no stored value changes it writes nothing (SPEC §13).

    Raises NotFound; then InvalidValue naming `ends_at` when it would end before it
    starts; Conflict naming `hold_until` when the booking is not tentative; InvalidValue
    naming `hold_until` when the hold would not end after `tentative_at` or would run
    past LONGEST_HOLD; then StaleVersion. Nothing is written then."""
    ensure_editable(fields)
    with transaction.atomic():
        booking = lock_booking(business_id, pk)
        changed = [
            name
            for name in (*EDITABLE_FIELDS, HOLD_FIELD)
            if name in fields and fields[name] != getattr(booking, name)
        ]
        for name in changed:
            setattr(booking, name, fields[name])
        booking.ensure_ends_not_before_starts()
        if HOLD_FIELD in fields:
            booking.ensure_hold_editable()
        ensure_version(booking.version, expected_versions)
        if not changed:
            return booking, []
        saved = [*changed, "updated_at", "version"]
        if HOLD_FIELD in changed:
            booking.hold_reminded_at = None
            saved.append("hold_reminded_at")
        booking.updated_at = timezone.now()
        booking.version += 1
        booking.save(update_fields=saved)
        Event.objects.write([events.updated(booking, changed)])
    return booking, changed


# --- change status --------------------------------------------------------------------


def change_statuses(
    business_id: int,
    ids: list[int],
    status: str,
    *,
    at: dt.datetime | None = None,
    on: dt.date | None = None,
    lost_reason_id: int | None = None,
    lost_note: str | None = None,
    hold_until: dt.datetime | None | Hold = KEEP_HOLD,
    by: "User" = None,
    source: str = ChangeSource.API,
    expected_versions: Collection[int] | None = None,
) -> list[tuple[Booking, BookingStatusChange]]:
    """Change the status of the bookings `ids` (distinct) of the business, all or
    nothing (SPEC §3, §10, §15): each gets `status`, its own `<status>_at`/
    `<status>_date` stamped with the one moment (`at`, else the start of the day `on`
    in the business's zone, else now, taken once), the other statuses' dates kept,
    what `status_stamp` sets and clears (for lost the reason `lost_reason_id` as
    recorded now and `lost_note`; for tentative `hold_until`, or the hold kept), its
    version bumped, one history entry and one `booking.status_changed`, written in
    ascending id. Returns (booking, entry) pairs in the order of `ids`.

    Raises BookingsNotFound listing the ids not in the business, then InvalidValue
    (naming the field) for an unknown status, a refused moment, a reason or hold that
    does not go with the status or is not one the business may record, then
    StaleVersion when `expected_versions` is given and a locked booking's version is
    not among them; nothing is written then."""
    asked = {"lost_reason_id": lost_reason_id, "lost_note": lost_note, "hold_until": hold_until}
    ensure_known_status(status)
    ensure_details_fit(status, **asked)
    with transaction.atomic():
        locked = lock_bookings(business_id, ids)
        rules = business_rules(business_id)
        moment = status_moment(at, on, rules.zone) or timezone.now()
        details = change_details(business_id, status, moment, rules, **asked)
        for booking in locked.values():
            ensure_version(booking.version, expected_versions)
        changes = apply_status_change(
            list(locked.values()), status, lambda _booking: details, by=by, source=source
        )
    by_pk = {booking.pk: (booking, change) for booking, change in changes}
    return [by_pk[pk] for pk in ids]


def change_status(
    business_id: int, pk: int, status: str, **change: Any
) -> tuple[Booking, BookingStatusChange]:
    """`change_statuses` of one booking (its keyword arguments); NotFound when the
    booking is not in the business."""
    try:
        [changed] = change_statuses(business_id, [pk], status, **change)
    except BookingsNotFound:
        raise NotFound(f"No booking {pk} in business {business_id}.") from None
    return changed


def apply_status_change(
    bookings: list[Booking],
    status: str,
    details_of: Callable[[Booking], ChangeDetails],
    *,
    by: "User",
    source: str,
) -> list[tuple[Booking, BookingStatusChange]]:
    """The one implementation of a status change, for `bookings` (locked and read under
    the lock by the caller, in ascending id) that move to `status`, each with
    `details_of(booking)` (its moment, its business's zone, a reason or a hold):
    stamps them (status_stamp), saves them, and writes their history entries and
    events, in that order. Returns (booking, entry) pairs in the order given."""
    now = timezone.now()
    previous = [booking.status for booking in bookings]
    details = [details_of(booking) for booking in bookings]
    pairs = list(zip(bookings, details, strict=True))
    moments = [detail.moment_of(booking) for booking, detail in pairs]
    stamps = [detail.stamp(status, booking) for booking, detail in pairs]
    for booking, stamp in zip(bookings, stamps, strict=True):
        for name, value in stamp.items():
            setattr(booking, name, value)
        booking.updated_at = now
        booking.version += 1
    save_stamps(bookings, status, details, stamps, now)
    changes = BookingStatusChange.objects.bulk_create(
        BookingStatusChange.of(
            booking=booking, from_status=from_status, status_at=moment, by=by, source=source
        )
        for booking, from_status, moment in zip(bookings, previous, moments, strict=True)
    )
    Event.objects.write(
        events.status_changed(booking, change)
        for booking, change in zip(bookings, changes, strict=True)
    )
    return list(zip(bookings, changes, strict=True))


def save_stamps(
    bookings: list[Booking],
    status: str,
    details: list[ChangeDetails],
    stamps: list[dict[str, Any]],
    now: dt.datetime,
) -> None:
    """Write the stamps the bookings were just given: one UPDATE when they all got the
    same (one moment for all: the API's changes); one UPDATE per details shared when
    each booking's moment is its own column, stated in SQL (the scheduler's expiry:
    each hold at its `hold_until`, in its business's zone); else one UPDATE setting
    each its own (Django's bulk_update)."""
    if all(detail.moment_field for detail in details):
        shared: dict[int, tuple[ChangeDetails, list[int]]] = {}
        for booking, detail in zip(bookings, details, strict=True):
            shared.setdefault(id(detail), (detail, []))[1].append(booking.pk)
        for detail, pks in shared.values():
            Booking.objects.filter(pk__in=pks).update(
                **detail.sql_stamp(status), updated_at=now, version=NEXT_VERSION
            )
        return
    first = stamps[0]
    if all(stamp == first for stamp in stamps):
        Booking.objects.filter(pk__in=[booking.pk for booking in bookings]).update(
            **first, updated_at=now, version=NEXT_VERSION
        )
        return
    names = sorted({name for stamp in stamps for name in stamp})
    Booking.objects.bulk_update(bookings, [*names, "updated_at", "version"])


# --- what time does to holds (SPEC §16) -------------------------------------------------
# The scheduler finds the due bookings (BookingQuerySet.holds_lapsed,
# holds_due_for_reminder), locks a batch of them in its own transaction, and moves them
# here. Each is re-checked on its locked row first: a change a person made meanwhile
# wins.


def expire_holds(bookings: list[Booking], now: dt.datetime) -> list[Booking]:
    """Move the locked `bookings` whose hold has lapsed by `now` to lost, through the one
    status change: the moment each hold's `hold_until`, the reason its business's
    `hold_expired` (its own list's, else the shared one), in its business's zone,
    source `system`, changed_by null (history, event, version, as any change). The
    others (confirmed meanwhile, their hold moved) are left alone. Returns those
    expired."""
    lapsed = [booking for booking in bookings if booking.hold_lapsed(now)]
    if not lapsed:
        return []
    reasons = LostReason.objects.system_reasons({booking.business_id for booking in lapsed})
    # One set of details per reason: the bookings that share it are written together.
    expiries = {
        reason.pk: ChangeDetails(None, None, lost_reason=reason.record(), moment_field=HOLD_FIELD)
        for reason in reasons.values()
    }
    apply_status_change(
        sorted(lapsed, key=lambda booking: booking.pk),
        BookingStatus.LOST,
        lambda booking: expiries[reasons[booking.business_id].pk],
        by=None,
        source=ChangeSource.SYSTEM,
    )
    return lapsed


def remind_holds(bookings: list[Booking], now: dt.datetime) -> list[Booking]:
    """Send the reminder of each locked booking of `bookings` whose hold is due for one
    at `now` (and has not lapsed): one `booking.hold_expiring` with the booking as it
    is, and its `hold_reminded_at` noted. Bookkeeping, not an edit: no version bump,
    no `booking.updated` (SPEC §17). Returns those reminded."""
    due = [booking for booking in bookings if booking.hold_reminder_due(now)]
    if not due:
        return []
    Booking.objects.filter(pk__in=[booking.pk for booking in due]).update(hold_reminded_at=now)
    for booking in due:
        booking.hold_reminded_at = now
    Event.objects.write(events.hold_expiring(booking) for booking in due)
    return due


# --- delete ---------------------------------------------------------------------------


def delete_bookings(
    business_id: int, ids: list[int], *, expected_versions: Collection[int] | None = None
) -> list[Booking]:
    """Delete the bookings `ids` of the business with their history, each with its
    `booking.deleted` carrying it as it was just before (read under the lock), in one
    transaction. Raises BookingsNotFound, then StaleVersion; nothing is deleted then.
    Returns the bookings as they were, in the order of `ids`."""
    with transaction.atomic():
        locked = lock_bookings(business_id, ids)
        for booking in locked.values():
            ensure_version(booking.version, expected_versions)
        Event.objects.write(events.deleted(booking) for booking in locked.values())
        for booking in locked.values():
            booking.delete_row()
    return [locked[pk] for pk in ids]


def delete_booking(
    business_id: int, pk: int, *, expected_versions: Collection[int] | None = None
) -> Booking:
    """`delete_bookings` of one: NotFound when the booking is not in the business."""
    try:
        [booking] = delete_bookings(business_id, [pk], expected_versions=expected_versions)
    except BookingsNotFound:
        raise NotFound(f"No booking {pk} in business {business_id}.") from None
    return booking
