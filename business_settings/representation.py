"""The caller's business as GET /v2/business shows it, and as `business.updated`
carries it (SPEC §15.3): a plain function, no DRF."""

from typing import Any

from accounts.models import SETTINGS_FIELDS


def business_json(business: Any) -> dict[str, Any]:
    """`{"id", "name", "timezone", "require_lost_reason", "hold_reminder_hours",
    "auto_complete_after_hours"}`."""
    return {
        "id": business.id,
        "name": business.name,
        "timezone": business.timezone,
        **{name: getattr(business, name) for name in SETTINGS_FIELDS},
    }
