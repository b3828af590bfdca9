"""The rule every status change's moment follows, whatever it changes (a booking, an
appointment): it takes effect now or earlier."""

import datetime as dt

from django.utils import timezone

from core.errors import InvalidValue

# A client's clock may run a little ahead of ours; beyond this a moment is refused.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


def ensure_not_in_future(moment: dt.datetime, *, field: str = "status_at") -> None:
    """InvalidValue naming `field` when `moment` is more than FUTURE_TOLERANCE ahead of
    the server's clock."""
    if moment > timezone.now() + FUTURE_TOLERANCE:
        raise InvalidValue(
            "The moment is in the future; a status can only be changed as of now or earlier.",
            field=field,
        )


def local_day_bounds(day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The instants (UTC) a local day of `zone` runs between, the end excluded: 24 hours
    apart, or 23 or 25 on a day a DST change shortens or lengthens. Where a change skips
    midnight, the day starts at the first instant after the gap."""

    def start(of: dt.date) -> dt.datetime:
        return dt.datetime.combine(of, dt.time(), tzinfo=zone).astimezone(dt.UTC)

    return start(day), start(day + dt.timedelta(days=1))
