"""A database that is down, missing or unopenable is reported plainly at start-up:
which one, why, what to do; exit status 1 and no traceback."""

import pytest
from django.db import connection

from tests.test_settings import manage


def assert_reported_plainly(result, *expected: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr


@pytest.mark.parametrize(
    "command", [("migrate",), ("create_api_token", "--business", "1", "--username", "joe")]
)
def test_a_postgresql_server_that_does_not_answer_is_named_with_what_to_do(command):
    result = manage(*command, DATABASE_URL="postgres://postgres@127.0.0.1:1/booking_status")

    assert_reported_plainly(
        result,
        'Cannot connect to the PostgreSQL database "booking_status" at 127.0.0.1:1',
        "Connection refused",
        "scripts/postgres.sh start",
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a PostgreSQL server")
@pytest.mark.parametrize(
    "command", [("migrate",), ("create_api_token", "--business", "1", "--username", "joe")]
)
def test_a_missing_postgresql_database_is_named_with_the_command_that_creates_it(command):
    server = connection.settings_dict
    name = "booking_status_that_does_not_exist"
    url = f"postgres://{server['USER']}@{server['HOST']}:{server['PORT']}/{name}"

    result = manage(*command, DATABASE_URL=url)

    assert_reported_plainly(
        result,
        f'database "{name}" does not exist',
        f"createdb -h {server['HOST']} -p {server['PORT']} -U {server['USER']} {name}",
    )


def test_a_sqlite_file_that_cannot_be_opened_is_named(tmp_path):
    path = tmp_path / "no-such-directory" / "db.sqlite3"

    result = manage("migrate", DATABASE_URL=f"sqlite:///{path}")

    assert_reported_plainly(result, f"Cannot open the SQLite database {path}")
