import datetime as dt

from django import forms
from django.utils import timezone

from bookings.models import BookingStatus


class ChangeStatusForm(forms.Form):
    """The admin's change-status form: a status and an optional moment (default now)."""

    status = forms.ChoiceField(choices=BookingStatus.choices)
    status_at = forms.DateTimeField(
        required=False,
        label="Moment (UTC, whatever the business's zone)",
        help_text=(
            "When the status took effect, in UTC, e.g. 2025-01-15 14:30, as on the API. "
            "Leave empty for now. The status date recorded is this moment's date in the "
            "business's time zone. Choosing the current status again re-stamps its moment "
            "(a correction)."
        ),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
    )

    def clean_status_at(self) -> dt.datetime | None:
        moment = self.cleaned_data.get("status_at")
        if moment is None:
            return None
        if timezone.is_aware(moment):
            return moment.astimezone(dt.UTC)
        return moment.replace(tzinfo=dt.UTC)
