"""Datetimes read from the database are aware, in UTC (`datetime.UTC` itself), and the
instant stored, however they are read. On PostgreSQL, plain cursors parse them with
psycopg's own loader rather than Django's (config/postgresql/base.py)."""

import datetime as dt

import pytest
from django.db import connection

from bookings.models import Booking

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the loader is PostgreSQL's"
)

MOMENTS = [
    dt.datetime(2025, 1, 15, 14, 30, 5, 250000, tzinfo=dt.UTC),
    dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(2024, 2, 29, 0, 0, tzinfo=dt.UTC),
    dt.datetime(1, 1, 1, 0, 0, tzinfo=dt.UTC),
]


def assert_utc(values) -> None:
    for value in values:
        assert value.tzinfo is dt.UTC, value


@pytest.mark.parametrize("moment", MOMENTS)
def test_the_orm_reads_back_the_instant_stored_in_utc(make_booking, moment):
    booking = make_booking(starts_at=moment, ends_at=moment + dt.timedelta(hours=1))

    read = Booking.objects.values_list("starts_at", "ends_at").get(pk=booking.pk)

    assert read == (moment, moment + dt.timedelta(hours=1))
    assert_utc(read)


def test_a_server_side_cursor_reads_the_same_as_a_plain_one(make_booking):
    for moment in MOMENTS:
        make_booking(starts_at=moment)
    plain = list(Booking.objects.order_by("pk").values_list("starts_at", flat=True))

    # iterator() with a chunk size uses a named (server-side) cursor on PostgreSQL.
    streamed = list(
        Booking.objects.order_by("pk").values_list("starts_at", flat=True).iterator(chunk_size=2)
    )

    assert streamed == plain == MOMENTS
    assert_utc(streamed)


@on_postgresql
def test_offsets_in_sql_come_back_as_the_same_instant_in_utc():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT '2025-03-30 01:30:00.5+05:45'::timestamptz, "
            "'1970-01-01 00:00:00-08'::timestamptz, '2025-06-01 12:00:00Z'::timestamptz"
        )
        row = cursor.fetchone()

    assert row == (
        dt.datetime(2025, 3, 29, 19, 45, 0, 500000, tzinfo=dt.UTC),
        dt.datetime(1970, 1, 1, 8, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC),
    )
    assert_utc(row)
