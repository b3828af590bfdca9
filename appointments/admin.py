"""The admin of resources and appointments (SPEC §14.6), and the day board.

Staff see their own business's (BusinessScopedAdmin); superusers see all. Every write
goes through appointments.actions with source "admin", as the API's do: the add and
change forms, and the change-status page, which offers only the statuses the list
allows from the current one (SPEC §14.3, with dependsOn) and that staff may choose
(`userSelectable`). Appointments and resources are never deleted. Moments are typed
and shown on the business's clock (Django's forms under `timezone.override`).
"""

import datetime as dt
from contextlib import contextmanager

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from accounts.admin_scoping import BusinessScopedAdmin, HistoryInline
from accounts.models import Business
from appointments import actions
from appointments.board import DayBoard
from appointments.models import Appointment, AppointmentStatusChange, Resource
from appointments.representation import EDITABLE_FIELDS
from appointments.rules import allowed_moves, blocks_time, depends_on_allows
from core.errors import DomainError
from core.models import ChangeSource
from core.moments import local_day_bounds
from statuses.models import Status, StatusName

HISTORY_ON_CHANGE_STATUS_PAGE = 50


def zone_of(business_id: int | None) -> dt.tzinfo:
    """The business's zone; UTC for none (a superuser's form before one is chosen)."""
    business = Business.objects.filter(pk=business_id).only("timezone").first()
    return business.zone if business is not None else dt.UTC


@contextmanager
def on_business_clock(business_id: int | None):
    """Forms read and show moments in the business's zone while this lasts."""
    with timezone.override(zone_of(business_id)):
        yield


def local_text(moment: dt.datetime | None) -> str | None:
    """The moment on the current (the business's) clock, with the zone named."""
    if moment is None:
        return None
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M} {timezone.get_current_timezone_name()}"


def field_errors(form: forms.Form, error: DomainError) -> None:
    """Show a refusal of the write path on the form: on the field it names when the
    form has one, else above the form."""
    form.add_error(error.field if error.field in form.fields else None, error.message)


# --- resources ---------------------------------------------------------------------


@admin.register(Resource)
class ResourceAdmin(BusinessScopedAdmin):
    list_display = ["name", "active", "business", "created_at"]
    list_filter = ["active", "business"]
    search_fields = ["name"]
    fields = ["business", "name", "active"]
    ordering = ["business_id", "name", "id"]

    def get_list_display(self, request):
        if request.user.is_superuser:
            return self.list_display
        return [name for name in self.list_display if name != self.business_field]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and self.business_field not in fields:
            return [*fields, self.business_field]  # a resource never changes business
        return fields

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:  # e.g. a name taken meanwhile (ignoring case)
            self.message_user(request, f"{error.message} Nothing was saved.", messages.ERROR)
            return redirect(request.get_full_path())

    def save_model(self, request, obj, form, change) -> None:
        business_id = self.scope_business_id(request) or obj.business_id
        fields = {"name": form.cleaned_data["name"], "active": form.cleaned_data["active"]}
        if change:
            saved = actions.edit_resource(business_id, obj.pk, fields)
        else:
            saved = actions.create_resource(business_id, **fields)
        obj.pk, obj.business_id, obj.created_at = saved.pk, saved.business_id, saved.created_at
        obj._state.adding = False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # retired (active: false), never deleted: appointments keep it


# --- appointments ------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """By top-level status; without a choice, DELETED appointments are left out, as
    the API's list leaves them."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return StatusName.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset.not_deleted()
        return queryset.filter(status=self.value())


class ResourceListFilter(admin.SimpleListFilter):
    """By resource, offering the user's business's (a superuser's: all)."""

    title = "resource"
    parameter_name = "resource"

    def lookups(self, request, model_admin):
        resources = Resource.objects.in_list_order()
        if not request.user.is_superuser:
            resources = resources.for_business(request.user.business_id)
        return [(str(resource.pk), str(resource)) for resource in resources]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(resource_id=int(value)) if value.isdigit() else queryset.none()


