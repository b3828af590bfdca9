"""What the status list's top-level statuses mean for an appointment (SPEC §14.3, §14.4):
which moves are allowed, which statuses block time, and what entering one stamps.

Pure tables and functions over top-level status names; the write paths
(appointments/actions.py), the admin's forms and the scheduler's target all read them
here, so each rule is stated once."""

import datetime as dt
from collections.abc import Iterable

from statuses.models import StatusName

PENDING = (StatusName.PENDING, StatusName.PENDING_CONFIRMATION, StatusName.PENDING_WAITLIST)
READ_ONLY = (StatusName.READ_ONLY, StatusName.READ_ONLY_FREE)

# From each top-level status, the top-level statuses an appointment may move to (SPEC
# §14.3). A move within one top-level status changes the sub-status, or re-stamps the
# moment (a correction). READ_ONLY and READ_ONLY_FREE are entered only on create (a
# block synced from another calendar); DELETED is final.
MOVES: dict[str, frozenset[str]] = {
    **{
        pending: frozenset({*PENDING, StatusName.OPEN, StatusName.CANCELLED, StatusName.DELETED})
        for pending in PENDING
    },
    StatusName.OPEN: frozenset(
        {
            StatusName.OPEN,
            *PENDING,
            StatusName.COMPLETED,
            StatusName.NO_SHOW,
            StatusName.CANCELLED,
            StatusName.DELETED,
        }
    ),
    StatusName.NO_SHOW: frozenset(
        {
            StatusName.NO_SHOW,
            StatusName.OPEN,
            StatusName.COMPLETED,
            StatusName.CANCELLED,
            StatusName.DELETED,
        }
    ),
    StatusName.COMPLETED: frozenset({StatusName.COMPLETED, StatusName.OPEN, StatusName.DELETED}),
    StatusName.CANCELLED: frozenset(
        {StatusName.CANCELLED, StatusName.OPEN, *PENDING, StatusName.DELETED}
    ),
    **{read_only: frozenset({*READ_ONLY, StatusName.DELETED}) for read_only in READ_ONLY},
    StatusName.DELETED: frozenset(),
}
# A new appointment (no status yet) may start in any top-level status but DELETED.
ON_CREATE = frozenset(StatusName.values) - {StatusName.DELETED}

# Statuses whose appointments hold their resource's time (SPEC §14.4); the others free it.
BLOCKING = frozenset(
    {
        StatusName.PENDING,
        StatusName.PENDING_CONFIRMATION,
        StatusName.OPEN,
        StatusName.READ_ONLY,
        StatusName.COMPLETED,
    }
)
# The outcomes, each stamped with its moment on entry (`<field>`), and cleared when the
# appointment is re-opened (entering OPEN or a pending status).
OUTCOME_STAMPS = {
    StatusName.COMPLETED: "completed_at",
    StatusName.NO_SHOW: "no_show_at",
    StatusName.CANCELLED: "cancelled_at",
}
CLEARS_OUTCOMES = frozenset({StatusName.OPEN, *PENDING})
# An outcome that says what happened at the appointment cannot precede its start.
NOT_BEFORE_START = frozenset({StatusName.COMPLETED, StatusName.NO_SHOW})
# The longest an appointment may last.
LONGEST = dt.timedelta(hours=24)


def allowed_moves(current: str | None) -> frozenset[str]:
    """The top-level statuses an appointment in `current` may move to (None: a new one)."""
    return ON_CREATE if current is None else MOVES[current]


def depends_on_allows(depends_on: Iterable[str] | None, current: str | None) -> bool:
    """Whether a status with this `dependsOn` may be entered from `current`: null
    restricts nothing, and a new appointment has no current status to depend on."""
    return depends_on is None or current is None or current in depends_on


def blocks_time(status: str) -> bool:
    return status in BLOCKING


def in_display_order(statuses: Iterable[str]) -> list[str]:
    """Top-level names in the order the status list declares them."""
    chosen = set(statuses)
    return [name for name in StatusName.values if name in chosen]


def outcome_stamps(status: str, moment: dt.datetime) -> dict[str, dt.datetime | None]:
    """The outcome fields a move into `status` at `moment` sets: its own stamp, or all
    three cleared on a re-open; other moves keep them (an empty dict)."""
    if status in OUTCOME_STAMPS:
        return {OUTCOME_STAMPS[status]: moment}
    if status in CLEARS_OUTCOMES:
        return dict.fromkeys(OUTCOME_STAMPS.values())
    return {}
