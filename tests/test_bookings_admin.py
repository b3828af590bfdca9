"""The bookings admin: status fields read-only, status changed through change_status."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from bookings.models import Booking


@pytest.fixture
def staff_client(client, business):
    staff = User.objects.create_user(
        username="frontdesk", password="pw", business=business, is_staff=True
    )
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="bookings"))
    client.force_login(staff)
    return client


def moment(date: str, time: str) -> dict[str, str]:
    """The change-status form's moment: a date and a time on the business's clock."""
    return {"status_at_0": date, "status_at_1": time}


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.mark.django_db
def test_changelist_shows_status_and_dates(superuser_client, make_booking):
    booking = make_booking(name="Spring wedding")
    booking.change_status("tentative", at=dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC))

    response = superuser_client.get("/admin/bookings/booking/?status__exact=tentative")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Spring wedding" in content
    assert "2025-01-10" in content  # ISO, not the locale's "Jan. 10, 2025"


@pytest.mark.django_db
def test_change_status_form_calls_the_model_method_with_source_admin(
    superuser_client, make_booking
):
    booking = make_booking()
    response = superuser_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        {"status": "definite", **moment("2025-01-15", "14:30:00")},
    )

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == "definite"
    assert booking.definite_at == dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC)
    entry = booking.status_changes.get()
    assert (entry.source, entry.changed_by, entry.from_status) == ("admin", "root", "lead")


@pytest.mark.django_db
def test_change_status_form_defaults_to_now(superuser_client, make_booking):
    booking = make_booking()
    superuser_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/", {"status": "lost"}
    )
    booking.refresh_from_db()
    assert booking.status == "lost"
    assert abs(booking.lost_at - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=30)


@pytest.mark.django_db
def test_change_status_form_refuses_a_future_moment_and_writes_nothing(
    superuser_client, make_booking
):
    booking = make_booking()
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")

    response = superuser_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        {"status": "definite", **moment(*future.split())},
    )

    assert response.status_code == 200
    assert "in the future" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == "lead"
    assert not booking.status_changes.exists()


def save_change_page(client, booking: Booking, **fields: str):
    """POST the booking's change page with `fields` (no notes, no history forms), as
    opened at the booking's current version."""
    return client.post(
        f"/admin/bookings/booking/{booking.pk}/change/",
        {
            "business": booking.business_id,
            "opened_version": Booking.objects.get(pk=booking.pk).version,
            "notes": "",
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
            **fields,
        },
    )


@pytest.mark.django_db
def test_status_fields_cannot_be_edited_on_the_change_page(superuser_client, make_booking):
    booking = make_booking(name="Old name")
    response = save_change_page(
        superuser_client, booking, name="New name", status="definite", definite_date="2025-01-15"
    )

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.name == "New name"
    assert booking.status == "lead"
    assert booking.definite_date is None


@pytest.mark.django_db
def test_change_page_shows_history_read_only(superuser_client, make_booking):
    booking = make_booking()
    booking.change_status("tentative", at=dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC))

    content = superuser_client.get(f"/admin/bookings/booking/{booking.pk}/change/").content.decode()

    assert "status history" in content.lower()
    assert "Change status" in content
    assert 'name="status_changes-0-to_status"' not in content