class LocalDayFilter(admin.SimpleListFilter):
    """The appointments starting on a day of the business's clock (`?day=YYYY-MM-DD`,
    as the day board links it): yesterday, today and the next days offered."""

    title = "day (local)"
    parameter_name = "day"

    def lookups(self, request, model_admin):
        today = timezone.localdate()
        days = [today + dt.timedelta(days=offset) for offset in range(-1, 7)]
        named = {today - dt.timedelta(days=1): "Yesterday", today: "Today"}
        return [(day.isoformat(), named.get(day, f"{day:%a %Y-%m-%d}")) for day in days]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        try:
            day = dt.date.fromisoformat(self.value())
        except ValueError:
            return queryset.none()
        start, end = local_day_bounds(day, timezone.get_current_timezone())
        return queryset.filter(starts_at__gte=start, starts_at__lt=end)


class AppointmentStatusChangeInline(HistoryInline):
    """The history, read-only and newest first, with the names the statuses had."""

    model = AppointmentStatusChange
    fk_name = "appointment"
    fields = ["recorded", "from_name", "to_name", "moment", "changed_by", "source", "note"]
    readonly_fields = fields

    @admin.display(description="recorded")
    def recorded(self, change: AppointmentStatusChange) -> str | None:
        return local_text(change.recorded_at)

    @admin.display(description="from")
    def from_name(self, change: AppointmentStatusChange) -> str:
        return f"{change.from_status} / {change.from_sub_status}" if change.from_status else "—"

    @admin.display(description="to")
    def to_name(self, change: AppointmentStatusChange) -> str:
        return f"{change.to_status} / {change.to_sub_status}"

    @admin.display(description="moment")
    def moment(self, change: AppointmentStatusChange) -> str | None:
        return local_text(change.status_at)


class StatusChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, status: Status) -> str:
        if status.sub_status == status.status:
            return status.status
        return f"{status.status} / {status.sub_status}"


def offered_statuses(business_id: int, current: str | None):
    """The statuses of the business's list staff may move an appointment in `current`
    (None: a new one) to: active, `userSelectable`, and allowed by SPEC §14.3's table
    and their `dependsOn`; in list order."""
    candidates = (
        Status.objects.for_business(business_id)
        .filter(active=True, user_selectable=True, status__in=allowed_moves(current))
        .in_list_order()
    )
    allowed = [s.pk for s in candidates if depends_on_allows(s.depends_on, current)]
    return Status.objects.filter(pk__in=allowed).in_list_order()


