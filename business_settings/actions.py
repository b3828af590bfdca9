"""The one write of a business's settings (SPEC §15.3), from the API's PATCH and the
admin's "Business settings" page alike.

It lives above `events` (accounts imports only core): one transaction that locks the
business's row (FOR NO KEY UPDATE, as every business-row lock: bookings are still
inserted meanwhile), applies the settings to the row as locked, saves those that
changed and writes `business.updated`. A change that changes nothing writes nothing.
"""

from typing import Any

from django.db import transaction

from accounts.models import Business
from business_settings.events import business_updated
from events.models import Event


def change_settings(business_id: int, settings: dict[str, Any]) -> tuple[Business, list[str]]:
    """Apply `settings` (validated values of accounts.models.SETTINGS_FIELDS) to the
    business; return it as stored and the names of the settings that changed."""
    with transaction.atomic():
        business = Business.objects.select_for_update(no_key=True).get(pk=business_id)
        changed = business.apply_settings(settings)
        if changed:
            business.save(update_fields=changed)
            Event.objects.write([business_updated(business)])
    return business, changed
