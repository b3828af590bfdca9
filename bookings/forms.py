import datetime as dt

from django import forms
from django.utils import timezone

from bookings.models import BookingStatus


class ChangeStatusForm(forms.Form):
    """The admin's change-status form: a status and an optional moment (default now)."""

    status = forms.ChoiceField(choices=BookingStatus.choices)
    status_at = forms.DateTimeField(
        required=False,
        label="Moment (UTC)",
        help_text=(
            "When the status took effect, in UTC, e.g. 2025-01-15 14:30. Leave empty for now. "
            "Choosing the current status again re-stamps its moment (a correction)."
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


class DateRangeForm(forms.Form):
    """The bounds of the admin's date range filter: `<field>__gte` and `<field>__lte`,
    both optional and inclusive."""

    def __init__(self, *args, since: str, until: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.since, self.until = since, until
        self.fields[since] = forms.DateField(
            required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
        )
        self.fields[until] = forms.DateField(
            required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
        )

    def clean(self) -> dict:
        cleaned_data = super().clean()
        since, until = cleaned_data.get(self.since), cleaned_data.get(self.until)
        if since and until and since > until:
            raise forms.ValidationError("“From” is after “To”.")
        return cleaned_data

    def bounds(self) -> dict[str, dt.date]:
        """The valid, non-empty bounds as lookups; none when the form has errors."""
        if not self.is_valid():
            return {}
        return {name: value for name, value in self.cleaned_data.items() if value is not None}
