"""Serializer plumbing shared by the API (config/serializers.py)."""

import pytest
from rest_framework import serializers

from bookings.serializers import ChangeStatusSerializer
from config.serializers import ShallowFieldCopiesMixin
from statuses.serializers import StatusFieldsSerializer


@pytest.mark.parametrize("serializer_class", [ChangeStatusSerializer, StatusFieldsSerializer])
def test_each_instance_has_its_own_bound_fields(serializer_class):
    first, second = serializer_class(), serializer_class()

    for name, declared in serializer_class._declared_fields.items():
        mine, theirs = first.fields[name], second.fields[name]
        assert mine is not theirs
        assert mine is not declared
        assert mine.parent is first
        assert theirs.parent is second
        assert mine.field_name == name
        assert mine.validators is not theirs.validators
        assert mine.validators == declared.validators


def test_changing_one_instance_s_field_leaves_the_others_alone():
    first, second = StatusFieldsSerializer(), StatusFieldsSerializer()

    first.fields["subStatus"].validators.append(lambda value: None)
    first.fields["status"].required = False

    assert len(second.fields["subStatus"].validators) == len(
        StatusFieldsSerializer._declared_fields["subStatus"].validators
    )
    assert second.fields["status"].required is True


def test_nested_serializers_are_still_deep_copied():
    class Inner(serializers.Serializer):
        name = serializers.CharField()

    class Outer(ShallowFieldCopiesMixin, serializers.Serializer):
        inner = Inner()

    first, second = Outer(), Outer()

    assert first.fields["inner"] is not second.fields["inner"]
    assert first.fields["inner"].fields["name"] is not second.fields["inner"].fields["name"]
    assert first.fields["inner"].fields["name"].root is first


def test_validation_is_unchanged():
    body = ChangeStatusSerializer(data={"status": "nope", "status_date": "2025-02-30"})

    assert not body.is_valid()
    assert set(body.errors) == {"status", "status_date"}
    assert ChangeStatusSerializer(data={"status": "definite"}).is_valid()
