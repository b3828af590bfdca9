"""manage.py fork_statuses --business ID [--dry-run] (SPEC §6)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from statuses.models import Status
from statuses.services import fork_shared_statuses

SHARED_COUNT = 14


def fork_statuses(*args: str) -> str:
    out = StringIO()
    call_command("fork_statuses", *args, stdout=out)
    return out.getvalue()


def test_copies_the_shared_list_into_the_business(business):
    output = fork_statuses("--business", str(business.pk))

    own = Status.objects.for_business(business.pk).in_list_order()
    shared = Status.objects.shared().in_list_order()
    assert [(s.status, s.sub_status, s.sort_order) for s in own] == [
        (s.status, s.sub_status, s.sort_order) for s in shared
    ]
    assert set(own.values_list("pk", flat=True)).isdisjoint(shared.values_list("pk", flat=True))
    assert f"Copied {SHARED_COUNT} shared statuses into Demo Venue (43111)." in output


def test_a_second_run_has_nothing_to_do(business):
    fork_statuses("--business", str(business.pk))
    before = list(Status.objects.order_by("id").values())

    output = fork_statuses("--business", str(business.pk))

    assert "nothing to do" in output
    assert list(Status.objects.order_by("id").values()) == before


def test_a_business_with_its_own_list_is_left_alone(business, api_user):
    fork_shared_statuses(business, by=api_user)
    Status.objects.for_business(business.pk).filter(sub_status="DELETED").delete()

    output = fork_statuses("--business", str(business.pk))

    assert f"({SHARED_COUNT - 1} statuses); nothing to do" in output
    assert Status.objects.for_business(business.pk).count() == SHARED_COUNT - 1


def test_dry_run_reports_and_changes_nothing(business):
    output = fork_statuses("--business", str(business.pk), "--dry-run")

    assert f"would copy {SHARED_COUNT} shared statuses" in output
    assert not Status.objects.for_business(business.pk).exists()


def test_leaves_other_businesses_alone(business, other_business):
    fork_statuses("--business", str(business.pk))

    assert not Status.objects.for_business(other_business.pk).exists()
    assert Status.objects.shared().count() == SHARED_COUNT


@pytest.mark.parametrize("business_id", ["99999", "99999999999999999999999"])
def test_an_unknown_business_is_an_error(db, business_id):
    with pytest.raises(CommandError, match="no business"):
        fork_statuses("--business", business_id)

    assert not Status.objects.exclude(business=None).exists()


def test_business_is_required(db):
    with pytest.raises(CommandError, match="--business"):
        fork_statuses()
