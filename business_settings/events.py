"""The business's event (SPEC §15.3): `business.updated` when its settings change, with
the business as GET /v2/business shows it."""

from typing import TYPE_CHECKING

from business_settings.representation import business_json
from events.models import Event, EventType

if TYPE_CHECKING:
    from accounts.models import Business


def business_updated(business: "Business") -> Event:
    return Event.of(business.pk, EventType.BUSINESS_UPDATED, {"business": business_json(business)})
