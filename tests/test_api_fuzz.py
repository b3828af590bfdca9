"""Schema-driven fuzzing (schemathesis): every operation of the published schema,
fed generated valid and invalid input. No answer may be a 5xx, and every answer
must match the schema: documented status code, content type and body shape."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.models import ApiToken, Business, User
from config.wsgi import application
from events.models import Event, EventType
from statuses.services import fork_shared_statuses

schema = schemathesis.openapi.from_wsgi("/v2/schema?format=json", application)

EXAMPLES_PER_OPERATION = 40


@pytest.fixture
def keep_the_test_connection():
    """The WSGI app is called directly, not through Django's test client, so its
    end-of-request hook would close the connection that holds the test's transaction
    (PostgreSQL); detach the hook the way the test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def unthrottled(monkeypatch):
    """Schemathesis checks that invalid credentials are refused (401) by sending its
    own, many times: the failed-token throttle (tested in test_accounts.py) would
    answer 429 to the later ones."""
    from accounts.authentication import FailedAuthenticationThrottle

    monkeypatch.setattr(
        FailedAuthenticationThrottle, "THROTTLE_RATES", {"failed_authentication": None}
    )


@pytest.fixture
def token(db, keep_the_test_connection, fake_dns, unthrottled) -> str:
    # Webhook URLs resolve from the fake DNS (tests/fake_dns.py), never the network.
    business = Business.objects.create(id=43111, name="Demo Venue")
    user = User.objects.create_user(username="fuzzer", business=business)
    fork_shared_statuses(business, by=user)
    # Events for the feed to list (on PostgreSQL they stay behind the test's own
    # transaction, so the feed answers empty pages there).
    for type in EventType.values:
        Event.objects.record(business.id, type, {"example": type})
    _, key = ApiToken.objects.issue(user)
    return key


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_every_answer_matches_the_schema(case, token):
    # Every check but "schema-valid input is accepted": some rules cannot be put in
    # a schema (ends_at not before starts_at, no future moments, unique names), and
    # the API rightly answers 400 or 409 there.
    # The real token replaces the generated credentials; a case generated without an
    # Authorization header tests the missing-credentials path, so it is sent without
    # one (given a token, its "invalid" request would be a valid one, rightly answered).
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"} if "Authorization" in case.headers else {},
        excluded_checks=[positive_data_acceptance],
    )
