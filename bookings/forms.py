import datetime as dt

from django import forms
from django.utils import timezone

from bookings.models import EDITABLE_FIELDS, Booking
from bookings.stamping import BookingStatus


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


class BookingAdminForm(forms.ModelForm):
    """The admin's booking form, with the version it was opened at (hidden): a save over
    a newer version is refused, the form kept."""

    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Booking
        fields = ["business", *EDITABLE_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial.setdefault("opened_version", self.instance.version)

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            return cleaned
        # The stored version, locked until the save commits (the admin saves in one
        # transaction): a concurrent write either landed before, and is seen, or waits.
        stored = (
            Booking.objects.filter(pk=self.instance.pk)
            .select_for_update()
            .values_list("version", flat=True)
            .first()
        )
        opened = cleaned.get("opened_version")
        if stored is not None and opened != stored:
            raise forms.ValidationError(
                "This booking was changed by someone else since you opened it "
                f"(version {opened}, now {stored}). Your changes are kept below but not "
                "saved: open the booking again to see theirs.",
                code="stale_version",
            )
        return cleaned
