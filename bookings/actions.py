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
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Business, time_zone
from bookings import events
from bookings.models import (
    BIGINT_RANGE,
    EDITABLE_FIELDS,
    NEXT_VERSION,
    Booking,
    BookingStatusChange,
)
from bookings.stamping import (
    BookingStatus,
    ensure_known_status,
    status_moment,
    status_stamp,
)
from core.conditional import ensure_version
from core.errors import NotFound
from core.models import ChangeSource
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


def business_zone(business_id: int, *, lock: bool = False) -> dt.tzinfo:
    """The business's time zone, read now. A status change reads it after taking its
    bookings' locks, so that a zone change committed meanwhile is seen, and a zone
    change waits for a status change that holds one of them (SPEC §13). A new booking
    has no row a zone change would lock: with `lock`, its create takes the business's
    row (FOR NO KEY UPDATE, as a zone change does) so that the two cannot interleave."""
    businesses = Business.objects.filter(pk=business_id)
    if lock:
        businesses = businesses.select_for_update(no_key=True)
    return time_zone(businesses.values_list("timezone", flat=True).get())


def ensure_editable(fields: dict[str, Any]) -> None:
    """A programming error, not a client's: callers pass validated ordinary fields."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")


def lock_bookings(business_id: int, ids: Iterable[int]) -> dict[int, Booking]:
    """The bookings `ids` of the business, locked in ascending id and read under the
    lock, by id; BookingsNotFound listing (in the order given) those not there."""
    ids = list(ids)
    # An id past the id range names no booking (and would overflow the parameter).
    candidates = [pk for pk in ids if pk in BIGINT_RANGE]
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
    by: "User" = None,
    source: str = ChangeSource.API,
) -> Booking:
    """Create a booking of the business from its ordinary `fields` (EDITABLE_FIELDS). It
    starts as lead; with a `status` it is inserted already stamped as a change would
    stamp it (at `at`, else the start of the day `on` in the business's zone, else now)
    and a history entry from lead is recorded: one write, whose `booking.created` and
    then `booking.status_changed` both carry the final booking (SPEC §13). Raises
    InvalidValue (naming the field) and writes nothing when `ends_at` is before
    `starts_at`, or the status or moment is refused."""
    ensure_editable(fields)
    booking = Booking(business_id=business_id, **fields)
    booking.ensure_ends_not_before_starts()
    if status is not None:
        ensure_known_status(status)
    with transaction.atomic():
        if status is not None:
            zone = business_zone(business_id, lock=True)
            moment = status_moment(at, on, zone) or timezone.now()
            for name, value in status_stamp(status, moment, zone).items():
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
    """Edit the booking's ordinary fields (PATCH, the admin's change form): compare
    `fields` with the stored values under the lock and save exactly those that differ,
    with `updated_at` and the version, and write `booking.updated` naming them (in the
    order of EDITABLE_FIELDS). Returns the booking as stored and those names. When no
    stored value changes it writes nothing (SPEC §13). Raises NotFound, then
    InvalidValue (naming `ends_at`) when it would end before it starts, then
    StaleVersion; nothing is written then."""
    ensure_editable(fields)
    with transaction.atomic():
        booking = lock_booking(business_id, pk)
        changed = [
            name
            for name in EDITABLE_FIELDS
            if name in fields and fields[name] != getattr(booking, name)
        ]
        for name in changed:
            setattr(booking, name, fields[name])
        booking.ensure_ends_not_before_starts()
        ensure_version(booking.version, expected_versions)
        if not changed:
            return booking, []
        booking.updated_at = timezone.now()
        booking.version += 1
        booking.save(update_fields=[*changed, "updated_at", "version"])
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
    by: "User" = None,
    source: str = ChangeSource.API,
    expected_versions: Collection[int] | None = None,
) -> list[tuple[Booking, BookingStatusChange]]:
    """Change the status of the bookings `ids` (distinct) of the business, all or
    nothing (SPEC §3, §10): each gets `status`, its own `<status>_at`/`<status>_date`
    stamped with the one moment (`at`, else the start of the day `on` in the business's
    zone, else now, taken once), the other statuses' dates kept (leaving lost clears
    `lost_*`), its version bumped, one history entry and one `booking.status_changed`,
    written in ascending id. Returns (booking, entry) pairs in the order of `ids`.

    Raises BookingsNotFound listing the ids not in the business, then InvalidValue
    (naming the field) for an unknown status or a refused moment, then StaleVersion
    when `expected_versions` is given and a locked booking's version is not among them;
    nothing is written then."""
    ensure_known_status(status)
    with transaction.atomic():
        locked = lock_bookings(business_id, ids)
        zone = business_zone(business_id)
        moment = status_moment(at, on, zone) or timezone.now()
        for booking in locked.values():
            ensure_version(booking.version, expected_versions)
        changes = apply_status_change(
            list(locked.values()), status, lambda _booking: moment, zone, by=by, source=source
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
    moment_of: Callable[[Booking], dt.datetime],
    zone: dt.tzinfo,
    *,
    by: "User",
    source: str,
) -> list[tuple[Booking, BookingStatusChange]]:
    """The one implementation of a status change, for `bookings` (of one business,
    locked and read under the lock by the caller, in ascending id) that move to
    `status`, each at `moment_of(booking)`, in the business's `zone`: stamps them
    (status_stamp), saves them, and writes their history entries and events, in that
    order. Returns (booking, entry) pairs in the order given."""
    now = timezone.now()
    previous = [booking.status for booking in bookings]
    stamps = [status_stamp(status, moment_of(booking), zone) for booking in bookings]
    for booking, stamp in zip(bookings, stamps, strict=True):
        for name, value in stamp.items():
            setattr(booking, name, value)
        booking.updated_at = now
        booking.version += 1
    save_stamps(bookings, stamps, now)
    changes = BookingStatusChange.objects.bulk_create(
        BookingStatusChange.of(
            booking=booking,
            from_status=from_status,
            status_at=moment_of(booking),
            by=by,
            source=source,
        )
        for booking, from_status in zip(bookings, previous, strict=True)
    )
    Event.objects.write(
        events.status_changed(booking, change)
        for booking, change in zip(bookings, changes, strict=True)
    )
    return list(zip(bookings, changes, strict=True))


def save_stamps(bookings: list[Booking], stamps: list[dict[str, Any]], now: dt.datetime) -> None:
    """Write the stamps the bookings were just given: one UPDATE when they all got the
    same (one moment for all: the API's changes), else one UPDATE setting each its own
    (Django's bulk_update: e.g. holds expiring, each at its own moment)."""
    first = stamps[0]
    if all(stamp == first for stamp in stamps):
        Booking.objects.filter(pk__in=[booking.pk for booking in bookings]).update(
            **first, updated_at=now, version=NEXT_VERSION
        )
        return
    names = sorted({name for stamp in stamps for name in stamp})
    Booking.objects.bulk_update(bookings, [*names, "updated_at", "version"])


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
