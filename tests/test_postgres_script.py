"""scripts/postgres.sh, as the README's recipe runs it: the URL it prints works."""

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.test_settings import ROOT

SCRIPT = ROOT / "scripts" / "postgres.sh"
BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))

pytestmark = [
    pytest.mark.skipif(
        not BINARIES, reason="needs Debian's postgresql (scripts/install-os-packages.sh)"
    ),
    # It starts a server of its own, which is slow; once per CI run is enough: in the
    # PostgreSQL pass.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="run in the PostgreSQL pass"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_sh(*arguments: str) -> str:
    result = subprocess.run(
        ["bash", str(SCRIPT), *arguments], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_start_prints_the_url_of_a_database_it_created_and_can_be_run_again():
    # Not pytest's tmp_path: as root the script runs the server as `postgres`, which
    # must be able to reach the data directory.
    parent = Path(tempfile.mkdtemp(prefix="postgres-sh-test-"))
    parent.chmod(0o755)
    datadir = parent / "pgdata"
    port = str(free_port())
    try:
        url = postgres_sh("start", str(datadir), port)
        with psycopg.connect(url) as connection:
            connection.execute("CREATE TABLE kept (id int)")

        again = postgres_sh("start", str(datadir), port)

        assert again == url
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT count(*) FROM kept").fetchone() == (0,)
    finally:
        postgres_sh("stop", str(datadir))
        shutil.rmtree(parent)
