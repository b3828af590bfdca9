"""The feed's guarantee (SPEC §8.2): a client that polls `?after=<last_id>` sees every
committed event of its business exactly once and in feed order, and no event of a
rolled-back change, even while writers commit concurrently (PostgreSQL: ids are
drawn before commit, so commits land out of id order)."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from events.models import Event, EventType
from tests.conftest import requires_postgresql

WRITERS = 24
TRANSACTIONS_PER_WRITER = 10
DRAIN_TIMEOUT = 120  # other databases' transactions on the server hold the horizon too


class RolledBack(Exception):
    pass


def write_transaction(business_id: int, rng: random.Random) -> tuple[list[int], bool]:
    """1–3 events in one transaction, with pauses inside it; one in five rolls back (its
    events say so: SQLite hands a rolled-back id out again). Returns the ids written and
    whether they committed."""
    doomed = rng.random() < 0.2
    written = []
    try:
        with transaction.atomic():
            for _ in range(rng.randint(1, 3)):
                event = Event.objects.record(
                    business_id, EventType.BOOKING_UPDATED, {"rolled_back": doomed}
                )
                written.append(event.pk)
                time.sleep(rng.uniform(0, 0.01))
            if doomed:
                raise RolledBack
    except RolledBack:
        return written, False
    return written, True


def poll(api, after: str | None, page_size: int) -> dict:
    query = f"?page_size={page_size}" + (f"&after={after}" if after else "")
    response = api.get(f"/v2/events{query}")
    assert response.status_code == 200, response.content
    return response.json()


def read(body: dict) -> list[str]:
    assert not [event for event in body["results"] if event["data"]["rolled_back"]]
    return [event["id"] for event in body["results"]]


def assert_seen_exactly_once_in_feed_order(seen: list[str], committed: list[int]) -> None:
    feed_order = Event.objects.filter(pk__in=committed).in_feed_order()
    assert seen == [event.public_id for event in feed_order]


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_polling_client_sees_every_committed_event_once_in_order_under_concurrent_writers(
    api, business
):
    committed, rolled_back, lock = [], [], threading.Lock()
    start = threading.Barrier(WRITERS + 1)

    def writer(number: int) -> None:
        rng = random.Random(number)
        start.wait(timeout=30)
        for _ in range(TRANSACTIONS_PER_WRITER):
            try:
                written, kept = write_transaction(business.id, rng)
            finally:
                connection.close()  # back to the pool: 24 writers share it with the reader
            with lock:
                (committed if kept else rolled_back).extend(written)
            time.sleep(rng.uniform(0, 0.02))

    seen, last_id = [], None
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        writers = [pool.submit(writer, number) for number in range(WRITERS)]
        start.wait(timeout=30)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while True:
            # Drained: every committed event was visible before a poll that found nothing.
            everything_visible = all(future.done() for future in writers) and (
                Event.objects.visible().filter(pk__in=committed).count() == len(committed)
            )
            body = poll(api, last_id, page_size=random.randint(1, 20))
            seen.extend(read(body))
            last_id = body["last_id"]
            if everything_visible and not body["results"]:
                break
            assert time.monotonic() < deadline, "the horizon did not pass the last commit"
        for future in writers:
            future.result()  # a writer's error fails the test

    assert len(committed) > 0
    assert len(rolled_back) > 0
    assert_seen_exactly_once_in_feed_order(seen, committed)


@pytest.mark.django_db(transaction=True)
def test_a_polling_client_sees_every_committed_event_once_in_order_between_writes(api, business):
    rng = random.Random(7)
    committed, rolled_back, seen, last_id = [], [], [], None
    for _ in range(30):
        written, kept = write_transaction(business.id, rng)
        (committed if kept else rolled_back).extend(written)
        body = poll(api, last_id, page_size=rng.randint(1, 3))
        seen.extend(read(body))
        last_id = body["last_id"]
    while body["next"] or len(seen) < len(committed):
        body = poll(api, last_id, page_size=5)
        seen.extend(read(body))
        last_id = body["last_id"]

    assert rolled_back
    assert_seen_exactly_once_in_feed_order(seen, committed)
