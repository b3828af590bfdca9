"""The hand-written statements of the hot paths (config/fixed_sql.py) give exactly what
the ORM gives for the same rows, on SQLite and on PostgreSQL."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext, isolate_apps

from accounts.models import ApiToken, User, digest_token_key
from bookings.models import Booking, BookingStatusChange
from core import fixed_sql
from statuses.models import Status
from statuses.services import fork_shared_statuses

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2025, 1, 15, 14, 30, 5, 250000, tzinfo=dt.UTC)


def field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.fields}


@pytest.fixture
def full_booking(make_booking) -> Booking:
    """A booking with a value in every column, datetimes with microseconds."""
    booking = make_booking(
        name="Gala dinner ✓",
        starts_at=MOMENT,
        ends_at=MOMENT + dt.timedelta(hours=4),
        guest_count=120,
        notes="Line one\nline two",
    )
    booking.change_status("tentative", at=MOMENT - dt.timedelta(days=3))
    booking.change_status("definite", at=MOMENT - dt.timedelta(days=1))
    booking.change_status("lost", at=MOMENT)
    return booking


def test_booking_in_business_reads_what_the_orm_reads(full_booking):
    read = Booking.objects.get_in_business(full_booking.business_id, full_booking.pk)

    expected = field_values(Booking.objects.get(pk=full_booking.pk))
    assert field_values(read) == expected
    assert read.lost_at == MOMENT
    assert read.lost_at.tzinfo is not None
    assert read._state.adding is False
    assert read._state.db == "default"


@pytest.mark.parametrize("pk", ["0", "-1", str(2**63), str(2**70), "999999", "9" * 5000])
def test_booking_in_business_raises_does_not_exist_for_ids_naming_no_booking(full_booking, pk):
    with pytest.raises(Booking.DoesNotExist):
        Booking.objects.get_in_business(full_booking.business_id, pk)


def test_booking_in_business_does_not_read_another_business_s_booking(full_booking, other_business):
    with pytest.raises(Booking.DoesNotExist):
        Booking.objects.get_in_business(other_business.id, full_booking.pk)


def test_a_compiled_query_reads_what_its_queryset_reads_and_keeps_its_constants(
    full_booking, make_booking
):
    make_booking(name="Still a lead")
    lost_names = fixed_sql.CompiledQuery(
        lambda business_id: (
            Booking.objects.for_business(business_id).filter(status="lost").only("name")
        )
    )

    [read] = lost_names.rows(business_id=full_booking.business_id)

    assert (read.pk, read.name) == (full_booking.pk, full_booking.name)
    assert read.get_deferred_fields() == {
        f.attname for f in Booking._meta.concrete_fields if f.name not in {"id", "name"}
    }
    assert lost_names.rows(business_id=full_booking.business_id + 1) == []


def test_a_compiled_query_refuses_a_queryset_that_does_not_use_each_value(full_booking):
    ignores_pk = fixed_sql.CompiledQuery(
        lambda business_id, pk: Booking.objects.for_business(business_id)
    )
    with pytest.raises(ValueError, match="must appear once"):
        ignores_pk.rows(business_id=full_booking.business_id, pk=full_booking.pk)


@isolate_apps("bookings")
def test_inserts_leave_generated_columns_and_database_defaults_to_the_database():
    class Probe(models.Model):
        name = models.CharField(max_length=20)
        size = models.IntegerField(db_default=3)
        double = models.GeneratedField(
            expression=models.F("name"), output_field=models.CharField(), db_persist=True
        )

        class Meta:
            app_label = "bookings"

        def __str__(self) -> str:
            return self.name

    assert fixed_sql.insert_fields(Probe) == ("name",)


def test_locked_read_is_for_update_where_the_database_has_row_locks(full_booking):
    with CaptureQueriesContext(connection) as captured:
        full_booking.change_status("definite")
    locked_read = next(q["sql"] for q in captured if q["sql"].startswith("SELECT"))
    assert locked_read.endswith(" FOR UPDATE") == connection.features.has_select_for_update


def test_update_writes_only_the_named_fields(full_booking):
    stale = Booking.objects.get(pk=full_booking.pk)
    stale.name = "renamed"
    stale.notes = "not to be written"

    assert fixed_sql.update(stale, ["name"]) == 1

    stored = Booking.objects.get(pk=full_booking.pk)
    assert stored.name == "renamed"
    assert stored.notes == full_booking.notes


def test_update_of_a_missing_row_updates_nothing(full_booking):
    gone = Booking(pk=full_booking.pk + 1000, name="x")
    assert fixed_sql.update(gone, ["name"]) == 0


def test_insert_stores_the_values_and_sets_the_primary_key(full_booking):
    entry = BookingStatusChange(
        booking=full_booking,
        business_id=full_booking.business_id,
        from_status="lost",
        to_status="lead",
        status_at=MOMENT,
        changed_by=None,
        source="command",
    )
    fixed_sql.insert(
        entry,
        ["booking", "business", "from_status", "to_status", "status_at"]
        + [
            "recorded_at",
            "changed_by",
            "source",
        ],
    )

    assert entry.pk is not None
    assert entry._state.adding is False
    assert field_values(BookingStatusChange.objects.get(pk=entry.pk)) == field_values(entry)


def test_status_list_reads_what_the_orm_reads_for_the_shared_list(business):
    expected = list(Status.objects.shared().active().in_list_order())
    read = Status.objects.active_list_of(business.id)

    assert expected
    assert all(status.business_id is None for status in read)
    assert [field_values(s) for s in read] == [field_values(s) for s in expected]


def test_status_list_reads_what_the_orm_reads_for_an_own_list(business):
    fork_shared_statuses(business.id, by="JoeSchmo")
    own = Status.objects.for_business(business.id).in_list_order()
    first, second = own[0], own[1]
    first.depends_on = [{"status": "OPEN"}]
    first.modified_at = MOMENT
    first.save()
    second.active = False
    second.save()

    expected = list(Status.objects.for_business(business.id).active().in_list_order())
    read = Status.objects.active_list_of(business.id)

    assert [s.pk for s in read] == [s.pk for s in expected]
    assert second.pk not in [s.pk for s in read]
    assert [field_values(s) for s in read] == [field_values(s) for s in expected]
    assert read[0].depends_on == [{"status": "OPEN"}]
    assert read[0].active is True


def test_token_holder_is_the_user_with_only_the_request_fields_loaded(api_user):
    _, key = ApiToken.objects.issue(api_user)

    holder = User.objects.holding_token(digest_token_key(key))

    assert (holder.pk, holder.username, holder.is_active, holder.business_id) == (
        api_user.pk,
        "JoeSchmo",
        True,
        api_user.business_id,
    )
    assert holder.get_deferred_fields() >= {"email", "password"}
    assert User.objects.holding_token(digest_token_key(key + "x")) is None


def test_statements_are_seen_by_whoever_counts_or_wraps_queries(full_booking):
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured:
        Booking.objects.get_in_business(full_booking.business_id, full_booking.pk)
    with connection.execute_wrapper(wrapper):
        Booking.objects.get_in_business(full_booking.business_id, full_booking.pk)

    assert len(captured) == 1
    assert captured[0]["sql"].startswith("SELECT")
    assert len(seen) == 1
    assert seen[0][1] == [full_booking.business_id, full_booking.pk]


def test_database_errors_are_django_s(full_booking):
    recorded = full_booking.status_changes.first()
    duplicate = BookingStatusChange(
        id=recorded.pk,
        booking=full_booking,
        from_status="lead",
        to_status="lost",
        status_at=MOMENT,
        source="command",
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        fixed_sql.insert(duplicate, ["id", *fixed_sql.insert_fields(BookingStatusChange)])


def test_a_transaction_marked_for_rollback_refuses_further_statements(full_booking):
    with transaction.atomic():
        transaction.set_rollback(True)
        with pytest.raises(TransactionManagementError):
            Booking.objects.get_in_business(full_booking.business_id, full_booking.pk)
