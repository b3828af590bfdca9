import datetime as dt

from django import forms

from accounts.admin_time import LocalDateTimeField, label_with_zone
from bookings.models import EDITABLE_FIELDS, Booking
from bookings.stamping import BookingStatus


class ChangeStatusForm(forms.Form):
    """The admin's change-status form: a status and an optional moment (default now),
    typed on the business's clock (the view runs it under the business's zone)."""

    status = forms.ChoiceField(choices=BookingStatus.choices)
    status_at = LocalDateTimeField(
        required=False,
        help_text=(
            "When the status took effect: a date and a time in the business's time zone "
            "(the UTC instant it means is shown beside it). Leave both empty for now. The "
            "status date recorded is this moment's local date. Choosing the current "
            "status again re-stamps its moment (a correction)."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        label_with_zone(self.fields["status_at"], "Moment")

    def clean_status_at(self) -> dt.datetime | None:
        moment = self.cleaned_data.get("status_at")
        return None if moment is None else moment.astimezone(dt.UTC)


class BookingAdminForm(forms.ModelForm):
    """The admin's booking form, with the version it was opened at (hidden): a save over
    a newer version is refused, the form kept."""

    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # On the business's clock: the admin runs the form under the business's zone.
    starts_at = LocalDateTimeField(required=False)
    ends_at = LocalDateTimeField(required=False)

    class Meta:
        model = Booking
        fields = ["business", *EDITABLE_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial.setdefault("opened_version", self.instance.version)
        label_with_zone(self.fields["starts_at"], "Starts at")
        label_with_zone(self.fields["ends_at"], "Ends at")

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
