"""Request validation and the response shape of the Status API (seed: camelCase keys).

A POST or PUT body is read in steps, because which status is meant and whose it is
are checked before the fields are: `StatusCreateTargetSerializer`/`StatusUpdateTargetSerializer`
refuse unknown keys and read `statusId` and `businessId`; the view then settles which
status is meant and whose it is; `StatusFieldsSerializer` last reads the writable
fields. JSON types are taken strictly: a boolean is `true`/`false`, an integer is a
JSON integer, text is a string.
"""

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import (
    RejectUnknownFieldsMixin,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    refuse_control_characters,
)
from core.tenant_lists import SORT_ORDER_MAX
from statuses.models import (
    DEPENDS_ON_MAX,
    SUB_STATUS_MAX_LENGTH,
    Status,
    StatusName,
    StatusType,
)
from statuses.representation import epoch_milliseconds, status_json

# Every status object has exactly these keys, in this order (the seed's).
STATUS_KEYS = (
    "active",
    "businessId",
    "createdDate",
    "createdUser",
    "dependsOn",
    "modifiedDate",
    "modifiedUser",
    "sortOrder",
    "status",
    "statusId",
    "statusType",
    "subStatus",
    "userSelectable",
)

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


class SubStatusField(StrictCharField):
    """Free text of 1 to 64 characters, surrounding spaces trimmed, no control characters
    (NUL included) and no lone surrogates."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=SUB_STATUS_MAX_LENGTH, min_length=1, **kwargs)
        self.validators.append(refuse_control_characters)


@extend_schema_field(OpenApiTypes.INT)
class EpochMillisecondsField(serializers.ReadOnlyField):
    """A moment as an integer count of milliseconds since 1970-01-01T00:00:00Z."""

    def to_representation(self, value: dt.datetime) -> int:
        return epoch_milliseconds(value)


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": StatusName.values},
        "minItems": 1,
        "maxItems": DEPENDS_ON_MAX,
        "uniqueItems": True,
        "nullable": True,
    }
)
class DependsOnField(serializers.Field):
    """The top-level statuses an appointment must be in to enter this status: null (no
    restriction beyond the list's moves), or 1 to DEPENDS_ON_MAX distinct top-level
    names (`OPEN`, not a sub-status), kept in the order given."""

    default_error_messages = {
        "invalid": f"Must be null or a list of 1 to {DEPENDS_ON_MAX} distinct top-level "
        f"statuses ({', '.join(StatusName.values)}).",
    }

    def to_internal_value(self, data):
        if data is None:
            return None
        if not isinstance(data, list) or not 1 <= len(data) <= DEPENDS_ON_MAX:
            self.fail("invalid")
        if any(name not in StatusName.values for name in data) or len(set(data)) != len(data):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


def choice_errors(choices: list[str]) -> dict[str, str]:
    # The input is not echoed: it may hold text that cannot be encoded in the response.
    return {"invalid_choice": f"Must be one of {', '.join(choices)}."}


class StatusTargetSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """First read of a POST/PUT body: no key outside the status object's 13; `statusId`
    and `businessId` are integers (or null) in range."""

    statusId = StrictIntegerField(required=False, allow_null=True)
    businessId = StrictIntegerField(
        required=False, allow_null=True, min_value=BIGINT_MIN, max_value=BIGINT_MAX
    )

    def extra_known_fields(self) -> set[str]:
        return set(STATUS_KEYS)


class StatusCreateTargetSerializer(StatusTargetSerializer):
    """POST: the server assigns the id; the business is required."""

    businessId = StrictIntegerField(min_value=BIGINT_MIN, max_value=BIGINT_MAX)

    def validate_statusId(self, value: int | None) -> None:
        if value is not None:
            raise serializers.ValidationError(
                "Must be null or absent: the server assigns ids. To change an existing "
                "status, PUT it."
            )
        return None


class StatusUpdateTargetSerializer(StatusTargetSerializer):
    """PUT: the id says which status; `businessId` is checked once the status is found."""

    statusId = StrictIntegerField()


class StatusFieldsSerializer(serializers.Serializer):
    """The writable fields of a POST/PUT body, as Status field names. `status` and
    `subStatus` are required; the others are taken only when present."""

    status = serializers.ChoiceField(
        choices=StatusName.choices, error_messages=choice_errors(StatusName.values)
    )
    subStatus = SubStatusField(source="sub_status")
    statusType = serializers.ChoiceField(
        source="status_type",
        choices=StatusType.choices,
        required=False,
        error_messages=choice_errors(StatusType.values),
    )
    active = StrictBooleanField(required=False)
    sortOrder = StrictIntegerField(
        source="sort_order", required=False, min_value=0, max_value=SORT_ORDER_MAX
    )
    userSelectable = StrictBooleanField(source="user_selectable", required=False)
    dependsOn = DependsOnField(source="depends_on", required=False, allow_null=True)


class StatusWriteSerializer(StatusFieldsSerializer):
    """The body of POST and PUT /status, as the API schema documents it (the views
    validate it in the steps above). The read-only keys of a status object are accepted
    and ignored, so that a status from GET can be sent back as it is."""

    statusId = StrictIntegerField(
        required=False,
        allow_null=True,
        help_text="POST: null or absent (the server assigns it). PUT: required, the id of "
        "one of the business's own statuses.",
    )
    businessId = StrictIntegerField(help_text="The caller's business id.")


class StatusSerializer(serializers.Serializer):
    """A status as every endpoint returns it: all 13 keys, always."""

    active = serializers.BooleanField(read_only=True)
    businessId = serializers.IntegerField(
        source="business_id", read_only=True, allow_null=True, help_text="null: shared default"
    )
    createdDate = EpochMillisecondsField(
        source="created_at", help_text="Milliseconds since 1970-01-01T00:00:00Z."
    )
    createdUser = serializers.CharField(source="created_user", read_only=True, allow_null=True)
    dependsOn = DependsOnField(source="depends_on", read_only=True)
    modifiedDate = EpochMillisecondsField(
        source="modified_at",
        allow_null=True,
        help_text="Milliseconds since 1970-01-01T00:00:00Z; null until first modified.",
    )
    modifiedUser = serializers.CharField(source="modified_user", read_only=True, allow_null=True)
    sortOrder = serializers.IntegerField(source="sort_order", read_only=True)
    status = serializers.CharField(read_only=True)
    statusId = serializers.IntegerField(source="id", read_only=True)
    statusType = serializers.CharField(source="status_type", read_only=True)
    subStatus = serializers.CharField(source="sub_status", read_only=True)
    userSelectable = serializers.BooleanField(source="user_selectable", read_only=True)

    def to_representation(self, status: Status) -> dict:
        return status_json(status)
