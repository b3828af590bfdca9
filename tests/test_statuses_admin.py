"""The statuses admin (SPEC §5), through its HTTP pages: a staff user of a business sees
and changes only that business's statuses; the shared defaults are read-only except to
superusers; an action forks the shared list."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from statuses.models import Status
from statuses.services import StatusList, fork_shared_statuses
from tests.conftest import requires_postgresql
from tests.test_statuses_api import deleted_meanwhile, shared_defaults_installed  # noqa: F401

CHANGELIST = reverse("admin:statuses_status_changelist")
ADD = reverse("admin:statuses_status_add")
SHARED_COUNT = 14


def change_url(status: Status) -> str:
    return reverse("admin:statuses_status_change", args=[status.pk])


def all_rows() -> list[dict]:
    return list(Status.objects.order_by("id").values())


def change_form(status: Status, **overrides) -> dict:
    """The change form's fields as the page posts them (business is read-only there)."""
    data = {
        "status": status.status,
        "sub_status": status.sub_status,
        "status_type": status.status_type,
        "sort_order": status.sort_order,
        "_save": "Save",
    }
    if status.active:
        data["active"] = "on"
    if status.user_selectable:
        data["user_selectable"] = "on"
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def list_edit(status: Status, **overrides) -> dict:
    """A changelist POST editing one row's sort_order/active/user_selectable."""
    row = {"id": status.pk, "sort_order": status.sort_order, "active": "on"}
    if status.user_selectable:
        row["user_selectable"] = "on"
    row.update(overrides)
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    data.update({f"form-0-{name}": value for name, value in row.items() if value is not None})
    return data


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff(business) -> User:
    user = User.objects.create_user("desk", business=business, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="statuses"))
    return user


@pytest.fixture
def staff_client(staff) -> Client:
    return logged_in(staff)


@pytest.fixture
def superuser_client(db) -> Client:
    return logged_in(User.objects.create_superuser("root", "root@example.com", "pw"))


@pytest.fixture
def ours(business) -> Status:
    fork_shared_statuses(business)
    status = Status.objects.for_business(business.pk).get(sub_status="RUNNING_LATE")
    StatusList.of(status.business_id).update(status.pk, {"sub_status": "Ours only"}, by=None)
    return status


@pytest.fixture
def theirs(other_business) -> Status:
    fork_shared_statuses(other_business)
    status = Status.objects.for_business(other_business.pk).get(sub_status="RUNNING_LATE")
    StatusList.of(status.business_id).update(status.pk, {"sub_status": "Theirs only"}, by=None)
    return status


@pytest.fixture
def shared(db) -> Status:
    return Status.objects.shared().get(sub_status="RUNNING_LATE")


# --- seeing -----------------------------------------------------------------------------


def test_staff_changelist_shows_own_and_shared_statuses_only(staff_client, ours, theirs):
    response = staff_client.get(CHANGELIST)

    assert response.status_code == 200
    shown = {status.pk for status in response.context["cl"].result_list}
    expected = set(Status.objects.reachable_by(ours.business_id).values_list("pk", flat=True))
    assert shown == expected
    assert theirs.pk not in shown
    assert "Theirs only" not in response.content.decode()


def test_staff_cannot_open_another_business_status(staff_client, theirs):
    response = staff_client.get(change_url(theirs))

    assert response.status_code == 302  # the admin's "does not exist" redirect
    assert response["Location"] == reverse("admin:index")


def test_staff_business_filter_offers_only_their_business_and_the_shared_list(
    staff_client, ours, theirs
):
    response = staff_client.get(CHANGELIST)

    page = response.content.decode()
    assert "Demo Venue (43111)" in page
    assert "Rival Hall" not in page


def test_business_filter_shared_shows_only_the_shared_list(staff_client, ours):
    response = staff_client.get(CHANGELIST, {"business": "shared"})

    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert len(shown) == SHARED_COUNT
    assert all(status.business_id is None for status in shown)


def test_business_filter_with_another_business_id_shows_nothing(staff_client, theirs):
    response = staff_client.get(CHANGELIST, {"business": str(theirs.business_id)})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize(("query", "found"), [({"status": "OPEN"}, 5), ({"active": "0"}, 0)])
def test_status_and_active_filters_narrow_the_list(staff_client, query, found):
    response = staff_client.get(CHANGELIST, query)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == found


