"""A status as the Status API shows it and as its events carry it (SPEC §8.1: an
event's status is exactly the 13-key object of GET /status). Plain functions, no DRF:
the serializers call them to render responses, statuses/events.py to build payloads."""

import datetime as dt
from typing import Any

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_milliseconds(moment: dt.datetime | None) -> int | None:
    return None if moment is None else (moment - EPOCH) // dt.timedelta(milliseconds=1)


def status_json(status: Any) -> dict[str, Any]:
    """A status as StatusSerializer renders it. Written out rather than walked field by
    field, as for bookings: GET /status renders a whole list on every call, with no
    serializer per row (the tests compare it with the generic path)."""
    return {
        "active": status.active,
        "businessId": status.business_id,
        "createdDate": epoch_milliseconds(status.created_at),
        "createdUser": status.created_user,
        "dependsOn": status.depends_on,
        "modifiedDate": epoch_milliseconds(status.modified_at),
        "modifiedUser": status.modified_user,
        "sortOrder": status.sort_order,
        "status": status.status,
        "statusId": status.id,
        "statusType": status.status_type,
        "subStatus": status.sub_status,
        "userSelectable": status.user_selectable,
    }