@pytest.mark.django_db
def test_staff_see_only_their_business(staff_client, make_booking, other_business):
    mine = make_booking(name="Our wedding")
    theirs = Booking.objects.create(business=other_business, name="Their gala")

    listing = staff_client.get("/admin/bookings/booking/").content.decode()
    assert "Our wedding" in listing
    assert "Their gala" not in listing
    assert staff_client.get(f"/admin/bookings/booking/{mine.pk}/change/").status_code == 200
    assert staff_client.get(f"/admin/bookings/booking/{theirs.pk}/change/").status_code == 302
    response = staff_client.post(
        f"/admin/bookings/booking/{theirs.pk}/change_status/", {"status": "lost"}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "lead"


@pytest.mark.django_db
def test_staff_create_bookings_in_their_own_business_only(staff_client, business, other_business):
    response = staff_client.post(
        "/admin/bookings/booking/add/",
        {
            "business": other_business.id,
            "name": "Sneaky",
            "notes": "",
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    assert Booking.objects.get(name="Sneaky").business == business


# --- the list: columns, the date range filter, query budget -------------------------


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.fixture
def tentative_in_january(make_booking):
    """Three bookings made tentative on January 5, 15 and 25, and one still a lead."""
    for name, day in [("Early", 5), ("Middle", 15), ("Late", 25)]:
        make_booking(name=name).change_status("tentative", at=at(2025, 1, day, 12))
    make_booking(name="Still a lead")


def listed_names(response) -> set[str]:
    return {booking.name for booking in response.context["cl"].result_list}


@pytest.mark.django_db
def test_business_column_is_for_superusers_only(superuser_client, make_booking):
    make_booking()
    response = superuser_client.get("/admin/bookings/booking/")
    assert "business" in response.context["cl"].list_display


@pytest.mark.django_db
def test_staff_see_no_business_column(staff_client, make_booking):
    make_booking()
    response = staff_client.get("/admin/bookings/booking/")
    assert "business" not in response.context["cl"].list_display
    assert "status" in response.context["cl"].list_display


GTE, LTE = "tentative_date__range__gte", "tentative_date__range__lte"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"{GTE}=2025-01-10", {"Middle", "Late"}),
        (f"{LTE}=2025-01-15", {"Early", "Middle"}),
        (f"{GTE}=2025-01-15&{LTE}=2025-01-15", {"Middle"}),
        (f"{GTE}=2025-01-06&{LTE}=2025-01-14", set()),
        ("tentative_date__isnull=True", {"Still a lead"}),
        ("tentative_date__isnull=False", {"Early", "Middle", "Late"}),
        # The range form sent with no bound: any date, not "Has date".
        (f"{GTE}=&{LTE}=", {"Early", "Middle", "Late", "Still a lead"}),
        # A range sent after "No date" was chosen: the range wins.
        (f"{GTE}=2025-01-10&{LTE}=&tentative_date__isnull=True", {"Middle", "Late"}),
    ],
)
def test_date_range_filter(staff_client, tentative_in_january, query, expected):
    response = staff_client.get(f"/admin/bookings/booking/?{query}")

    assert response.status_code == 200
    assert listed_names(response) == expected


@pytest.mark.django_db
def test_date_range_filter_shows_an_invalid_date_instead_of_failing(
    staff_client, tentative_in_january
):
    response = staff_client.get(f"/admin/bookings/booking/?{GTE}=2025-02-30")

    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()
    # The invalid bound is not applied.
    assert listed_names(response) == {"Early", "Middle", "Late", "Still a lead"}


@pytest.mark.django_db
def test_date_range_filter_sends_no_date_choice_unless_one_was_made(
    staff_client, tentative_in_january
):
    def date_choice_input(query: str) -> str | None:
        content = staff_client.get(f"/admin/bookings/booking/?{query}").content.decode()
        found = re.search(r'<input type="hidden"[^>]* id="id_tentative_date__isnull">', content)
        return found and found.group()

    assert date_choice_input("") is None
    assert date_choice_input(f"{GTE}=&{LTE}=") is None
    assert date_choice_input("tentative_date__isnull=True") == (
        '<input type="hidden" name="tentative_date__isnull" value="True" '
        'id="id_tentative_date__isnull">'
    )


@pytest.mark.django_db
def test_date_range_form_keeps_the_other_parameters(staff_client, tentative_in_january):
    response = staff_client.get(
        f"/admin/bookings/booking/?status__exact=tentative&q=i&o=2&{GTE}=2025-01-01"
    )

    # The library's script sends the form's bounds after this query string, which
    # carries everything but the filter's own parameters.
    assert (
        '<input type="hidden" id="tentative-date-query-string" '
        'value="?o=2&amp;q=i&amp;status__exact=tentative">'
    ) in response.content.decode()


