"""Django's PostgreSQL backend, with psycopg's own timestamp parsing.

Django reads every `timestamptz` through its own loader, a Python subclass of
psycopg's pure-Python one, so each value is parsed by a regular expression in Python,
which a page of bookings (several timestamps each) pays for every row. When Django
wants UTC (USE_TZ with no database TIME_ZONE, as here) its loader only stamps
`datetime.timezone.utc` on what psycopg parsed in the session's time zone, which Django
sets to UTC on every connection; psycopg's own loader returns the same values with the
same tzinfo, and with psycopg[binary] it is written in C. Plain cursors use it;
server-side cursors keep Django's. docs/benchmarks.md says what it is worth (it stays
while it is worth at least a tenth of an endpoint's CPU).

Upstream: Django ticket #36960, https://code.djangoproject.com/ticket/36960.
"""

import datetime as dt

from django.db.backends.postgresql import base
from psycopg import adapters
from psycopg.pq import Format

# psycopg's default: its C implementation where psycopg[binary] or [c] is installed.
NATIVE_TIMESTAMPTZ_LOADER = adapters.get_loader(base.TIMESTAMPTZ_OID, Format.TEXT)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        if name is None and self.timezone is dt.UTC:
            cursor.adapters.register_loader(base.TIMESTAMPTZ_OID, NATIVE_TIMESTAMPTZ_LOADER)
        return cursor
