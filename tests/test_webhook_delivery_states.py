"""A delivery's states and an endpoint's failure clock (SPEC §8.4, §13), through the model
methods that alone change them: `fan_out`, `lease`, `record_outcome`, `note_success`,
`note_failure`. The worker's loop and its HTTP attempts are tests/test_webhook_delivery.py
and tests/test_webhook_delivery_process.py."""

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from events.models import Event
from tests.conftest import requires_postgresql
from tests.elsewhere import Elsewhere
from tests.test_statuses_api import wait_until_someone_waits_for
from tests.test_webhook_delivery import endpoint_for, event_of
from webhooks import models as webhook_models
from webhooks.models import Delivery, WebhookEndpoint
from webhooks.sending import Outcome

pytestmark = pytest.mark.django_db(transaction=True)

URL = "http://127.0.0.1:9/hook"  # never called: these tests record outcomes themselves
SUCCESS = Outcome(200)
SERVER_ERROR = Outcome(500, "HTTP 500")
GONE = Outcome(410, "HTTP 410")


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.WEBHOOK_TIMEOUT = 10
    settings.WEBHOOK_RETRY_SCHEDULE = [60, 600]
    settings.WEBHOOK_DISABLE_AFTER_DAYS = 5


def pending_deliveries(business, count: int = 1) -> list[Delivery]:
    """`count` deliveries of a new endpoint, made by fan-out from committed events."""
    endpoint = endpoint_for(business, URL)
    for _ in range(count):
        event_of(business)
    WebhookEndpoint.objects.fan_out()
    return list(endpoint.deliveries.order_by("pk"))


def leased(business) -> Delivery:
    pending_deliveries(business)
    [delivery] = Delivery.objects.lease(1)
    return delivery


# --- fan-out ---------------------------------------------------------------------------


def test_fan_out_reads_the_feed_in_batches_and_misses_none_at_their_edges(business, monkeypatch):
    monkeypatch.setattr(webhook_models, "FAN_OUT_BATCH", 2)
    endpoint = endpoint_for(business, URL)
    events = [event_of(business) for _ in range(5)]

    assert WebhookEndpoint.objects.fan_out() == 5

    assert list(endpoint.deliveries.order_by("event").values_list("event", flat=True)) == [
        event.pk for event in events
    ]
    endpoint.refresh_from_db()
    assert endpoint.feed_event_id == events[-1].pk
    assert WebhookEndpoint.objects.fan_out() == 0


def test_fan_out_moves_the_position_past_events_the_endpoint_does_not_take(business):
    endpoint = endpoint_for(business, URL, event_types=["booking.deleted"])
    event_of(business, "booking.updated")
    skipped = event_of(business, "booking.created")

    assert WebhookEndpoint.objects.fan_out() == 0

    endpoint.refresh_from_db()
    assert (endpoint.feed_event_id, endpoint.feed_transaction_id) == (
        skipped.pk,
        Event.objects.get(pk=skipped.pk).transaction_id,
    )


def test_fan_out_gives_an_inactive_endpoint_nothing(business):
    endpoint = endpoint_for(business, URL, active=False)
    event_of(business)

    assert WebhookEndpoint.objects.fan_out() == 0
    endpoint.refresh_from_db()
    assert endpoint.feed_event_id is None


@requires_postgresql
def test_fan_out_skips_an_endpoint_another_worker_is_fanning_out(business):
    endpoint = endpoint_for(business, URL)
    event_of(business)

    with transaction.atomic():
        WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)  # as fan-out locks it
        other_worker = Elsewhere(WebhookEndpoint.objects.fan_out)
        finished_meanwhile = other_worker.finished_within(10)
    other_worker.join(10)

    assert finished_meanwhile, "fan-out waited for the endpoint's lock"
    assert (other_worker.error, other_worker.result) == (None, 0)
    assert WebhookEndpoint.objects.fan_out() == 1


# --- lease -----------------------------------------------------------------------------