@pytest.mark.django_db
def test_date_range_filter_counts_with_facets(staff_client, tentative_in_january):
    content = staff_client.get("/admin/bookings/booking/?_facets=True").content.decode()

    assert "Has date (3)" in content
    assert "No date (1)" in content


@pytest.mark.django_db
def test_search_by_name_and_exact_id(staff_client, make_booking):
    wedding = make_booking(name="Spring wedding")
    make_booking(name="Autumn gala")

    assert listed_names(staff_client.get("/admin/bookings/booking/?q=wedd")) == {"Spring wedding"}
    by_id = staff_client.get(f"/admin/bookings/booking/?q={wedding.pk}")
    assert listed_names(by_id) == {"Spring wedding"}


@pytest.mark.django_db
def test_changelist_queries_do_not_grow_with_the_bookings(superuser_client, make_booking):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert superuser_client.get("/admin/bookings/booking/").status_code == 200
        return len(queries)

    make_booking(name="First")
    few = count_queries()
    for index in range(10):
        make_booking(name=f"Booking {index}")
    assert count_queries() == few


# --- the change page and the change-status page -------------------------------------


@pytest.mark.django_db
def test_change_page_lists_history_newest_first_with_precise_moments(
    superuser_client, make_booking
):
    booking = make_booking()
    booking.change_status("tentative", at=at(2025, 1, 10, 9, 15))
    booking.change_status("definite", at=at(2025, 1, 15, 14, 30, 5))

    response = superuser_client.get(f"/admin/bookings/booking/{booking.pk}/change/")

    inline = response.context["inline_admin_formsets"][0]
    assert [form.original.to_status for form in inline] == ["definite", "tentative"]
    content = response.content.decode()
    assert "2025-01-15 14:30:05 UTC" in content


@pytest.mark.django_db
def test_change_status_page_shows_the_current_dates_and_history(staff_client, make_booking):
    booking = make_booking()
    booking.change_status("tentative", at=at(2025, 1, 10, 9, 15), by="JoeSchmo")

    response = staff_client.get(f"/admin/bookings/booking/{booking.pk}/change_status/")

    assert response.status_code == 200
    content = response.content.decode()
    assert '<strong id="current-status">Tentative</strong>' in content
    assert "2025-01-10 09:15:00" in content
    assert "JoeSchmo" in content
    assert response.context["form"].initial == {"status": "tentative"}


@pytest.mark.django_db
def test_change_status_reports_the_result(staff_client, make_booking):
    booking = make_booking(name="Spring wedding")

    response = staff_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        {"status": "tentative", **moment("2025-01-10", "09:15")},
        follow=True,
    )

    assert response.redirect_chain == [(f"/admin/bookings/booking/{booking.pk}/change/", 302)]
    assert [str(message) for message in response.context["messages"]] == [
        "Status of “Spring wedding” changed from Lead to Tentative as of 2025-01-10 09:15:00 UTC."
    ]
    booking.refresh_from_db()
    assert booking.tentative_at == at(2025, 1, 10, 9, 15)
    assert booking.status_changes.get().changed_by == "frontdesk"


@pytest.mark.django_db
def test_changing_to_the_same_status_restamps_it(staff_client, make_booking):
    booking = make_booking()
    booking.change_status("tentative", at=at(2025, 1, 10, 9, 15))

    staff_client.post(
        f"/admin/bookings/booking/{booking.pk}/change_status/",
        {"status": "tentative", **moment("2025-01-09", "08:00:00")},
    )

    booking.refresh_from_db()
    assert (booking.tentative_date, booking.tentative_at) == (
        dt.date(2025, 1, 9),
        at(2025, 1, 9, 8),
    )
    assert booking.status_changes.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "won"}, "status"),
        ({"status": "definite", **moment("2025-02-30", "10:00")}, "status_at"),
        ({"status": "definite", **moment("yesterday", "noon")}, "status_at"),
    ],
)
def test_change_status_form_refuses_bad_input_and_writes_nothing(
    staff_client, make_booking, body, field
):
    booking = make_booking()

    response = staff_client.post(f"/admin/bookings/booking/{booking.pk}/change_status/", body)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    booking.refresh_from_db()
    assert booking.status == "lead"
    assert not booking.status_changes.exists()


