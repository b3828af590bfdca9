"""Query-string filters for GET /v2/appointments and GET /v2/resources."""

import django_filters

from accounts.models import Business
from appointments.models import Appointment, Resource
from core.filters import BooleanFilter, ChoicesFilter, IdFilter, ISODateFilter, UTCMomentFilter
from statuses.models import StatusName


class AppointmentFilter(django_filters.FilterSet):
    """SPEC §14.2's filters. Without `status` or `status_id`, DELETED appointments are
    left out; `date` and `status` both apply when both are given."""

    status = ChoicesFilter(choices=StatusName.choices, distinct=False)
    status_id = IdFilter(field_name="list_status_id")
    resource_id = IdFilter(field_name="resource_id")
    starts_at_after = UTCMomentFilter(field_name="starts_at", lookup_expr="gte")
    starts_at_before = UTCMomentFilter(field_name="starts_at", lookup_expr="lte")
    date = ISODateFilter(method="starting_on")

    class Meta:
        model = Appointment
        fields = []

    def starting_on(self, queryset, name, day):
        """The appointments that start on `day` in the business's zone."""
        zone = Business.objects.only("timezone").get(pk=self.request.user.business_id).zone
        return queryset.starting_on(day, zone)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        chosen = self.form.cleaned_data
        if not chosen.get("status") and chosen.get("status_id") is None:
            queryset = queryset.not_deleted()
        return queryset


class ResourceFilter(django_filters.FilterSet):
    active = BooleanFilter()

    class Meta:
        model = Resource
        fields = []