def test_a_lease_counts_the_attempt_and_holds_the_delivery_past_the_timeout(business):
    pending_deliveries(business)
    before = timezone.now()

    [delivery] = Delivery.objects.lease(5)

    stored = Delivery.objects.get()
    assert (stored.attempts, stored.leased_until) == (1, delivery.leased_until)
    assert before <= stored.last_attempt_at <= timezone.now()
    assert stored.leased_until == stored.last_attempt_at + dt.timedelta(seconds=15)
    assert stored.status == "pending"
    assert (delivery.endpoint.url, delivery.event.pk) == (URL, stored.event_id)


def test_a_lease_takes_the_oldest_due_first_and_at_most_the_limit(business):
    deliveries = pending_deliveries(business, 3)
    Delivery.objects.filter(pk=deliveries[1].pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(minutes=1)
    )

    taken = Delivery.objects.lease(2)

    assert [delivery.pk for delivery in taken] == [deliveries[1].pk, deliveries[0].pk]
    assert Delivery.objects.get(pk=deliveries[2].pk).attempts == 0


IN_A_MINUTE = dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    "not_due",
    [
        {"next_attempt_at": IN_A_MINUTE},
        {"status": "succeeded", "next_attempt_at": None},
        {"status": "failed", "next_attempt_at": None},
        {"leased_until": IN_A_MINUTE},
    ],
    ids=["later", "succeeded", "failed", "leased"],
)
def test_a_lease_takes_only_due_deliveries_no_one_holds(business, not_due):
    [delivery] = pending_deliveries(business)
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        **{
            name: now + value if isinstance(value, dt.timedelta) else value
            for name, value in not_due.items()
        }
    )

    assert Delivery.objects.lease(5) == []
    assert Delivery.objects.get().attempts == 0


def test_a_lease_takes_nothing_of_an_inactive_endpoint(business):
    pending_deliveries(business)
    WebhookEndpoint.objects.update(active=False)

    assert Delivery.objects.lease(5) == []


def test_a_lease_scheduled_by_a_moment_takes_only_what_was_due_then(business):
    early, late = pending_deliveries(business, 2)
    cutoff = timezone.now()
    Delivery.objects.filter(pk=late.pk).update(next_attempt_at=cutoff + dt.timedelta(seconds=1))

    assert [delivery.pk for delivery in Delivery.objects.lease(5, scheduled_by=cutoff)] == [
        early.pk
    ]


@requires_postgresql
def test_a_delivery_another_worker_is_leasing_is_skipped_not_waited_for(business):
    first, second = pending_deliveries(business, 2)

    with transaction.atomic():  # this lease's transaction is still open
        [mine] = Delivery.objects.lease(1)
        other_worker = Elsewhere(lambda: [delivery.pk for delivery in Delivery.objects.lease(5)])
        finished_meanwhile = other_worker.finished_within(10)
    other_worker.join(10)

    assert finished_meanwhile, "the second lease waited for the first one's row lock"
    assert (mine.pk, other_worker.error, other_worker.result) == (first.pk, None, [second.pk])


# --- record_outcome --------------------------------------------------------------------


def test_a_success_is_recorded_and_releases_the_lease(business):
    delivery = leased(business)

    assert delivery.record_outcome(SUCCESS) is True

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_response_status, delivery.last_error) == (
        "succeeded",
        200,
        "",
    )
    assert (delivery.next_attempt_at, delivery.leased_until) == (None, None)


def test_a_failure_is_retried_after_the_schedule_next_wait(business):
    delivery = leased(business)
    before = timezone.now()

    assert delivery.record_outcome(SERVER_ERROR) is True

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error, delivery.leased_until) == (
        "pending",
        "HTTP 500",
        None,
    )
    wait = delivery.next_attempt_at - before
    assert dt.timedelta(seconds=60) <= wait <= dt.timedelta(seconds=67)
    assert Delivery.objects.lease(5) == []  # not due before then


def test_a_failure_of_the_last_attempt_is_failed(business, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0]
    delivery = leased(business)
    delivery.record_outcome(SERVER_ERROR)
    [again] = Delivery.objects.lease(1)

    again.record_outcome(SERVER_ERROR)

    again.refresh_from_db()
    assert (again.status, again.attempts, again.next_attempt_at) == ("failed", 2, None)


