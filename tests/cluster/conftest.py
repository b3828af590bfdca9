"""The cluster suite runs against a cluster that scripts/cluster.sh started: its
cluster.env in the environment (.ci/run does this). Without CLUSTER_URL it is skipped.

The test process reaches the cluster's database as the app servers do (DATABASE_URL,
through PgBouncer) to set up a business of its own and to count what was written."""

import os
import random
import time
import uuid
from dataclasses import dataclass

import pytest
import requests

CLUSTER_VARIABLES = ("CLUSTER_URL", "CLUSTER_APP_URLS", "CLUSTER_STANDBY_URL", "CLUSTER_DIR")
REQUEST_TIMEOUT = 10


MISSING = [name for name in CLUSTER_VARIABLES if not os.environ.get(name)]
requires_cluster = pytest.mark.skipif(
    bool(MISSING), reason=f"no cluster: {', '.join(MISSING)} not set (scripts/cluster.sh)"
)


@dataclass
class Cluster:
    balancer: str
    app_servers: list[str]
    standby_url: str
    directory: str


@dataclass
class Tenant:
    business_id: int
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Token {self.token}"}

    def post(self, base_url: str, path: str, body: dict, **headers) -> requests.Response:
        return requests.post(
            base_url + path,
            json=body,
            headers={**self.headers, **headers},
            timeout=REQUEST_TIMEOUT,
        )

    def get(self, base_url: str, path: str) -> requests.Response:
        return requests.get(base_url + path, headers=self.headers, timeout=REQUEST_TIMEOUT)


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    return Cluster(
        balancer=os.environ["CLUSTER_URL"],
        app_servers=os.environ["CLUSTER_APP_URLS"].split(","),
        standby_url=os.environ["CLUSTER_STANDBY_URL"],
        directory=os.environ["CLUSTER_DIR"],
    )


@pytest.fixture
def cluster_database(django_db_blocker):
    """The ORM on the cluster's own database (not a test database)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def tenant(cluster, cluster_database) -> Tenant:
    """A business of this test's own, so that runs never see each other's data."""
    from accounts.models import ApiToken, Business, User

    business = Business.objects.create(
        id=random.randrange(10**9, 2 * 10**9), name=f"Cluster {uuid.uuid4().hex[:8]}"
    )
    user = User.objects.create_user(username=f"cluster-{business.id}", business=business)
    _, key = ApiToken.objects.issue(user)
    return Tenant(business.id, key)


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result
