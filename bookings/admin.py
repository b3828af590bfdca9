"""The bookings admin.

Staff tied to a business see and change only its bookings (BusinessScopedAdmin);
superusers see all. Status fields are read-only everywhere: the one way to change a
status is the "Change status" page, which calls `Booking.change_status(...,
source="admin")` like the API does, so the history records every change.
"""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from rangefilter.filters import DateRangeQuickSelectListFilter

from accounts.admin_scoping import BusinessScopedAdmin, HistoryInline
from accounts.admin_time import local_moment_text, zone_of
from accounts.models import Business
from bookings import actions
from bookings.actions import BULK_CHANGE_LIMIT
from bookings.forms import BookingAdminForm, ChangeStatusForm
from bookings.models import EDITABLE_FIELDS, HOLDING, Booking, BookingStatusChange
from core.errors import DomainError, NotFound
from core.models import ChangeSource

STATUS_FIELDS = [
    "status",
    ("tentative_date", "tentative_moment"),
    "hold",
    ("definite_date", "definite_moment"),
    ("lost_date", "lost_moment"),
    ("lost_reason_label", "lost_note"),
]
HOLD_SOON = dt.timedelta(days=7)
HISTORY_ON_CHANGE_STATUS_PAGE = 50


def utc_text(moment: dt.datetime | None) -> str | None:
    """A moment to the second, in UTC (the admin's own format drops the seconds);
    None shows as the admin's empty value."""
    if moment is None:
        return None
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def local_text(moment: dt.datetime | None, business: Business) -> str | None:
    """The moment to the second in the business's time zone; None for a business on
    UTC (the UTC time says it all) or no moment."""
    if moment is None or business.timezone == "UTC":
        return None
    return f"{moment.astimezone(business.zone):%Y-%m-%d %H:%M:%S}"


def moment_text(moment: dt.datetime | None, business: Business) -> str | None:
    """`utc_text`, followed for a business not on UTC by the same moment in its time
    zone, e.g. "2025-01-11 02:00:00 UTC (2025-01-10 21:00:00 America/New_York)"."""
    local = local_text(moment, business)
    if local is None:
        return utc_text(moment)
    return f"{utc_text(moment)} ({local} {business.timezone})"


class HiddenInputLeftOutWhenEmpty(forms.HiddenInput):
    def render(self, name, value, attrs=None, renderer=None) -> str:
        if value is None or value == "":
            return ""
        return super().render(name, value, attrs, renderer)


class DateRangeFilter(DateRangeQuickSelectListFilter):
    """The library's from/to range (both ends optional and inclusive) with its quick
    links, "Has date" and "No date" among them.

    One repair: the library's "has a date" value is a BooleanField in a hidden input, so
    the range form sent with no bound meant "Has date" (a missing or empty value cleans
    to False, and the admin reads an empty `__isnull=` as False too) and hid every
    booking without that date. Here no value means any date, and the input is sent
    only when "Has date" or "No date" was chosen.
    """

    def _get_form_fields(self):
        fields = super()._get_form_fields()
        if self.lookup_kwarg_isnull in fields:
            fields[self.lookup_kwarg_isnull] = forms.NullBooleanField(
                required=False, widget=HiddenInputLeftOutWhenEmpty
            )
        return fields


class StatusChangeInline(HistoryInline):
    """The audit trail, read-only and newest first."""

    model = BookingStatusChange
    fields = ["recorded", "from_status", "to_status", "moment", "changed_by", "origin", "why"]
    readonly_fields = fields

    @admin.display(description="recorded")
    def recorded(self, change: BookingStatusChange) -> str | None:
        return utc_text(change.recorded_at)

    @admin.display(description="moment")
    def moment(self, change: BookingStatusChange) -> str | None:
        return moment_text(change.status_at, change.booking.business)

    @admin.display(description="lost reason")
    def why(self, change: BookingStatusChange) -> str | None:
        """The reason and note a change to lost recorded, as they were then."""
        parts = [change.lost_reason["label"] if change.lost_reason else None, change.lost_note]
        return ": ".join(part for part in parts if part) or None

    @admin.display(description="source")
    def origin(self, change: BookingStatusChange) -> str:
        # As the API names it ("api", "admin", "command").
        return change.source

    def get_queryset(self, request):
        # Each row shows its moment in the business's zone too.
        return super().get_queryset(request).select_related("booking__business")


class HoldExpiresSoonFilter(admin.SimpleListFilter):
    title = "hold"
    parameter_name = "hold"

    def lookups(self, request, model_admin):
        return [("7d", "expires within 7 days"), ("any", "held")]

    def queryset(self, request, queryset):
        if self.value() == "7d":
            return queryset.filter(HOLDING, hold_until__lte=timezone.now() + HOLD_SOON)
        if self.value() == "any":
            return queryset.filter(HOLDING)
        return queryset


