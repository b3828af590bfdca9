"""The database reached without a transaction-mode pooler in between (PgBouncer), for
the work that needs one server session throughout: migrations (a `SET lock_timeout`,
non-atomic migrations spanning several transactions) and LISTEN, whose notifications go
to the session that listened.

`settings.DATABASE_DIRECT` (from DATABASE_DIRECT_URL) gives the host, port, user and
password; the database's name stays the connection's own, so that the test runner's
`test_` database is reached directly too. Unset, the direct connection is the usual one.
"""

import contextlib
from collections.abc import Iterator

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper


def direct_settings(connection: BaseDatabaseWrapper) -> dict:
    """The connection's settings with the direct address, and no pool: Django keeps one
    pool per alias, opened on the usual address."""
    options = {
        name: value for name, value in connection.settings_dict["OPTIONS"].items() if name != "pool"
    }
    return {**connection.settings_dict, **settings.DATABASE_DIRECT, "OPTIONS": options}


def direct_connection_params(connection: BaseDatabaseWrapper) -> dict:
    """What psycopg.connect() takes to open a session directly on the connection's
    database."""
    wrapper_class = type(connections[connection.alias])  # `connection` may be Django's proxy
    direct = wrapper_class(direct_settings(connection), connection.alias)
    params = direct.get_connection_params()
    params.pop("cursor_factory", None)
    return params


@contextlib.contextmanager
def connected_directly(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Within the block, `connection` opens its session directly (when a direct address
    is configured); after it, it is back on its usual address and pool."""
    if not settings.DATABASE_DIRECT or connection.vendor != "postgresql":
        yield
        return
    usual = connection.settings_dict
    connection.close()
    connection.settings_dict = direct_settings(connection)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict = usual