def test_search_finds_by_sub_status_within_reach(staff_client, ours, theirs):
    found = staff_client.get(CHANGELIST, {"q": "Ours"})
    out_of_reach = staff_client.get(CHANGELIST, {"q": "Theirs"})

    assert found.status_code == out_of_reach.status_code == 200
    assert [status.pk for status in found.context["cl"].result_list] == [ours.pk]
    assert list(out_of_reach.context["cl"].result_list) == []


def test_search_by_business_id_and_by_text_both_work(staff_client, ours):
    by_id = staff_client.get(CHANGELIST, {"q": str(ours.business_id)})
    by_text = staff_client.get(CHANGELIST, {"q": "Demo"})

    assert by_id.status_code == by_text.status_code == 200
    assert len(by_id.context["cl"].result_list) == SHARED_COUNT
    assert len(by_text.context["cl"].result_list) == SHARED_COUNT


def test_changelist_queries_do_not_grow_with_the_rows(superuser_client, business, other_business):
    fork_shared_statuses(business)
    with CaptureQueriesContext(connection) as one_business:
        superuser_client.get(CHANGELIST)
    fork_shared_statuses(other_business)

    with CaptureQueriesContext(connection) as two_businesses:
        response = superuser_client.get(CHANGELIST)

    assert len(response.context["cl"].result_list) == 3 * SHARED_COUNT
    # One more business in the filter's lookups is not one more query.
    assert len(two_businesses) == len(one_business)


# --- changing ---------------------------------------------------------------------------


def test_staff_edits_an_own_status_through_the_change_form(staff_client, ours):
    response = staff_client.post(change_url(ours), change_form(ours, sort_order=30))

    assert response.status_code == 302
    ours.refresh_from_db()
    assert ours.sort_order == 30
    assert ours.modified_user == "desk"
    assert ours.modified_at is not None


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shared_defaults_installed")
@pytest.mark.parametrize(
    ("page", "told"),
    [("change form", "doesn’t exist. Perhaps it was deleted?"), ("list", "Nothing was saved.")],
)
def test_an_edit_whose_status_is_deleted_while_it_is_saved_says_so_and_writes_nothing(
    staff_client, ours, page, told
):
    if page == "change form":
        url, data = change_url(ours), change_form(ours, sort_order=30)
    else:
        url, data = CHANGELIST, list_edit(ours, sort_order=30)

    with deleted_meanwhile(ours):
        response = staff_client.post(url, data)

    assert response.status_code == 302
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    assert any(told in message for message in messages), messages
    assert not Status.objects.filter(pk=ours.pk).exists()
    assert not Status.objects.filter(business_id=ours.business_id, sort_order=30).exists()


