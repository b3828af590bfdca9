"""The rule every status change's moment follows, whatever it changes (a booking, an
appointment): it takes effect now or earlier."""

import datetime as dt
import re

from django.utils import timezone

from core.errors import InvalidValue
from core.models import EARLIEST_MOMENT

# A client's clock may run a little ahead of ours; beyond this a moment is refused.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
# The dates a query parameter may name. Outside them a day has no first instant in
# every zone (Python's datetimes end at the year 9999), and no record is dated there.
EARLIEST_DATE, LATEST_DATE = EARLIEST_MOMENT.date(), dt.date(9998, 12, 31)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DateOutOfRange(ValueError):
    """A real calendar date outside EARLIEST_DATE to LATEST_DATE."""


def iso_date(text: str) -> dt.date:
    """`text` as a date when it is exactly `YYYY-MM-DD` (Python's fromisoformat would
    also take `20250304`), a real calendar date from EARLIEST_DATE to LATEST_DATE.
    ValueError otherwise; DateOutOfRange, one, for a date outside the range."""
    if not ISO_DATE.fullmatch(text):
        raise ValueError(f"Not YYYY-MM-DD: {text!r}")
    day = dt.date.fromisoformat(text)
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise DateOutOfRange(f"Not from {EARLIEST_DATE} to {LATEST_DATE}: {text!r}")
    return day


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