# --- permissions and scoping --------------------------------------------------------


@pytest.fixture
def view_only_client(client, business):
    viewer = User.objects.create_user(
        username="viewer", password="pw", business=business, is_staff=True
    )
    viewer.user_permissions.set(Permission.objects.filter(codename="view_booking"))
    client.force_login(viewer)
    return client


@pytest.mark.django_db
def test_view_only_staff_see_the_history_but_cannot_change_the_status(
    view_only_client, make_booking
):
    booking = make_booking()
    booking.change_status("tentative", at=at(2025, 1, 10, 9, 15))

    page = view_only_client.get(f"/admin/bookings/booking/{booking.pk}/change/")
    assert page.status_code == 200
    assert "2025-01-10 09:15:00 UTC" in page.content.decode()
    assert "changestatuslink" not in page.content.decode()

    for response in (
        view_only_client.get(f"/admin/bookings/booking/{booking.pk}/change_status/"),
        view_only_client.post(
            f"/admin/bookings/booking/{booking.pk}/change_status/", {"status": "lost"}
        ),
    ):
        assert response.status_code == 403
    booking.refresh_from_db()
    assert booking.status == "tentative"
    assert booking.status_changes.count() == 1


@pytest.mark.django_db
def test_staff_cannot_open_another_business_change_status_page(staff_client, other_business):
    theirs = Booking.objects.create(business=other_business, name="Their gala")

    response = staff_client.get(f"/admin/bookings/booking/{theirs.pk}/change_status/")

    assert response.status_code == 404


