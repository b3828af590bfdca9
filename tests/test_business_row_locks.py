"""Business-row locks (a webhook registration's, a zone change's) queue the writers that
take them, never a booking's insert: they are FOR NO KEY UPDATE, and the insert's
foreign-key check (FOR KEY SHARE) waits only for FOR UPDATE."""

import pytest
from django.db import DatabaseError, transaction

from accounts.models import Business
from bookings.models import Booking
from tests.conftest import requires_postgresql
from tests.elsewhere import Elsewhere
from webhooks.models import WebhookEndpoint

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

# Long enough for an insert that is not waiting on a lock, on a loaded machine.
INSERT_WAIT_SECONDS = 10


def register_an_endpoint(business: Business) -> None:
    WebhookEndpoint(business=business, url="http://127.0.0.1:9/hook", event_types=["*"]).register()


def change_the_zone(business: Business) -> None:
    business.set_timezone("America/New_York")


def business_row_lock_refused(business: Business) -> DatabaseError | None:
    """What another transaction's FOR NO KEY UPDATE NOWAIT of the business row met."""

    def lock():
        row = Business.objects.filter(pk=business.pk)
        with transaction.atomic():
            list(row.select_for_update(no_key=True, nowait=True))

    locking = Elsewhere(lock)
    locking.join(INSERT_WAIT_SECONDS)
    return locking.error


@pytest.mark.parametrize(
    "lock_the_business",
    [register_an_endpoint, change_the_zone],
    ids=["webhook registration", "zone change"],
)
def test_a_business_row_lock_does_not_block_a_booking_insert(
    business, api, make_booking, lock_the_business, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = settings.WEBHOOK_ALLOW_HTTP = True  # its URL
    make_booking()  # a zone change realigns (and locks) the bookings there are
    with transaction.atomic():
        lock_the_business(business)  # its locks are held until this block ends
        assert isinstance(business_row_lock_refused(business), DatabaseError)
        inserting = Elsewhere(lambda: api.post("/v2/bookings", {"name": "Gala"}, format="json"))
        inserted_meanwhile = inserting.finished_within(INSERT_WAIT_SECONDS)
    inserting.join(INSERT_WAIT_SECONDS)

    assert inserted_meanwhile, "the booking insert waited for the business row's lock"
    assert inserting.error is None, inserting.error
    assert inserting.result.status_code == 201
    assert Booking.objects.filter(business=business, name="Gala").exists()
