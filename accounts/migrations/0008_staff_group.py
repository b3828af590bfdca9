"""The "Staff" group. Its permissions are synced after every migrate from each app's
`staff_permissions` (accounts/staff.py), once the permissions exist."""

from django.db import migrations

STAFF_GROUP = "Staff"  # accounts.staff.STAFF_GROUP, as it was when this was written


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=STAFF_GROUP)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=STAFF_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_business_timezone"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
