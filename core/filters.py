"""Query-string filters the API's lists share (django-filter): each reads one query
parameter, its name, and refuses a bad value with a 400 naming it."""

import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django_filters.fields import IsoDateTimeField, MultipleChoiceField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from core.models import ID_RANGE
from core.moments import EARLIEST_DATE, LATEST_DATE, DateOutOfRange, iso_date


class CommaSeparatedMultipleChoiceField(MultipleChoiceField):
    """Accepts `?status=a&status=b`, `?status=a,b` and any mix of the two."""

    def to_python(self, value):
        values = super().to_python(value)
        return [part.strip() for item in values for part in item.split(",") if part.strip()]


class ChoicesFilter(django_filters.MultipleChoiceFilter):
    """One value, repeated or comma-separated; filtered with one `IN (…)` rather than
    django-filter's OR of one Q per value (the same rows, less to build)."""

    field_class = CommaSeparatedMultipleChoiceField

    def filter(self, qs, value):
        return qs.filter(**{f"{self.field_name}__in": value}) if value else qs


class IdField(forms.IntegerField):
    """A record's id: a whole number in a BigAutoField's positive range (a larger one
    would overflow the database's parameter)."""

    def __init__(self, **kwargs):
        super().__init__(min_value=ID_RANGE[0], max_value=ID_RANGE[-1], **kwargs)


class IdFilter(django_filters.NumberFilter):
    field_class = IdField


class UTCMomentField(IsoDateTimeField):
    """ISO 8601; an offset is converted to UTC, none means UTC. A moment that does not
    exist in UTC (0001-01-01T00:00:00+05:00) is refused rather than left for the
    database adapter to overflow on."""

    default_error_messages = {
        "out_of_range": "Out of the representable range once converted to UTC.",
    }

    def to_python(self, value):
        if isinstance(value, str):
            ProhibitNullCharactersValidator()(value)
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["out_of_range"], "out_of_range") from None


class UTCMomentFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCMomentField


class ISODateField(forms.Field):
    """Exactly `YYYY-MM-DD`, a real calendar date from 1900 to 9998 (Django's DateField
    would also take `10/25/2006`)."""

    default_error_messages = {
        "invalid": "Must be a date as YYYY-MM-DD, e.g. 2025-03-04.",
        "out_of_range": f"Must be from {EARLIEST_DATE} to {LATEST_DATE}.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return iso_date(value)
        except DateOutOfRange:
            raise ValidationError(self.error_messages["out_of_range"], "out_of_range") from None
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], "invalid") from None


@extend_schema_field(OpenApiTypes.DATE)
class ISODateFilter(django_filters.Filter):
    field_class = ISODateField


class BooleanField(forms.Field):
    """Exactly `true` or `false` (Django's NullBooleanField would read anything else
    as "no filter", silently widening the list)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if value not in ("true", "false"):
            raise ValidationError(self.error_messages["invalid"], "invalid")
        return value == "true"


class BooleanFilter(django_filters.Filter):
    field_class = BooleanField
