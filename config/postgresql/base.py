"""Django's PostgreSQL backend, with a cheaper check of pooled connections and
psycopg's own timestamp parsing.

Django asks the pool to check every connection it hands out (`CONN_HEALTH_CHECKS`),
which costs each request a round trip to the server and the CPU to make it. Here a
connection is checked only when it sat unused for longer than
`OPTIONS["pool_check_idle"]` seconds. Under load connections go out again right after
coming back, and one that has just worked is almost certainly alive (HikariCP's
`aliveBypassWindowMs` rests on the same reasoning). One that died in between fails its
request, which answers 503 with Retry-After, and the pool discards it.

Django reads every `timestamptz` through its own loader, a Python subclass of
psycopg's pure-Python one, so each value is parsed by a regular expression in Python,
which a page of bookings (several timestamps each) pays for every row. When Django
wants UTC (USE_TZ with no database TIME_ZONE, as here) its loader only stamps
`datetime.timezone.utc` on what psycopg parsed in the session's time zone, which Django
sets to UTC on every connection; psycopg's own loader returns the same values with the
same tzinfo, and with psycopg[binary] it is written in C. Plain cursors use it;
server-side cursors keep Django's.

Upstream: Django ticket #36960, https://code.djangoproject.com/ticket/36960. A test
(tests/test_timestamp_loading.py) fails once Django's loader stops being the
pure-Python subclass: then this override goes if Django's own is as fast.
"""

import datetime as dt
import time
import weakref

from django.db.backends.postgresql import base
from psycopg import adapters
from psycopg.pq import Format
from psycopg_pool import ConnectionPool

# psycopg's default: its C implementation where psycopg[binary] or [c] is installed.
NATIVE_TIMESTAMPTZ_LOADER = adapters.get_loader(base.TIMESTAMPTZ_OID, Format.TEXT)

# When each pooled connection was last handed back to the pool.
_returned_at: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        params.pop("pool_check_idle", None)  # ours, not a libpq parameter
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        idle_seconds = self.settings_dict["OPTIONS"].get("pool_check_idle")
        if self.pool is None or idle_seconds is None:
            return connection
        # The pool hands out at most max_size dead connections in a row.
        for _ in range(self.pool.max_size):
            returned = _returned_at.get(connection)
            if returned is not None and time.monotonic() - returned < idle_seconds:
                return connection
            try:
                ConnectionPool.check_connection(connection)
                return connection
            except base.Database.Error:
                self.pool.putconn(connection)  # broken: the pool closes it
                connection = super().get_new_connection(conn_params)
        return connection

    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        if name is None and self.timezone is dt.UTC:
            cursor.adapters.register_loader(base.TIMESTAMPTZ_OID, NATIVE_TIMESTAMPTZ_LOADER)
        return cursor

    def _close(self):
        if self.pool is not None and self.connection is not None:
            _returned_at[self.connection] = time.monotonic()
        return super()._close()
