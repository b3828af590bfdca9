"""BookingStatusChange.business: the booking's business on every history entry.

Added nullable and without its FOREIGN KEY, filled from each entry's booking, then
made NOT NULL with the constraint and the index. The constraint comes after the
fill because then PostgreSQL validates it in one pass over the table; added first,
it queues a deferred check per row updated, which is slower than one validating
pass, and those pending checks would also forbid the ALTERs in the same transaction.

One UPDATE for the whole table, not batches by pk range: PostgreSQL runs the
migration in one transaction anyway (batches would need a non-atomic migration
and could leave a half-filled column behind), and one statement over the table is
the cheapest way to fill it. It is the ORM's correlated sub-select, which both
databases run alike; PostgreSQL's UPDATE ... FROM join was no faster."""

import django.db.models.deletion
from django.db import migrations, models


def copy_business_from_booking(apps, schema_editor):
    Booking = apps.get_model("bookings", "Booking")
    BookingStatusChange = apps.get_model("bookings", "BookingStatusChange")
    bookings_business = Booking.objects.filter(pk=models.OuterRef("booking_id")).values(
        "business_id"
    )[:1]
    BookingStatusChange.objects.filter(business__isnull=True).update(
        business_id=models.Subquery(bookings_business)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_business_timezone"),
        ("bookings", "0003_booking_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="bookingstatuschange",
            name="business",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.business",
            ),
        ),
        migrations.RunPython(copy_business_from_booking, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="bookingstatuschange",
            name="business",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.business",
            ),
        ),
        migrations.AddIndex(
            model_name="bookingstatuschange",
            index=models.Index(
                fields=["business", "booking", "id"], name="status_change_business"
            ),
        ),
    ]