def test_change_form_refuses_a_duplicate_status_and_sub_status(staff_client, ours):
    before = all_rows()

    response = staff_client.post(change_url(ours), change_form(ours, sub_status="CHECKEDIN"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert all_rows() == before


def test_staff_sees_a_shared_status_read_only(staff_client, shared):
    response = staff_client.get(change_url(shared))

    assert response.status_code == 200
    assert 'name="sub_status"' not in response.content.decode()


def test_staff_cannot_change_a_shared_status(staff_client, shared):
    before = all_rows()

    response = staff_client.post(change_url(shared), change_form(shared, sort_order=99))

    assert response.status_code == 403
    assert all_rows() == before


def test_staff_cannot_change_another_business_status(staff_client, theirs):
    before = all_rows()

    response = staff_client.post(change_url(theirs), change_form(theirs, sort_order=99))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert all_rows() == before


def test_superuser_changes_a_shared_status(superuser_client, shared):
    response = superuser_client.post(change_url(shared), change_form(shared, sort_order=99))

    assert response.status_code == 302
    shared.refresh_from_db()
    assert (shared.sort_order, shared.modified_user) == (99, "root")


def test_staff_edits_own_rows_in_the_list(staff_client, ours):
    response = staff_client.post(
        CHANGELIST, list_edit(ours, sort_order=42, active=None, user_selectable=None)
    )

    assert response.status_code == 302
    ours.refresh_from_db()
    assert (ours.sort_order, ours.active, ours.user_selectable) == (42, False, False)
    assert ours.modified_user == "desk"


def test_staff_list_edit_of_a_shared_row_is_ignored(staff_client, shared):
    before = all_rows()

    response = staff_client.post(CHANGELIST, list_edit(shared, sort_order=42, active=None))

    assert response.status_code == 302
    assert all_rows() == before


def test_staff_list_edit_of_another_business_row_is_refused(staff_client, theirs):
    before = all_rows()

    response = staff_client.post(CHANGELIST, list_edit(theirs, sort_order=42))

    assert response.status_code == 200  # the list again, with the formset's error
    assert all_rows() == before


def test_staff_list_shows_shared_rows_without_editable_inputs(staff_client, ours, shared):
    response = staff_client.get(CHANGELIST)

    formset = response.context["cl"].formset
    by_pk = {form.instance.pk: form for form in formset}
    shared_fields = by_pk[shared.pk].fields
    assert all(field.disabled for name, field in shared_fields.items() if name != "id")
    # The hidden id stays enabled, so that a browser posts it (see below).
    assert not shared_fields["id"].disabled
    assert not any(field.disabled for field in by_pk[ours.pk].fields.values())


def as_a_browser_posts(formset, changes: dict[int, dict]) -> dict:
    """The changelist POST a browser sends: every enabled input of every row (with
    `changes` by status id applied), and none of the disabled ones."""
    management = formset.management_form
    data = {
        management.add_prefix(name): management.initial.get(name, 0) for name in management.fields
    }
    data["_save"] = "Save"
    for form in formset:
        values = {**form.initial, "id": form.instance.pk, **changes.get(form.instance.pk, {})}
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = values.get(name)
            if value is True:
                data[form.add_prefix(name)] = "on"
            elif value is not False and value is not None:
                data[form.add_prefix(name)] = value
    return data


def test_staff_list_save_works_as_a_browser_posts_it_with_shared_rows(staff_client, ours, shared):
    formset = staff_client.get(CHANGELIST).context["cl"].formset
    assert len(formset) == 2 * SHARED_COUNT
    shared_before = list(Status.objects.shared().order_by("id").values())

    response = staff_client.post(
        CHANGELIST, as_a_browser_posts(formset, {ours.pk: {"sort_order": 0, "active": False}})
    )

    assert response.status_code == 302
    ours.refresh_from_db()
    assert (ours.sort_order, ours.active, ours.modified_user) == (0, False, "desk")
    assert list(Status.objects.shared().order_by("id").values()) == shared_before


def test_staff_list_puts_their_own_list_before_the_shared_one(staff_client, ours):
    shown = list(staff_client.get(CHANGELIST).context["cl"].result_list)

    lists = [status.business_id for status in shown]
    assert lists == [ours.business_id] * SHARED_COUNT + [None] * SHARED_COUNT
    own_orders = [status.sort_order for status in shown[:SHARED_COUNT]]
    assert own_orders == sorted(own_orders)


def test_superuser_list_starts_with_the_shared_list(superuser_client, ours, theirs):
    shown = list(superuser_client.get(CHANGELIST).context["cl"].result_list)

    lists = [status.business_id for status in shown]
    assert lists == (
        [None] * SHARED_COUNT
        + [ours.business_id] * SHARED_COUNT
        + [theirs.business_id] * SHARED_COUNT
    )


def test_staff_list_marks_the_shared_rows_read_only(staff_client, superuser_client, ours):
    staff_page = staff_client.get(CHANGELIST).content.decode()
    superuser_page = superuser_client.get(CHANGELIST).content.decode()

    assert staff_page.count("Shared default · read-only") == SHARED_COUNT
    assert "read-only" not in superuser_page


def test_staff_on_the_shared_list_are_told_how_to_copy_it(staff_client, business, shared):
    on_shared = staff_client.get(CHANGELIST).content.decode()
    fork_shared_statuses(business)
    on_own = staff_client.get(CHANGELIST).content.decode()

    assert "uses the shared default list" in on_shared
    assert "uses the shared default list" not in on_own


def test_staff_see_a_note_on_a_shared_status_page(staff_client, shared):
    content = staff_client.get(change_url(shared)).content.decode()

    assert 'id="shared-status-note"' in content


# --- adding and deleting -----------------------------------------------------------------


def test_staff_add_forks_the_shared_list_first(staff_client, business):
    data = {
        "business": business.pk,
        "status": "OPEN",
        "sub_status": "Ready for clients",
        "status_type": "APPOINTMENT",
        "sort_order": 20,
        "active": "on",
        "user_selectable": "on",
        "_save": "Save",
    }

    response = staff_client.post(ADD, data)

    assert response.status_code == 302
    own = Status.objects.for_business(business.pk)
    assert own.count() == SHARED_COUNT + 1
    added = own.get(sub_status="Ready for clients")
    assert (added.sort_order, added.created_user) == (20, "desk")


def test_staff_cannot_add_into_another_business(staff_client, other_business):
    before = all_rows()
    data = {
        "business": other_business.pk,
        "status": "OPEN",
        "sub_status": "Sneaky",
        "status_type": "APPOINTMENT",
        "sort_order": 1,
        "_save": "Save",
    }

    response = staff_client.post(ADD, data)

    assert response.status_code == 200
    assert "business" in response.context["adminform"].form.errors
    assert all_rows() == before


def test_staff_bulk_delete_including_a_shared_status_is_refused(staff_client, ours, shared):
    before = all_rows()
    data = {
        "action": "delete_selected",
        "_selected_action": [ours.pk, shared.pk],
        "post": "yes",
    }

    response = staff_client.post(CHANGELIST, data)

    assert response.status_code == 403
    assert all_rows() == before


def test_staff_deletes_an_own_status(staff_client, ours):
    data = {"action": "delete_selected", "_selected_action": [ours.pk], "post": "yes"}

    response = staff_client.post(CHANGELIST, data)

    assert response.status_code == 302
    assert not Status.objects.filter(pk=ours.pk).exists()


# --- the fork action ---------------------------------------------------------------------


def test_fork_action_copies_the_shared_list_into_the_staff_business(staff_client, business, shared):
    data = {"action": "fork_shared_list", "_selected_action": [shared.pk]}

    response = staff_client.post(CHANGELIST, data)

    assert response.status_code == 302
    own = Status.objects.for_business(business.pk)
    assert own.count() == SHARED_COUNT
    assert {status.created_user for status in own} == {"desk"}


def test_fork_action_twice_copies_once(staff_client, business, shared):
    data = {"action": "fork_shared_list", "_selected_action": [shared.pk]}
    staff_client.post(CHANGELIST, data)

    response = staff_client.post(CHANGELIST, data, follow=True)

    assert "already has its own status list" in response.content.decode()
    assert Status.objects.for_business(business.pk).count() == SHARED_COUNT


def test_superuser_fork_action_asks_for_the_business(superuser_client, business, shared):
    data = {"action": "fork_shared_list", "_selected_action": [shared.pk]}

    response = superuser_client.post(CHANGELIST, data)

    assert response.status_code == 200
    assert "Demo Venue (43111)" in response.content.decode()
    assert not Status.objects.for_business(business.pk).exists()


def test_superuser_fork_action_copies_into_the_chosen_business(
    superuser_client, business, other_business, shared
):
    data = {
        "action": "fork_shared_list",
        "_selected_action": [shared.pk],
        "business": other_business.pk,
        "apply": "Copy the shared list",
    }

    response = superuser_client.post(CHANGELIST, data)

    assert response.status_code == 302
    assert Status.objects.for_business(other_business.pk).count() == SHARED_COUNT
    assert not Status.objects.for_business(business.pk).exists()


def test_staff_without_statuses_permissions_cannot_see_the_list(business):
    user = User.objects.create_user("noperm", business=business, is_staff=True)

    response = logged_in(user).get(CHANGELIST)

    assert response.status_code == 403


def test_superuser_adds_a_shared_status(superuser_client):
    data = {
        "status": "OPEN",
        "sub_status": "Ready for clients",
        "status_type": "APPOINTMENT",
        "sort_order": 15,
        "active": "on",
        "user_selectable": "on",
        "_save": "Save",
    }

    response = superuser_client.post(ADD, data)

    assert response.status_code == 302
    added = Status.objects.shared().get(sub_status="Ready for clients")
    assert (added.sort_order, added.created_user) == (15, "root")


def test_superuser_add_of_a_duplicate_shared_status_is_refused(superuser_client, shared):
    before = all_rows()
    data = {
        "status": shared.status,
        "sub_status": shared.sub_status,
        "status_type": "APPOINTMENT",
        "sort_order": 15,
        "_save": "Save",
    }

    response = superuser_client.post(ADD, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert all_rows() == before
