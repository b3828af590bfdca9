"""Install the shared default status list (business NULL), as the Status API seed lists
it: one status per seed subStatus name, under its natural status, in seed order."""

from django.db import migrations
from django.utils import timezone

# (status, subStatus) in list order; sortOrder is the position, from 1.
SHARED_DEFAULTS = [
    ("PENDING", "PENDING"),
    ("PENDING_CONFIRMATION", "PENDING_CONFIRMATION"),
    ("PENDING_WAITLIST", "PENDING_WAITLIST"),
    ("OPEN", "OPEN"),
    ("READ_ONLY", "READ_ONLY"),
    ("READ_ONLY_FREE", "READ_ONLY_FREE"),
    ("NO_SHOW", "NO_SHOW"),
    ("OPEN", "RUNNING_LATE"),
    ("OPEN", "INPROGRESS"),
    ("OPEN", "CHECKEDIN"),
    ("COMPLETED", "COMPLETED"),
    ("OPEN", "CONFIRMED"),
    ("CANCELLED", "CANCELLED"),
    ("DELETED", "DELETED"),
]


def install_shared_defaults(apps, schema_editor):
    Status = apps.get_model("statuses", "Status")
    now = timezone.now()
    for sort_order, (status, sub_status) in enumerate(SHARED_DEFAULTS, start=1):
        Status.objects.get_or_create(
            business=None,
            status=status,
            sub_status=sub_status,
            defaults={"sort_order": sort_order, "created_at": now},
        )


def remove_shared_defaults(apps, schema_editor):
    Status = apps.get_model("statuses", "Status")
    for status, sub_status in SHARED_DEFAULTS:
        Status.objects.filter(business=None, status=status, sub_status=sub_status).delete()


class Migration(migrations.Migration):
    dependencies = [("statuses", "0001_initial")]

    operations = [migrations.RunPython(install_shared_defaults, remove_shared_defaults)]