@pytest.mark.django_db
def test_delete_action_skips_another_business_bookings(staff_client, make_booking, other_business):
    mine = make_booking(name="Our wedding")
    theirs = Booking.objects.create(business=other_business, name="Their gala")

    response = staff_client.post(
        "/admin/bookings/booking/",
        {"action": "delete_selected", "_selected_action": [mine.pk, theirs.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Booking.objects.filter(pk=mine.pk).exists()
    assert Booking.objects.filter(pk=theirs.pk).exists()


@pytest.mark.django_db
def test_staff_without_a_business_see_nothing_and_cannot_add(client, make_booking):
    loner = User.objects.create_user(username="loner", password="pw", is_staff=True)
    loner.user_permissions.set(Permission.objects.filter(content_type__app_label="bookings"))
    client.force_login(loner)
    make_booking(name="Spring wedding")

    listing = client.get("/admin/bookings/booking/")
    assert listing.status_code == 200
    assert listed_names(listing) == set()
    assert client.get("/admin/bookings/booking/add/").status_code == 403


@pytest.mark.django_db
def test_staff_add_form_has_no_business_field(staff_client):
    response = staff_client.get("/admin/bookings/booking/add/")

    assert response.status_code == 200
    assert "business" not in response.context["adminform"].form.fields
    assert 'name="status"' not in response.content.decode()


@pytest.mark.django_db
def test_business_autocomplete_needs_the_business_view_permission(staff_client, other_business):
    response = staff_client.get(
        "/admin/autocomplete/",
        {"app_label": "bookings", "model_name": "booking", "field_name": "business", "term": ""},
    )

    assert response.status_code == 403


@pytest.mark.django_db
def test_superusers_pick_the_business_with_autocomplete(superuser_client, other_business):
    response = superuser_client.get(
        "/admin/autocomplete/",
        {"app_label": "bookings", "model_name": "booking", "field_name": "business", "term": "Riv"},
    )

    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == [str(other_business)]


@pytest.mark.django_db
def test_saving_the_change_page_keeps_a_status_changed_meanwhile(superuser_client, make_booking):
    from unittest import mock

    booking = make_booking(name="Old name")
    stale = Booking.objects.get(pk=booking.pk)
    booking.change_status("lost", at=dt.datetime(2025, 1, 12, tzinfo=dt.UTC))

    # The admin read the booking before the status change landed.
    with mock.patch("django.contrib.admin.options.ModelAdmin.get_object", return_value=stale):
        response = save_change_page(superuser_client, booking, name="New name")

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.name == "New name"
    assert booking.status == "lost"


# --- versions and the bulk action (SPEC §10) --------------------------------------


@pytest.mark.django_db
def test_the_change_page_refuses_to_save_over_a_newer_version_and_keeps_the_form(
    superuser_client, make_booking
):
    booking = make_booking(name="Old name")
    page = superuser_client.get(f"/admin/bookings/booking/{booking.pk}/change/").content.decode()
    assert 'name="opened_version" value="1"' in page
    booking.edit({"notes": "Someone else's"})

    response = save_change_page(superuser_client, booking, name="My name", opened_version="1")

    assert response.status_code == 200
    content = response.content.decode()
    assert "changed by someone else since you opened it" in content
    assert 'value="My name"' in content
    booking.refresh_from_db()
    assert (booking.name, booking.notes, booking.version) == ("Old name", "Someone else's", 2)


@pytest.mark.django_db
def test_a_save_at_the_current_version_adds_one(superuser_client, make_booking):
    booking = make_booking(name="Old name")

    assert save_change_page(superuser_client, booking, name="New name").status_code == 302

    booking.refresh_from_db()
    assert (booking.name, booking.version) == ("New name", 2)


def change_status_of_selected(client, bookings, **form):
    return client.post(
        "/admin/bookings/booking/",
        {
            "action": "change_status_of_selected",
            "_selected_action": [booking.pk for booking in bookings],
            **form,
        },
    )


@pytest.mark.django_db
def test_the_action_shows_the_change_status_form_then_changes_every_selected_booking(
    staff_client, make_booking
):
    bookings = [make_booking(name=f"b{n}") for n in range(3)]

    form_page = change_status_of_selected(staff_client, bookings)
    assert form_page.status_code == 200
    assert "Change status of 3 selected bookings" in form_page.content.decode()
    assert Booking.objects.filter(status="definite").count() == 0

    response = change_status_of_selected(
        staff_client, bookings, apply="1", status="definite", **moment("2025-01-15", "14:30:00")
    )

    assert response.status_code == 302
    for booking in bookings:
        booking.refresh_from_db()
        assert (booking.status, booking.definite_at, booking.version) == (
            "definite",
            dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC),
            2,
        )
        [entry] = booking.status_changes.all()
        assert (entry.source, entry.changed_by) == ("admin", "frontdesk")


@pytest.mark.django_db
def test_the_action_refuses_a_future_moment_and_writes_nothing(staff_client, make_booking):
    booking = make_booking()

    response = change_status_of_selected(
        staff_client, [booking], apply="1", status="lost", **moment("2999-01-01", "00:00:00")
    )

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    booking.refresh_from_db()
    assert (booking.status, booking.version) == ("lead", 1)


@pytest.mark.django_db
def test_the_action_takes_one_business_per_run(superuser_client, make_booking, other_business):
    mine = make_booking()
    theirs = Booking.objects.create(business=other_business, name="Theirs")

    response = change_status_of_selected(superuser_client, [mine, theirs], apply="1", status="lost")

    assert response.status_code == 302
    assert Booking.objects.filter(status="lost").count() == 0
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("all of one business" in message for message in messages)


@pytest.mark.django_db
def test_the_action_takes_at_most_500_bookings(superuser_client, business):
    bookings = Booking.objects.bulk_create(
        Booking(business=business, name=f"b{n}") for n in range(501)
    )

    response = change_status_of_selected(superuser_client, bookings, apply="1", status="lost")

    assert response.status_code == 302
    assert Booking.objects.filter(status="lost").count() == 0
