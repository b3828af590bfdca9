"""Moments in the admin, as staff think of them: in their business's time zone.

Staff type a date and a time on their business's clock; the UTC instant it means is
shown beside the inputs as they type (and after any round trip). The admin's views
run each form, and render it, under `timezone.override(<the business's zone>)`, so
Django's own SplitDateTimeField reads the wall time in that zone (refusing a time that
a DST change skips or repeats) and shows stored moments in it. Lists show each moment
on its business's clock with the zone named: `2025-01-10 09:15 America/New_York`.
"""

import datetime as dt
import zoneinfo

from django import forms
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import Business


def local_moment_text(moment: dt.datetime | None, zone: dt.tzinfo) -> str | None:
    """`2025-01-10 09:15 America/New_York`; None (the admin's empty value) for none."""
    if moment is None:
        return None
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {zone_name(zone)}"


def zone_name(zone: dt.tzinfo) -> str:
    return zone.key if isinstance(zone, zoneinfo.ZoneInfo) else str(zone)


def zone_of(business_id: int | None) -> dt.tzinfo:
    """The business's zone, UTC for none (a superuser's form before a business is chosen)."""
    business = Business.objects.filter(pk=business_id).only("timezone").first()
    return business.zone if business is not None else dt.UTC


class LocalDateTimeWidget(forms.SplitDateTimeWidget):
    """A date and a time input (the browser's own pickers), then the UTC instant they
    mean in the current time zone, kept up to date as they change (accounts/utc_instant.js)."""

    class Media:
        js = ["accounts/utc_instant.js"]

    def __init__(self, attrs=None):
        super().__init__(
            attrs,
            date_format="%Y-%m-%d",
            time_format="%H:%M:%S",
            date_attrs={"type": "date"},
            time_attrs={"type": "time", "step": "1"},
        )

    def render(self, name, value, attrs=None, renderer=None) -> str:
        inputs = super().render(name, value, attrs, renderer)
        instant = ""
        if isinstance(value, dt.datetime) and timezone.is_aware(value):
            instant = f"= {value.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
        return format_html(
            '{}<span class="utc-instant" data-for="{}" data-zone="{}" style="margin-left: 0.5em">'
            "{}</span>",
            inputs,
            name,
            timezone.get_current_timezone_name(),
            instant,
        )


class LocalDateTimeField(forms.SplitDateTimeField):
    """A moment typed as a date and a time on the current zone's clock (Django's field:
    the wall time is read in the current time zone, a DST gap or overlap is refused)."""

    widget = LocalDateTimeWidget

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            "A date and a time in the business's time zone; the UTC instant it means is "
            "shown beside it.",
        )
        super().__init__(**kwargs)


def label_with_zone(field: forms.Field, label: str) -> None:
    """Name the current zone in a field's label: `Moment (America/New_York)`."""
    field.label = f"{label} ({timezone.get_current_timezone_name()})"