@admin.register(Booking)
class BookingAdmin(BusinessScopedAdmin):
    list_display = [
        "id",
        "name",
        "business",
        "status",
        "tentative_date",
        "hold",
        "definite_date",
        "lost_date",
        "starts",
    ]
    list_display_links = ["id", "name"]
    list_filter = [
        "status",
        HoldExpiresSoonFilter,
        ("tentative_date", DateRangeFilter),
        ("definite_date", DateRangeFilter),
        ("lost_date", DateRangeFilter),
        "business",
    ]
    list_select_related = ["business"]
    search_fields = ["name", "notes", "=id"]
    search_help_text = "Search by name or notes, or an exact booking id."
    autocomplete_fields = ["business"]
    readonly_fields = [
        "status",
        "tentative_date",
        "tentative_moment",
        "hold",
        "definite_date",
        "definite_moment",
        "lost_date",
        "lost_moment",
        "lost_reason_label",
        "lost_note",
        "created",
        "updated",
    ]
    inlines = [StatusChangeInline]
    form = BookingAdminForm
    change_form_template = "admin/bookings/booking/change_form.html"
    actions = ["change_status_of_selected"]

    def get_fieldsets(self, request, obj=None):
        details = ["name", "starts_at", "ends_at", "guest_count", "notes"]
        # Staff create bookings in their own business only; save_model sets it.
        if request.user.is_superuser or obj is not None:
            details.insert(0, "business")
        if obj is None:
            return [(None, {"fields": details, "description": "A new booking starts as lead."})]
        return [
            (None, {"fields": [*details, "opened_version"]}),
            (
                "Status",
                {
                    "fields": STATUS_FIELDS,
                    "description": (
                        "Read-only here: use “Change status” (top right), which keeps "
                        "the dates consistent and records the change in the history below. "
                        "Times are UTC (and local, for a business on another zone); dates "
                        "are the business's local dates."
                    ),
                },
            ),
            ("Record", {"fields": ["created", "updated"], "classes": ["collapse"]}),
        ]

    @admin.display(description="starts", ordering="starts_at")
    def starts(self, booking: Booking) -> str | None:
        return local_moment_text(booking.starts_at, booking.business.zone)

    @admin.display(description="tentative at")
    def tentative_moment(self, booking: Booking) -> str | None:
        return moment_text(booking.tentative_at, booking.business)

    @admin.display(description="hold until", ordering="hold_until")
    def hold(self, booking: Booking) -> str | None:
        return local_moment_text(booking.hold_until, booking.business.zone)

    @admin.display(description="lost reason")
    def lost_reason_label(self, booking: Booking) -> str | None:
        return booking.lost_reason["label"] if booking.lost_reason else None

    @admin.display(description="definite at")
    def definite_moment(self, booking: Booking) -> str | None:
        return moment_text(booking.definite_at, booking.business)

    @admin.display(description="lost at")
    def lost_moment(self, booking: Booking) -> str | None:
        return moment_text(booking.lost_at, booking.business)

    @admin.display(description="created")
    def created(self, booking: Booking) -> str | None:
        return moment_text(booking.created_at, booking.business)

    @admin.display(description="updated")
    def updated(self, booking: Booking) -> str | None:
        return moment_text(booking.updated_at, booking.business)

    # --- saving, and the change-status page ------------------------------------

    def zone_of_request(self, request, object_id: str | None = None) -> dt.tzinfo:
        """The zone a booking's times are typed and shown in: its business's; for a new
        booking, the staff member's business's, or the one a superuser's form chose."""
        if object_id is not None:
            booking = (
                self.get_queryset(request).filter(pk=object_id).values("business_id").first()
                if str(object_id).isdigit()
                else None
            )
            return zone_of(booking and booking["business_id"])
        chosen = request.POST.get(self.business_field, "")
        return zone_of(
            self.scope_business_id(request) or (int(chosen) if chosen.isdigit() else None)
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Read and rendered on the business's clock (accounts/admin_time.py).
        with timezone.override(self.zone_of_request(request, object_id)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):
                response.render()
        return response

    def get_object(self, request, object_id, from_field=None):
        booking = super().get_object(request, object_id, from_field)
        if booking is None or request.method != "POST":
            return booking
        # A save or a delete holds the row until it commits (the admin runs both in a
        # transaction): a booking deleted meanwhile is the admin's "doesn't exist", not a
        # save that finds no row.
        return self.get_queryset(request).select_for_update().filter(pk=booking.pk).first()

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # A booking never moves between businesses (its events belong to one).
        if obj is not None and self.business_field not in fields:
            return [*fields, self.business_field]
        return fields

    def save_model(self, request, obj, form, change) -> None:
        # Through the model's write paths, as the API: each writes its event.
        fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
        if change:
            # BookingAdminForm has compared the version under the lock already.
            obj.edit(fields, expected_versions={form.cleaned_data["opened_version"]})
            return
        business_id = self.scope_business_id(request) or obj.business_id
        created = Booking.objects.create_booking(
            business_id, fields, by=request.user, source=ChangeSource.ADMIN
        )
        for field in Booking._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False

    def delete_queryset(self, request, queryset) -> None:
        # Through the delete action, per business: each booking writes its
        # `booking.deleted` as it was, locked in id order.
        chosen = queryset.order_by("pk").values_list("business_id", "pk")
        by_business: dict[int, list[int]] = {}
        for business_id, pk in chosen:
            by_business.setdefault(business_id, []).append(pk)
        with transaction.atomic():
            for business_id, ids in by_business.items():
                actions.delete_bookings(business_id, ids)

    @admin.action(description="Change status of selected bookings", permissions=["change"])
    def change_status_of_selected(self, request, queryset):
        """bookings.actions.change_statuses for the selected bookings, with the form of
        the change-status page: at most BULK_CHANGE_LIMIT, of one business."""
        chosen = list(queryset.order_by("pk").values_list("pk", "business_id"))
        businesses = {business_id for _pk, business_id in chosen}
        if len(chosen) > BULK_CHANGE_LIMIT or len(businesses) > 1:
            self.message_user(
                request,
                f"Select at most {BULK_CHANGE_LIMIT} bookings, all of one business "
                f"({len(chosen)} of {len(businesses)} selected).",
                messages.ERROR,
            )
            return None
        ids = [pk for pk, _business_id in chosen]
        with timezone.override(zone_of(next(iter(businesses), None))):
            return self.change_status_of_selected_in_zone(request, queryset, businesses, ids)

    def change_status_of_selected_in_zone(self, request, queryset, businesses, ids):
        [business_id] = businesses
        form = ChangeStatusForm(
            request.POST if "apply" in request.POST else None, business_id=business_id
        )
        if "apply" in request.POST and form.is_valid():
            try:
                changed = actions.change_statuses(
                    business_id,
                    ids,
                    form.cleaned_data["status"],
                    at=form.cleaned_data["status_at"],
                    **form.change_details(),
                    by=request.user,
                    source=ChangeSource.ADMIN,
                )
            except DomainError as error:  # e.g. a future moment, or deleted meanwhile
                form.add_domain_error(error)
            else:
                self.message_user(
                    request,
                    f"Status of {len(changed)} booking{'s' if len(changed) != 1 else ''} "
                    f"changed to {changed[0][0].get_status_display()}.",
                    messages.SUCCESS,
                )
                return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "bookings": queryset.order_by("pk"),
            "selected": ids,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "title": f"Change status of {len(ids)} selected booking{'s' if len(ids) != 1 else ''}",
            "subtitle": None,
        }
        return TemplateResponse(
            request, "admin/bookings/booking/change_status_selected.html", context
        ).render()

    def get_urls(self):
        change_status = self.admin_site.admin_view(self.change_status_view)
        return [
            path(
                "<int:object_id>/change_status/",
                change_status,
                name="bookings_booking_change_status",
            ),
            *super().get_urls(),
        ]

    def change_status_view(self, request, object_id: int):
        """Change a booking's status through Booking.change_status (source "admin").

        The booking is looked up in the user's scoped queryset: another business's
        booking is a 404, as on the API.
        """
        booking = get_object_or_404(
            self.get_queryset(request).select_related("business"), pk=object_id
        )
        if not self.has_change_permission(request, booking):
            raise PermissionDenied
        with timezone.override(booking.business.zone):
            return self.change_status_in_zone(request, booking, object_id)

    def change_status_in_zone(self, request, booking: Booking, object_id: int):
        form = ChangeStatusForm(
            request.POST or None,
            initial={"status": booking.status},
            business_id=booking.business_id,
        )
        if request.method == "POST" and form.is_valid():
            previous_status = booking.get_status_display()
            try:
                entry = booking.change_status(
                    form.cleaned_data["status"],
                    at=form.cleaned_data["status_at"],
                    **form.change_details(),
                    by=request.user,
                    source=ChangeSource.ADMIN,
                )
            except NotFound:  # deleted since it was read
                return self._get_obj_does_not_exist_redirect(request, self.opts, str(object_id))
            except DomainError as error:
                form.add_domain_error(error)
            else:
                self.message_user(
                    request,
                    f"Status of “{booking.name}” changed from {previous_status} to "
                    f"{entry.get_to_status_display()} as of "
                    f"{moment_text(entry.status_at, booking.business)}.",
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:bookings_booking_change", args=[booking.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": booking,
            "form": form,
            "title": f"Change status of {booking.name}",
            "subtitle": None,
            "status_dates": [
                (
                    label,
                    getattr(booking, f"{label}_date"),
                    getattr(booking, f"{label}_at"),
                    local_text(getattr(booking, f"{label}_at"), booking.business),
                )
                for label in ("tentative", "definite", "lost")
            ],
            "timezone": booking.business.timezone,
            "hold": moment_text(booking.hold_until, booking.business),
            "history": booking.status_changes.order_by("-id")[:HISTORY_ON_CHANGE_STATUS_PAGE],
            "history_limit": HISTORY_ON_CHANGE_STATUS_PAGE,
        }
        return TemplateResponse(
            request, "admin/bookings/booking/change_status.html", context
        ).render()
