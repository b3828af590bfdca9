"""Staff admin for statuses.

A staff user tied to a business sees that business's statuses and the shared defaults,
and changes only the former; superusers change everything. Writes go through the same
aggregate as the API, `services.StatusList` (whose first write to a business's list
forks the shared one): the add and change forms, the list's inline edits, the fork
action and the deletes (the delete page and "delete selected").
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html

from accounts.models import Business
from core.errors import DomainError, NotFound
from statuses.models import DEPENDS_ON_MAX, WRITABLE_FIELDS, Status, StatusName
from statuses.services import StatusList

SHARED = "shared"


class BusinessListFilter(admin.SimpleListFilter):
    """By business, offering only the businesses the user may see (and the shared list)."""

    title = "business"
    parameter_name = "business"

    def lookups(self, request, model_admin):
        businesses = Business.objects.filter(statuses__isnull=False).distinct()
        if not request.user.is_superuser:
            businesses = businesses.filter(pk=request.user.business_id)
        return [(SHARED, "Shared defaults"), *((str(b.pk), str(b)) for b in businesses)]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == SHARED:
            return queryset.shared()
        try:
            return queryset.for_business(int(value))
        except ValueError:
            return queryset.none()


class StatusAdminForm(forms.ModelForm):
    depends_on = forms.TypedMultipleChoiceField(
        choices=StatusName.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Depends on",
        help_text=(
            "An appointment may enter this status only from one of these top-level "
            "statuses (as well as the moves the list allows). None checked: no restriction."
        ),
    )

    class Meta:
        model = Status
        fields = ["business", *(name for name in WRITABLE_FIELDS if name != "depends_on")]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("depends_on", self.instance.depends_on or [])

    def clean_depends_on(self) -> list[str] | None:
        chosen = self.cleaned_data["depends_on"]
        if len(chosen) > DEPENDS_ON_MAX:
            raise forms.ValidationError(f"Check at most {DEPENDS_ON_MAX}.")
        return [name for name in StatusName.values if name in chosen] or None

    def clean(self):
        cleaned_data = super().clean()
        # Django checks the unique constraints only over the form's fields; once the
        # business is read-only (on change) the check is made here.
        if "business" not in self.fields and self.instance.pk is not None:
            candidate = Status(
                pk=self.instance.pk,
                business_id=self.instance.business_id,
                status=cleaned_data.get("status", self.instance.status),
                sub_status=cleaned_data.get("sub_status", self.instance.sub_status),
            )
            if candidate.name_is_taken():
                raise forms.ValidationError(candidate.duplicate_error().message)
        return cleaned_data


class ForkSharedListForm(forms.Form):
    business = forms.ModelChoiceField(
        queryset=Business.objects.exclude(
            Exists(Status.objects.filter(business_id=OuterRef("pk")))
        ),
        help_text="Only businesses still on the shared list are offered.",
    )


@admin.register(Status)
class StatusAdmin(admin.ModelAdmin):
    form = StatusAdminForm
    list_display = [
        "id",
        "sub_status",
        "status",
        "list_name",
        "sort_order",
        "active",
        "user_selectable",
        "modified",
    ]
    list_display_links = ["id", "sub_status"]
    list_editable = ["sort_order", "active", "user_selectable"]
    list_filter = [BusinessListFilter, "status", "active"]
    list_select_related = ["business"]
    search_fields = ["sub_status", "status", "business__name", "=business__id"]
    ordering = ["business_id", "sort_order", "id"]
    readonly_fields = ["created_at", "created_user", "modified_at", "modified_user"]
    # dependsOn's column is not editable by a model form: StatusAdminForm declares the
    # field, saved through StatusList like the others.
    exclude = ["depends_on"]
    actions = ["fork_shared_list"]
    change_list_template = "admin/statuses/status/change_list.html"
    change_form_template = "admin/statuses/status/change_form.html"

    # --- the list -------------------------------------------------------------------

    def get_ordering(self, request):
        """Each list in its own order (sortOrder, then id), one list after another: a
        staff user's own list first and the shared defaults after it, for a superuser
        the shared defaults first, then the businesses by id. Explicit about where the
        shared list (business NULL) goes, as SQLite and PostgreSQL place NULLs apart."""
        by_list = (
            F("business_id").asc(nulls_first=True)
            if request.user.is_superuser
            else F("business_id").asc(nulls_last=True)
        )
        return [by_list, "sort_order", "id"]

    def get_list_display(self, request):
        if request.user.is_superuser:
            return self.list_display
        return [
            "list_name_for_staff" if name == "list_name" else name for name in self.list_display
        ]

    @admin.display(description="list", ordering="business_id")
    def list_name(self, status: Status):
        if status.is_shared:
            return format_html('<span class="shared-list">{}</span>', "Shared defaults")
        return str(status.business)

    @admin.display(description="list", ordering="business_id")
    def list_name_for_staff(self, status: Status):
        if status.is_shared:
            return format_html(
                '<span class="shared-list" title="{}">{}</span>',
                "Only a superuser changes the shared list; copy it into your business first.",
                "Shared default · read-only",
            )
        return str(status.business)

    @admin.display(description="modified", ordering="modified_at")
    def modified(self, status: Status):
        if status.modified_at is None:
            return None
        return format_html(
            '<span title="{} UTC">{}</span>{}',
            f"{status.modified_at:%Y-%m-%d %H:%M:%S}",
            f"{status.modified_at:%Y-%m-%d}",
            f" by {status.modified_user}" if status.modified_user else "",
        )

    def changelist_view(self, request, extra_context=None):
        business_id = None if request.user.is_superuser else request.user.business_id
        on_shared_list = (
            business_id is not None and not Status.objects.for_business(business_id).exists()
        )
        context = {
            "on_shared_list": on_shared_list,
            "staff_business": request.user.business if business_id is not None else None,
            **(extra_context or {}),
        }
        try:
            return super().changelist_view(request, extra_context=context)
        except NotFound as error:
            # A row was deleted by someone else while the list's edits were saved; the
            # edits' transaction rolled back, so nothing was written.
            self.message_user(
                request,
                f"{error.message} Perhaps it was deleted? Nothing was saved.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())
        except DomainError as error:
            # Refused by the list (e.g. appointments are in a status whose top-level
            # status the edits change); the edits' transaction rolled back.
            self.message_user(request, f"{error.message} Nothing was saved.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {
            "shared_read_only": not request.user.is_superuser,
            **(extra_context or {}),
        }
        try:
            return super().change_view(request, object_id, form_url, extra_context=context)
        except NotFound:
            # Deleted by someone else while this change was saved: the change's
            # transaction rolled back, and the admin says so as for any missing object.
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        except DomainError as error:
            # Refused by the list (e.g. a status that appointments are in cannot change
            # its top-level status; one in use cannot be deleted): nothing was written.
            self.message_user(request, f"{error.message} Nothing was saved.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        # The page itself refuses a status that appointments or their history refer
        # to (their foreign keys PROTECT it: Django lists them); one that became so
        # since the page was shown is refused by the list on delete.
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            self.message_user(request, f"{error.message} Nothing was deleted.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    # --- scoping ------------------------------------------------------------

    def get_queryset(self, request):
        statuses = super().get_queryset(request)
        if request.user.is_superuser:
            return statuses
        return statuses.reachable_by(request.user.business_id)

    def may_write(self, request, status: Status | None) -> bool:
        """Superusers write any status; other staff only their own business's."""
        if status is None or request.user.is_superuser:
            return True
        return status.business_id is not None and status.business_id == request.user.business_id

    def has_add_permission(self, request) -> bool:
        may_add = request.user.is_superuser or request.user.business_id is not None
        return may_add and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.may_write(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.may_write(request, obj) and super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            # What protects the status (appointments in it, history entries that entered
            # it) is the answer, not whether the user may delete those: nobody may.
            perms_needed = set()
        # "Delete selected" asks for the delete permission without an object.
        if any(not self.may_write(request, status) for status in objs):
            perms_needed = {*perms_needed, "shared status"}
        return deleted, model_count, perms_needed, protected

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # A status never moves between lists.
        return ["business", *self.readonly_fields]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "business" and not request.user.is_superuser:
            kwargs["queryset"] = Business.objects.filter(pk=request.user.business_id)
            kwargs["required"] = True
            kwargs["initial"] = request.user.business_id
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changelist_formset(self, request, **kwargs):
        formset_class = super().get_changelist_formset(request, **kwargs)
        model_admin = self

        class ScopedFormSet(formset_class):
            """Rows the user may not change render disabled; what is posted for them is
            ignored."""

            def _construct_form(self, i, **form_kwargs):
                form = super()._construct_form(i, **form_kwargs)
                if not model_admin.may_write(request, form.instance):
                    pk_name = self.model._meta.pk.name
                    for name, field in form.fields.items():
                        # A read-only row's hidden id stays enabled: browsers leave
                        # disabled inputs out of the POST, and a row posted without its
                        # id would match no status and fail the whole list's save. A row
                        # outside the user's reach (no instance) stays wholly disabled.
                        if name != pk_name or form.instance.pk is None:
                            field.disabled = True
                return form

        return ScopedFormSet

    # --- writes through the model and the services ----------------------------

    def save_model(self, request, obj, form, change):
        if not self.may_write(request, obj):
            raise PermissionDenied
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            if changes:
                StatusList.of(obj.business_id).update(obj.pk, changes, by=request.user)
                obj.refresh_from_db()
        else:
            fields = {name: form.cleaned_data[name] for name in WRITABLE_FIELDS}
            created = StatusList.of(obj.business_id).add(fields, by=request.user)
            # A business's first status forks the shared list; the form's object
            # becomes the created (or matching copied) status.
            obj.pk = created.pk
            obj.refresh_from_db()

    def delete_model(self, request, obj) -> None:
        StatusList.of(obj.business_id).remove(obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        # One by one through each status's list, so each writes its `status.deleted`.
        with transaction.atomic():
            for status in queryset.order_by("pk"):
                StatusList.of(status.business_id).remove(status.pk)

    @admin.action(description="Copy the shared status list into the business", permissions=["add"])
    def fork_shared_list(self, request, queryset):
        if not request.user.is_superuser:
            self.fork_into(request, request.user.business)
            return None
        chosen = {status.business_id for status in queryset if status.business_id is not None}
        form = ForkSharedListForm(
            request.POST if "apply" in request.POST else None,
            initial={"business": next(iter(chosen))} if len(chosen) == 1 else None,
        )
        if form.is_valid():
            self.fork_into(request, form.cleaned_data["business"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Copy the shared status list into a business",
            "opts": self.model._meta,
            "form": form,
            "selected": queryset.values_list("pk", flat=True),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/statuses/status/fork_shared_list.html", context)

    def fork_into(self, request, business: Business) -> None:
        try:
            copies = StatusList.of(business).fork(by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        if copies:
            self.message_user(
                request,
                f"Copied {len(copies)} shared statuses into {business}.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                f"{business} already has its own status list; nothing was copied.",
                messages.WARNING,
            )
