"""Serializer behaviour shared by every API endpoint: strict JSON types, unknown keys
refused, and the moments and dates every app accepts."""

import datetime as dt
import re
import unicodedata

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.models import EARLIEST_MOMENT
from core.moments import EARLIEST_DATE
from core.renderers import in_utc


class RejectUnknownFieldsMixin:
    """A key the endpoint does not know is a client bug: say so rather than drop it."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields) - self.extra_known_fields())
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

    def extra_known_fields(self) -> set[str]:
        return set()


# JSON types are taken strictly: a client that sends "5" for a count or 0 for a
# name has a bug, and coercing would hide it.


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not a numeric string, a float or a boolean."""

    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean: not "true", 1 or "yes"."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def refuse_control_characters(value: str) -> None:
    """A validator for free text: control characters (NUL included) are refused."""
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise serializers.ValidationError("Must not contain control characters.")


class StrictCharField(serializers.CharField):
    """A JSON string: not a number or a boolean."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# ISO 8601 extended form with a time; the offset is optional (none means UTC).
ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.,]\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$",
    re.IGNORECASE,
)


class UTCDateTimeField(serializers.DateTimeField):
    """An ISO 8601 datetime string with a time part, not before 1900-01-01T00:00:00Z. An
    offset is converted to UTC; without one the time is taken as UTC. A date alone, an
    empty string or a non-string is refused. Represented in UTC, which the renderer
    writes with a `Z`."""

    default_error_messages = {
        "not_a_string": "Must be an ISO 8601 datetime string, e.g. 2025-01-15T14:30:00Z.",
        "needs_time": "Must include a time, e.g. 2025-01-15T14:30:00Z (a date alone is not a "
        "moment).",
        "malformed": "Not a valid ISO 8601 datetime: {value!r}.",
        "too_early": "Must not be before 1900-01-01T00:00:00Z.",
        "out_of_range": "Out of the representable range once converted to UTC.",
    }

    def to_internal_value(self, value):
        if not isinstance(value, str) or not value:
            self.fail("not_a_string")
        if DATE_ONLY.match(value):
            self.fail("needs_time")
        if not ISO_DATETIME.match(value):
            self.fail("malformed", value=value[:64])
        try:
            moment = dt.datetime.fromisoformat(value.upper().replace(",", "."))
        except ValueError:
            self.fail("malformed", value=value[:64])
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        # Compared before converting: converting year 1 with an offset overflows.
        if moment < EARLIEST_MOMENT:
            self.fail("too_early")
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:
            self.fail("out_of_range")

    def to_representation(self, value):
        return in_utc(value)


@extend_schema_field(OpenApiTypes.DATE)
class StatusDateField(serializers.Field):
    """`YYYY-MM-DD`, a real calendar date, not before 1900-01-01."""

    default_error_messages = {
        "invalid": "Must be a date as YYYY-MM-DD, e.g. 2025-01-10.",
        "impossible": "{value!r} is not a real calendar date.",
        "too_early": "Must not be before 1900-01-01.",
    }

    def to_internal_value(self, value):
        if not isinstance(value, str) or not DATE_ONLY.match(value):
            self.fail("invalid")
        try:
            date = dt.date.fromisoformat(value)
        except ValueError:
            self.fail("impossible", value=value)
        if date < EARLIEST_DATE:
            self.fail("too_early")
        return date

    def to_representation(self, value):
        return value  # the renderer writes dates as YYYY-MM-DD
