"""scripts/pgbouncer.sh, as .ci/run and scripts/cluster.sh run it: the URL it prints
reaches the server's databases, in transaction pooling mode."""

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.test_postgres_script import free_port
from tests.test_settings import ROOT

SCRIPT = ROOT / "scripts" / "pgbouncer.sh"

pytestmark = [
    pytest.mark.skipif(
        not shutil.which("pgbouncer", path="/usr/sbin:/usr/bin"),
        reason="needs Debian's pgbouncer (scripts/install-os-packages.sh)",
    ),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="run in the PostgreSQL pass"),
]


def pgbouncer_sh(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *arguments], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def directory():
    # As root the script runs PgBouncer as `postgres`, which must reach the directory.
    parent = Path(tempfile.mkdtemp(prefix="pgbouncer-sh-test-"))
    parent.chmod(0o755)
    yield parent / "pgbouncer"
    pgbouncer_sh("stop", str(parent / "pgbouncer"))
    shutil.rmtree(parent)


def server_port() -> str:
    """PostgreSQL's own port (the direct one, when this run goes through PgBouncer)."""
    return str((settings.DATABASE_DIRECT or connection.settings_dict)["PORT"])


def test_start_prints_a_url_that_reaches_the_server_in_transaction_mode(directory):
    port = str(free_port())

    started = pgbouncer_sh("start", str(directory), port, server_port())

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"postgres://postgres@127.0.0.1:{port}/booking_status"
    with psycopg.connect(
        f"postgres://postgres@127.0.0.1:{port}/postgres", autocommit=True, connect_timeout=5
    ) as session:
        assert session.execute("SELECT 1").fetchone() == (1,)
    assert "pool_mode = transaction" in (directory / "pgbouncer.ini").read_text()

    pgbouncer_sh("stop", str(directory))

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres", connect_timeout=2)


def test_start_refuses_a_port_that_is_taken(directory):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])

        started = pgbouncer_sh("start", str(directory), port, server_port())

    assert started.returncode == 1
    assert f"PgBouncer does not listen on 127.0.0.1:{port}" in started.stderr
