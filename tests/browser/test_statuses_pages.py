"""The statuses admin in a real browser: a staff user edits and deactivates a
substatus and GET /status shows it; forks the shared list with the admin action; and
another business's staff are kept out. Each test checks the database and the API too."""

import re

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

from accounts.models import ApiToken, Business, User
from statuses.models import Status
from statuses.services import StatusList, fork_shared_statuses

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shared_statuses"),
]

SHARED_COUNT = 14


def statuses_served(request: APIRequestContext, user: User) -> list[dict]:
    """GET /status over HTTP, as an API caller of `user`'s business."""
    _, key = ApiToken.objects.issue(user)
    response = request.get("/status", headers={"Authorization": f"Token {key}"})
    assert response.status == 200
    return response.json()


def status_row(page: Page, sub_status: str, *, shared: bool = False):
    """The list's row of the business's own status (or the shared one) of that name."""
    rows = page.locator("#result_list tbody tr").filter(
        has=page.get_by_role("link", name=sub_status, exact=True)
    )
    if shared:
        return rows.filter(has_text="Shared default")
    return rows.filter(has_not_text="Shared default")


def own_status(business: Business, sub_status: str) -> Status:
    return Status.objects.for_business(business.pk).get(sub_status=sub_status)


def test_edit_and_deactivate_a_substatus_and_the_api_serves_it(
    page: Page, log_in, make_staff, business
):
    fork_shared_statuses(business, by="setup")
    frontdesk = make_staff("frontdesk", business, apps=("statuses",))
    api_caller = User.objects.create_user("JoeSchmo", business=business)
    log_in(page, frontdesk)

    # Rename RUNNING_LATE on its change page.
    page.goto("/admin/statuses/status/")
    status_row(page, "RUNNING_LATE").get_by_role("link", name="RUNNING_LATE").click()
    page.fill("#id_sub_status", "Running late (15 min)")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")

    # In the list: deactivate CHECKEDIN, move the renamed one to the top, keep the rest.
    checked_in = status_row(page, "CHECKEDIN")
    checked_in.locator("input[name$='-active']").uncheck()
    status_row(page, "Running late (15 min)").locator("input[name$='-sort_order']").fill("0")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_contain_text("2 statuses were changed")
    expect(status_row(page, "CHECKEDIN").locator("input[name$='-active']")).not_to_be_checked()

    running_late = own_status(business, "Running late (15 min)")
    assert (running_late.status, running_late.sort_order) == ("OPEN", 0)
    assert running_late.modified_user == "frontdesk"
    checked_in = own_status(business, "CHECKEDIN")
    assert (checked_in.active, checked_in.modified_user) == (False, "frontdesk")
    assert not Status.objects.shared().filter(sub_status="Running late (15 min)").exists()
    assert Status.objects.shared().get(sub_status="CHECKEDIN").active

    served = statuses_served(page.request, api_caller)
    assert served[0]["subStatus"] == "Running late (15 min)"
    assert served[0]["statusId"] == running_late.pk
    assert served[0]["modifiedUser"] == "frontdesk"
    assert "CHECKEDIN" not in {status["subStatus"] for status in served}
    assert "RUNNING_LATE" not in {status["subStatus"] for status in served}
    assert {status["businessId"] for status in served} == {business.pk}
    assert len(served) == SHARED_COUNT - 1


def test_fork_the_shared_list_with_the_admin_action(page: Page, log_in, make_staff, business):
    frontdesk = make_staff("frontdesk", business, apps=("statuses",))
    api_caller = User.objects.create_user("JoeSchmo", business=business)
    assert {status["businessId"] for status in statuses_served(page.request, api_caller)} == {None}
    log_in(page, frontdesk)

    page.goto("/admin/statuses/status/")
    expect(page.locator("#shared-list-hint")).to_contain_text("uses the shared default list")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(SHARED_COUNT)
    # The shared defaults are visibly read-only: no enabled input in their rows.
    expect(rows.first).to_contain_text("Shared default · read-only")
    expect(page.locator("#result_list tbody input:not([type=hidden]):enabled")).to_have_count(
        SHARED_COUNT  # the selection checkboxes only
    )

    status_row(page, "PENDING", shared=True).locator("input.action-select").check()
    page.select_option("select[name=action]", "fork_shared_list")
    page.get_by_role("button", name="Go").click()

    expect(page.locator(".messagelist .success")).to_have_text(
        f"Copied {SHARED_COUNT} shared statuses into Demo Venue (43111)."
    )
    expect(page.locator("#shared-list-hint")).to_have_count(0)
    expect(rows).to_have_count(2 * SHARED_COUNT)
    expect(status_row(page, "PENDING").locator("input[name$='-active']")).to_be_enabled()
    expect(
        status_row(page, "PENDING", shared=True).locator("input[name$='-active']")
    ).to_be_disabled()

    own = Status.objects.for_business(business.pk)
    assert own.count() == SHARED_COUNT
    assert {status.created_user for status in own} == {"frontdesk"}
    assert sorted(own.values_list("status", "sub_status")) == sorted(
        Status.objects.shared().values_list("status", "sub_status")
    )
    served = statuses_served(page.request, api_caller)
    assert {status["businessId"] for status in served} == {business.pk}
    assert [status["subStatus"] for status in served] == list(
        Status.objects.shared().in_list_order().values_list("sub_status", flat=True)
    )


def test_staff_of_another_business_get_no_access(
    page: Page, log_in, make_staff, business, other_business
):
    fork_shared_statuses(business, by="setup")
    ours = own_status(business, "RUNNING_LATE")
    StatusList.of(ours.business_id).update(ours.pk, {"sub_status": "Ours only"}, by="setup")
    before = list(Status.objects.order_by("id").values())
    rival = make_staff("rival", other_business, apps=("statuses",))
    log_in(page, rival)

    page.goto("/admin/statuses/status/")
    expect(page.locator("#result_list tbody tr")).to_have_count(SHARED_COUNT)
    expect(page.get_by_text("Ours only")).to_have_count(0)
    expect(page.locator("#changelist-filter")).not_to_contain_text("Demo Venue")

    page.goto(f"/admin/statuses/status/{ours.pk}/change/")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator(".messagelist .warning")).to_contain_text("doesn’t exist")

    # A hand-made list edit of our row, with a valid CSRF token, is refused.
    page.goto("/admin/statuses/status/")
    csrf_token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    forged = page.request.post(
        "/admin/statuses/status/",
        form={
            "csrfmiddlewaretoken": csrf_token,
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(ours.pk),
            "form-0-sort_order": "99",
            "_save": "Save",
        },
        headers={"Referer": page.url},
        max_redirects=0,
    )
    assert forged.status == 200  # the list again, with the formset's error
    assert "Please correct the error below." in forged.text()

    assert list(Status.objects.order_by("id").values()) == before
    served = statuses_served(page.request, User.objects.create_user("JoeSchmo", business=business))
    assert "Ours only" in {status["subStatus"] for status in served}
