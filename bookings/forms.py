import datetime as dt

from django import forms

from accounts.admin_time import LocalDateTimeField, label_with_zone
from bookings.models import EDITABLE_FIELDS, HOLD_EXPIRED, LOST_NOTE_MAX_LENGTH, Booking, LostReason
from bookings.stamping import KEEP_HOLD, BookingStatus
from core.errors import DomainError


class ChangeStatusForm(forms.Form):
    """The admin's change-status form: a status and an optional moment (default now),
    typed on the business's clock (the view runs it under the business's zone); for
    lost, a reason of the business's list and a note; for tentative, the hold (set,
    extended, or removed). `change_details()` hands them to the action, which checks
    them as it checks the API's."""

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

    lost_reason = forms.ModelChoiceField(
        queryset=LostReason.objects.none(),
        required=False,
        help_text="For lost: why (the business's active reasons).",
    )
    lost_note = forms.CharField(
        required=False,
        max_length=LOST_NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="For lost: anything else worth keeping.",
    )
    hold_until = LocalDateTimeField(
        required=False,
        help_text=(
            "For tentative: until when the date is held; the booking is then lost "
            "(reason “Hold expired”), and a reminder goes out before. Empty keeps the hold "
            "it has; a new one replaces it (and re-arms the reminder)."
        ),
    )
    remove_hold = forms.BooleanField(required=False, help_text="For tentative: hold no longer.")
    # The action's names of the fields it may refuse, where they differ.
    FIELD_OF_ARGUMENT = {"lost_reason_id": "lost_reason", "status_date": "status_at"}

    def __init__(self, *args, business_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        label_with_zone(self.fields["status_at"], "Moment")
        label_with_zone(self.fields["hold_until"], "Hold until")
        self.fields["lost_reason"].queryset = (
            LostReason.objects.list_of(business_id).filter(active=True).exclude(code=HOLD_EXPIRED)
        )

    def clean_status_at(self) -> dt.datetime | None:
        moment = self.cleaned_data.get("status_at")
        return None if moment is None else moment.astimezone(dt.UTC)

    def change_details(self) -> dict:
        """The reason, note and hold as the action takes them (`lost_reason_id`,
        `lost_note`, `hold_until`: KEEP_HOLD when neither set nor removed)."""
        cleaned = self.cleaned_data
        reason, until = cleaned.get("lost_reason"), cleaned.get("hold_until")
        hold_until = KEEP_HOLD
        if cleaned.get("remove_hold"):
            hold_until = None
        elif until is not None:
            hold_until = until.astimezone(dt.UTC)
        return {
            "lost_reason_id": reason.pk if reason else None,
            "lost_note": cleaned.get("lost_note") or None,
            "hold_until": hold_until,
        }

    def add_domain_error(self, error: DomainError) -> None:
        """Show the action's refusal beside the field it names (else above the form)."""
        field = self.FIELD_OF_ARGUMENT.get(error.field, error.field)
        self.add_error(field if field in self.fields else None, error.message)


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
