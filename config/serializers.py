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
