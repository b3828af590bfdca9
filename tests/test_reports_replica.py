"""DATABASE_REPLICA_URL (SPEC §12): the reports read from the replica, and nothing
else does."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext, override_settings

from reports.routers import REPLICA

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def replica_alias(django_db_setup):
    """A `replica` alias on the test database itself (a standby has the same data), in
    place before the tests' database setup so that they may name it: what it serves
    shows in its own query log."""
    connections.settings[REPLICA] = dict(connections["default"].settings_dict)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Overriding setting DATABASES": as intended
        override = override_settings(
            DATABASES={**settings.DATABASES, REPLICA: connections.settings[REPLICA]}
        )
        override.enable()
    yield REPLICA
    override.disable()
    connections[REPLICA].close()
    if connections[REPLICA].vendor == "postgresql":
        connections[REPLICA].close_pool()  # or the test database cannot be dropped
    del connections[REPLICA]
    del connections.settings[REPLICA]


@pytest.fixture
def replica(replica_alias):
    return connections[replica_alias]


@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
@pytest.mark.parametrize("report", ["pipeline", "time_in_status"])
def test_the_reports_read_from_the_replica(api, make_booking, replica, report):
    make_booking().change_status("lost")

    with (
        CaptureQueriesContext(connections["default"]) as on_default,
        CaptureQueriesContext(replica) as on_replica,
    ):
        response = api.get(f"/v2/reports/{report}")

    assert response.status_code == 200
    statements = [query["sql"] for query in on_replica if query["sql"] not in ("BEGIN", "COMMIT")]
    assert statements[-1].lstrip().startswith("WITH")
    # Before it, on PostgreSQL only, the SET LOCAL that plans it for this business.
    assert statements[:-1] == (
        ["SET LOCAL plan_cache_mode = force_custom_plan"] if replica.vendor == "postgresql" else []
    )
    # The token and the business's zone are ordinary reads: the primary's.
    assert len(on_default) == 2
    counted = response.json()["results"]
    if report == "pipeline":
        assert counted[-1]["bookings"] == 1  # the replica has the data
    else:
        assert counted[0]["stays"] == 1


@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
def test_every_other_read_and_write_stays_on_the_primary(api, make_booking, replica):
    booking = make_booking()

    with CaptureQueriesContext(replica) as on_replica:
        assert api.get("/v2/bookings").status_code == 200
        assert api.get(f"/v2/bookings/{booking.pk}/status_history").status_code == 200
        assert (
            api.post(f"/v2/bookings/{booking.pk}/change_status", {"status": "lost"}).status_code
            == 200
        )
        assert api.get("/v2/business").status_code == 200

    assert len(on_replica) == 0


def settings_with(**environment: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(environment)
    script = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps({alias: {k: v for k, v in d.items() if k != 'TEST'} "
        "for alias, d in settings.DATABASES.items()}, default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_replica_takes_the_default_options_and_only_its_address():
    result = settings_with(
        DATABASE_URL="postgres://app:secret@primary.internal:5432/bookings",
        DATABASE_REPLICA_URL="postgres://reader:other@standby.internal:5433/bookings",
        DB_POOL_MAX_SIZE="7",
    )

    assert result.returncode == 0, result.stderr
    databases = json.loads(result.stdout)
    default, replica = databases["default"], databases["replica"]
    assert (replica["HOST"], replica["PORT"], replica["USER"]) == (
        "standby.internal",
        5433,
        "reader",
    )
    assert replica["OPTIONS"] == default["OPTIONS"]
    assert replica["OPTIONS"]["pool"]["max_size"] == 7
    assert replica["ENGINE"] == default["ENGINE"] == "config.postgresql"


def test_without_the_setting_there_is_no_replica():
    result = settings_with(DATABASE_URL="postgres://app@primary.internal/bookings")

    assert result.returncode == 0, result.stderr
    assert "replica" not in result.stdout


def test_a_replica_of_another_kind_of_database_is_refused():
    result = settings_with(
        DATABASE_URL="postgres://app@primary.internal/bookings",
        DATABASE_REPLICA_URL="sqlite:////tmp/replica.sqlite3",
    )

    assert result.returncode != 0
    assert "DATABASE_REPLICA_URL must name the same kind of database" in result.stderr