def test_an_outcome_under_a_lease_that_expired_and_was_taken_again_is_dropped(business):
    delivery = leased(business)
    Delivery.objects.update(leased_until=timezone.now())  # the lease ran out
    [taken_again] = Delivery.objects.lease(1)

    assert delivery.record_outcome(SUCCESS) is False

    stored = Delivery.objects.get()
    assert (stored.status, stored.attempts, stored.leased_until) == (
        "pending",
        2,
        taken_again.leased_until,
    )
    assert taken_again.record_outcome(SERVER_ERROR) is True


def test_an_outcome_after_the_endpoint_was_deactivated_is_dropped(business):
    delivery = leased(business)
    endpoint = WebhookEndpoint.objects.get()
    endpoint.apply_changes({"active": False})

    assert delivery.record_outcome(SERVER_ERROR) is False

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("failed", "endpoint disabled")
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


# --- the endpoint's failure clock ----------------------------------------------------


def test_a_failure_starts_the_clock_and_a_success_stops_it(business):
    delivery = leased(business)
    delivery.record_outcome(SERVER_ERROR)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.failing_since is not None

    endpoint.note_success()

    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_a_running_clock_keeps_its_start(business):
    endpoint = endpoint_for(business, URL)
    started = timezone.now() - dt.timedelta(days=1)
    endpoint.note_failure(started)

    endpoint.note_failure(timezone.now())

    endpoint.refresh_from_db()
    assert (endpoint.failing_since, endpoint.active) == (started, True)


def test_a_410_disables_the_endpoint_and_fails_its_pending_deliveries(business):
    pending_deliveries(business, 2)
    [delivery] = Delivery.objects.lease(1)

    assert delivery.record_outcome(GONE) is True

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.active, endpoint.disabled_reason) == (False, "the receiver answered 410 Gone")
    assert set(Delivery.objects.values_list("status", "last_error")) == {
        ("failed", "endpoint disabled")
    }


@pytest.mark.parametrize(
    ("clock_started_ago", "active", "disabled_reason"),
    [
        (dt.timedelta(days=5, seconds=1), False, "no attempt succeeded for 5 days"),
        (dt.timedelta(days=4, hours=23), True, ""),
    ],
    ids=["past the days", "within them"],
)
def test_a_failure_disables_the_endpoint_once_its_clock_has_run_the_days(
    business, clock_started_ago, active, disabled_reason
):
    endpoint = endpoint_for(business, URL)
    now = timezone.now()
    endpoint.note_failure(now - clock_started_ago)

    endpoint.note_failure(now)

    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.disabled_reason) == (active, disabled_reason)


def test_an_inactive_endpoint_keeps_its_reason_whatever_fails(business):
    endpoint = endpoint_for(business, URL)
    endpoint.apply_changes({"active": False})

    endpoint.note_failure(timezone.now(), gone=True)

    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.disabled_reason) == (False, "deactivated by the business")


@requires_postgresql
@pytest.mark.parametrize("outcome", [SUCCESS, SERVER_ERROR], ids=["success", "failure"])
def test_an_outcome_recorded_while_the_endpoint_is_being_deactivated_waits_then_is_dropped(
    business, outcome
):
    """The endpoint's row is locked before its deliveries' by every write that takes
    both: an outcome recorded meanwhile waits for the deactivation instead of holding the
    delivery the deactivation must fail (a deadlock)."""
    delivery = leased(business)
    endpoint = WebhookEndpoint.objects.get()
    endpoint.note_failure(timezone.now())  # a running clock: a success writes the row too
    locked = threading.Event()

    def deactivate_once_waited_for() -> bool:
        with transaction.atomic(), connection.cursor() as cursor:
            WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
            locked.set()
            waited_for = wait_until_someone_waits_for(cursor)
            endpoint.deactivate("deactivated by the business")
        return waited_for

    deactivating = Elsewhere(deactivate_once_waited_for)
    assert locked.wait(10)
    recorded = delivery.record_outcome(outcome)
    deactivating.join(30)

    assert (deactivating.error, deactivating.result) == (None, True)
    assert recorded is False
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("failed", "endpoint disabled")
