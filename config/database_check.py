"""Says plainly why the configured database cannot be used, before a command needs it.

Behind Django's connection pool, a server that is down or a database that does not
exist both surface as "couldn't get a connection after 2.00 sec" with a traceback.
manage.py asks `database_problem()` instead, which opens one connection directly,
outside the pool, so the server's own reason (connection refused, database does not
exist, password rejected) reaches the user with what to do about it.
"""

from django.db import DEFAULT_DB_ALIAS, Error, connections


def database_problem(alias: str = DEFAULT_DB_ALIAS) -> str | None:
    """None when the database can be opened, else a few lines saying which one failed,
    why, and what to do."""
    connection = connections[alias]
    if connection.vendor == "postgresql":
        return postgresql_problem(connection)
    try:
        connection.ensure_connection()
    except Error as error:
        return (
            f"Cannot open the {connection.display_name} database {connection.settings_dict['NAME']}"
            f": {error}.\nIts directory must exist and be writable; DATABASE_URL chooses "
            "another."
        )
    return None


def postgresql_problem(connection) -> str | None:
    import psycopg

    params = connection.get_connection_params()
    name, user = params.get("dbname"), params.get("user") or "postgres"
    host, port = params.get("host") or "localhost", params.get("port") or 5432
    where = f'PostgreSQL database "{name}" at {host}:{port} as user {user}'
    try:
        psycopg.connect(**params).close()
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        if "does not exist" in reason:
            advice = (
                f"The server answers but has no such database: create it with\n"
                f"  createdb -h {host} -p {port} -U {user} {name}\n"
                "(scripts/postgres.sh start creates the one it prints), or point "
                "DATABASE_URL at one that exists."
            )
        else:
            advice = (
                "Check that the server is running and reachable (scripts/postgres.sh start "
                "DATADIR PORT starts a local one), and that DATABASE_URL names the right "
                "host, port, user and password."
            )
        return f"Cannot connect to the {where}:\n  {reason}\n{advice}"
    return None
