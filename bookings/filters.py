"""Query-string filters for GET /v2/bookings."""

import django_filters
from django import forms
from django.db import models

from bookings.models import Booking
from bookings.stamping import BookingStatus
from core.filters import ChoicesFilter, UTCMomentFilter


class CountField(forms.IntegerField):
    """A whole number the API would store in a count: 0 to 2**31 - 1, as on create."""

    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=2**31 - 1, **kwargs)


class IntegerFilter(django_filters.NumberFilter):
    """A whole number (django-filter's NumberFilter would take 0.5 for a count)."""

    field_class = CountField


RANGE_LOOKUPS = ["exact", "gt", "gte", "lt", "lte"]


class BookingFilter(django_filters.FilterSet):
    # No DISTINCT: filtering on a column of the booking itself cannot repeat a row, and
    # DISTINCT would make PostgreSQL read and sort every match instead of walking the
    # (business, status, id) index for one page.
    status = ChoicesFilter(choices=BookingStatus.choices, distinct=False)
    name = django_filters.CharFilter(lookup_expr="exact")
    name__icontains = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    # Holds (SPEC §15.2), bounds inclusive: the bookings held until within a range.
    hold_until_after = UTCMomentFilter(field_name="hold_until", lookup_expr="gte")
    hold_until_before = UTCMomentFilter(field_name="hold_until", lookup_expr="lte")

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if data is not None:
            # Only the filters the query string names. An absent filter filters
            # nothing, yet django-filter deep-copies every filter, and its form every
            # field, on each request, which with this many filters was a large share
            # of a list request's CPU. Each filter here reads one query parameter, its
            # name.
            self.base_filters = {
                name: definition
                for name, definition in type(self).base_filters.items()
                if name in data
            }
        super().__init__(data, queryset, request=request, prefix=prefix)

    class Meta:
        model = Booking
        fields = {
            "tentative_at": RANGE_LOOKUPS,
            "definite_at": RANGE_LOOKUPS,
            "lost_at": RANGE_LOOKUPS,
            "created_at": RANGE_LOOKUPS,
            "updated_at": RANGE_LOOKUPS,
            "starts_at": RANGE_LOOKUPS,
            "ends_at": RANGE_LOOKUPS,
            "tentative_date": RANGE_LOOKUPS,
            "definite_date": RANGE_LOOKUPS,
            "lost_date": RANGE_LOOKUPS,
            "guest_count": RANGE_LOOKUPS,
        }
        # ISO 8601 bounds; an offset is converted to UTC, none means UTC.
        filter_overrides = {
            models.DateTimeField: {"filter_class": UTCMomentFilter},
            models.PositiveIntegerField: {"filter_class": IntegerFilter},
        }
