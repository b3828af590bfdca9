"""Serializer behaviour shared by every API endpoint."""

from rest_framework import serializers


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


class StrictCharField(serializers.CharField):
    """A JSON string: not a number or a boolean."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