class AppointmentAdminForm(forms.ModelForm):
    """An appointment's ordinary fields, checked by the write path's own rules before
    the save; on add, the status it starts in; on change, the version it was opened
    at (a save over a newer version is refused)."""

    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    initial_status = StatusChoiceField(
        queryset=Status.objects.none(),
        required=False,
        label="Status",
        help_text="Empty: the list's first active OPEN status.",
    )

    class Meta:
        model = Appointment
        fields = ["business", *(name.removesuffix("_id") for name in EDITABLE_FIELDS)]

    def __init__(self, *args, business_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.business_id = business_id or self.instance.business_id
        if "resource" in self.fields:
            resources = Resource.objects.filter(active=True)
            if self.instance.resource_id is not None:  # a retired one it keeps
                resources = Resource.objects.filter(
                    Q(active=True) | Q(pk=self.instance.resource_id)
                )
            if self.business_id is not None:
                resources = resources.for_business(self.business_id)
            self.fields["resource"].queryset = resources.in_list_order()
        if "initial_status" in self.fields:
            self.fields["initial_status"].queryset = offered_statuses(self.business_id, None)
        if self.instance.pk is not None:
            self.initial.setdefault("opened_version", self.instance.version)

    def clean(self):
        cleaned = super().clean()
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        resource = cleaned.get("resource")
        if starts_at is None or ends_at is None:
            return cleaned
        try:
            actions.ensure_span(starts_at, ends_at)
        except DomainError as error:
            field_errors(self, error)
            return cleaned
        blocks = self.instance.pk is None or self.instance.blocks_time
        initial = cleaned.get("initial_status")
        if initial is not None:
            blocks = blocks_time(initial.status)
        if resource is not None and blocks:
            probe = Appointment(
                pk=self.instance.pk, resource=resource, starts_at=starts_at, ends_at=ends_at
            )
            conflicts = actions.stored_conflicts(probe)
            if conflicts:
                field_errors(self, actions.TimeConflict(sorted(conflicts)))
        return cleaned


@admin.register(Appointment)
class AppointmentAdmin(BusinessScopedAdmin):
    form = AppointmentAdminForm
    list_display = ["starts", "ends", "client_name", "resource", "status", "sub_status", "business"]
    list_display_links = ["starts", "client_name"]
    list_filter = [StatusFilter, ResourceListFilter, LocalDayFilter, "business"]
    list_select_related = ["resource", "business"]
    search_fields = ["client_name", "client_email"]
    search_help_text = "Search by the client's name or e-mail address."
    ordering = ["starts_at", "id"]
    inlines = [AppointmentStatusChangeInline]
    readonly_fields = ["status_line", "status_moment", "outcomes", "created", "updated"]
    change_form_template = "admin/appointments/appointment/change_form.html"
    change_list_template = "admin/appointments/appointment/change_list.html"

    # --- what staff see ----------------------------------------------------------

    def get_list_display(self, request):
        if request.user.is_superuser:
            return self.list_display
        return [name for name in self.list_display if name != self.business_field]

    def get_fieldsets(self, request, obj=None):
        details = ["resource", "starts_at", "ends_at", "client_name", "client_email", "notes"]
        if request.user.is_superuser or obj is not None:
            details.insert(0, "business")
        if obj is None:
            if self.scope_business_id(request) is not None:
                details.append("initial_status")  # a superuser's business is not known yet
            return [(None, {"fields": details})]
        return [
            (None, {"fields": [*details, "opened_version"]}),
            (
                "Status",
                {
                    "fields": ["status_line", "status_moment", "outcomes"],
                    "description": "Read-only here: use “Change status” (top right).",
                },
            ),
            ("Record", {"fields": ["created", "updated"], "classes": ["collapse"]}),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        business_id = self.scope_business_id(request)

        class ScopedForm(form):
            def __init__(self, *args, **form_kwargs):
                super().__init__(*args, business_id=business_id, **form_kwargs)

        return ScopedForm

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and self.business_field not in fields:
            return [*fields, self.business_field]  # never moves between businesses
        return fields

    @admin.display(description="starts", ordering="starts_at")
    def starts(self, appointment: Appointment) -> str | None:
        return local_text(appointment.starts_at)

    @admin.display(description="ends", ordering="ends_at")
    def ends(self, appointment: Appointment) -> str | None:
        return local_text(appointment.ends_at)

    @admin.display(description="status")
    def status_line(self, appointment: Appointment) -> str:
        return (
            f"{appointment.status} / {appointment.sub_status} (status {appointment.list_status_id})"
        )

    @admin.display(description="since")
    def status_moment(self, appointment: Appointment) -> str | None:
        return local_text(appointment.status_at)

    @admin.display(description="outcomes")
    def outcomes(self, appointment: Appointment) -> str:
        stamps = [
            f"{label} {local_text(moment)}"
            for label, moment in (
                ("completed", appointment.completed_at),
                ("no show", appointment.no_show_at),
                ("cancelled", appointment.cancelled_at),
            )
            if moment is not None
        ]
        return "; ".join(stamps) or "—"

    @admin.display(description="created")
    def created(self, appointment: Appointment) -> str | None:
        return local_text(appointment.created_at)

    @admin.display(description="updated")
    def updated(self, appointment: Appointment) -> str | None:
        return local_text(appointment.updated_at)

    # --- on the business's clock ----------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        with on_business_clock(self.scope_business_id(request)):
            return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        business_id = self.scope_business_id(request)
        if business_id is None and object_id is not None and str(object_id).isdigit():
            business_id = (
                Appointment.objects.filter(pk=object_id)
                .values_list("business_id", flat=True)
                .first()
            )
        with on_business_clock(business_id):
            try:
                return super().changeform_view(request, object_id, form_url, extra_context)
            except DomainError as error:
                # Refused by the write path after the form's own checks (a slot taken
                # meanwhile, a newer version): its transaction rolled back.
                self.message_user(request, f"{error.message} Nothing was saved.", messages.ERROR)
                return redirect(request.get_full_path())

    # --- writes through the actions ------------------------------------------------

    def save_model(self, request, obj, form, change) -> None:
        fields = {name: form.cleaned_data[name.removesuffix("_id")] for name in EDITABLE_FIELDS}
        fields["resource_id"] = fields["resource_id"].pk if fields["resource_id"] else None
        if change:
            saved = actions.edit_appointment(
                obj.business_id,
                obj.pk,
                fields,
                expected_versions={form.cleaned_data["opened_version"]},
            )
        else:
            initial = form.cleaned_data.get("initial_status")
            saved = actions.create_appointment(
                self.scope_business_id(request) or obj.business_id,
                fields,
                target=actions.Target(status_id=initial.pk if initial else None),
                by=request.user,
                source=ChangeSource.ADMIN,
            )
        for field in Appointment._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # moved to a DELETED status instead, which keeps the history

    # --- the change-status page and the day board ---------------------------------

    def get_urls(self):
        return [
            path(
                "<int:object_id>/change_status/",
                self.admin_site.admin_view(self.change_status_view),
                name="appointments_appointment_change_status",
            ),
            path(
                "board/",
                self.admin_site.admin_view(self.board_view),
                name="appointments_appointment_board",
            ),
            *super().get_urls(),
        ]

    def change_status_view(self, request, object_id: int):
        """Move the appointment to one of the statuses offered (see offered_statuses),
        through actions.change_status with source "admin"."""
        appointment = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, appointment):
            raise PermissionDenied
        with on_business_clock(appointment.business_id):
            form = ChangeStatusForm(
                request.POST or None,
                statuses=offered_statuses(appointment.business_id, appointment.status),
            )
            if request.method == "POST" and form.is_valid():
                chosen = form.cleaned_data["status"]
                try:
                    actions.change_status(
                        appointment.business_id,
                        appointment.pk,
                        actions.Target(status_id=chosen.pk),
                        at=form.cleaned_data["status_at"],
                        note=form.cleaned_data["note"] or None,
                        by=request.user,
                        source=ChangeSource.ADMIN,
                    )
                except DomainError as error:
                    field_errors(form, error)
                else:
                    self.message_user(
                        request,
                        f"{appointment.client_name}: {appointment.status} / "
                        f"{appointment.sub_status} → {chosen.status} / {chosen.sub_status}.",
                        messages.SUCCESS,
                    )
                    return redirect(
                        reverse("admin:appointments_appointment_change", args=[appointment.pk])
                    )
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": appointment,
                "form": form,
                "title": f"Change status of {appointment.client_name}’s appointment",
                "subtitle": None,
                "starts": local_text(appointment.starts_at),
                "since": local_text(appointment.status_at),
                "history": appointment.status_changes.order_by("-id")[
                    :HISTORY_ON_CHANGE_STATUS_PAGE
                ],
            }
            return TemplateResponse(
                request, "admin/appointments/appointment/change_status.html", context
            )

    def board_view(self, request):
        """One local day of the business, a column per resource (SPEC §14.6)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        business = self.board_business(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Day board",
            "subtitle": None,
            "businesses": Business.objects.order_by("name") if request.user.is_superuser else [],
            "business": business,
        }
        if business is not None:
            with on_business_clock(business.pk):
                try:
                    day = dt.date.fromisoformat(request.GET.get("date") or "")
                except ValueError:
                    day = timezone.localdate()
                context["board"] = DayBoard.of(business, day)
        return TemplateResponse(request, "admin/appointments/appointment/board.html", context)

    def board_business(self, request) -> Business | None:
        if not request.user.is_superuser:
            return request.user.business
        choice = request.GET.get("business", "")
        return Business.objects.filter(pk=int(choice)).first() if choice.isdigit() else None


class ChangeStatusForm(forms.Form):
    status = StatusChoiceField(queryset=Status.objects.none(), empty_label=None)
    status_at = forms.SplitDateTimeField(
        required=False,
        label="Moment",
        widget=admin.widgets.AdminSplitDateTime,
        help_text="On the business's clock. Empty: now. No COMPLETED or NO_SHOW before "
        "the appointment starts.",
    )
    note = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, statuses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].queryset = statuses
        self.fields["status_at"].label = f"Moment ({timezone.get_current_timezone_name()})"
