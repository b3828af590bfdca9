"""The "Staff" group: every permission a business's staff member needs in the admin.

Each app declares what its staff may do with its own models, as an attribute of its
AppConfig:

    class BookingsConfig(AppConfig):
        staff_permissions = {"booking": ["view", "add", "change", "delete"]}

and after every `migrate` the group is given exactly the declared permissions of each
app (sync_staff_group, on post_migrate): an app added later (appointments, resources,
lost reasons) reaches staff by that one declaration, and a permission taken out of a
declaration is taken from the group. Which rows a staff member sees is the admin's
business scoping (accounts.admin_scoping), not the group.
"""

from django.apps import AppConfig
from django.contrib.auth.models import Group, Permission

STAFF_GROUP = "Staff"


def staff_group() -> Group:
    """The group (created by migration accounts.0008; recreated here after a flush)."""
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    return group


def declared_permissions(app_config: AppConfig) -> list[Permission]:
    """The permissions `app_config.staff_permissions` names, which must all exist."""
    declared = getattr(app_config, "staff_permissions", {})
    codenames = {f"{action}_{model}" for model, actions in declared.items() for action in actions}
    found = list(
        Permission.objects.filter(content_type__app_label=app_config.label, codename__in=codenames)
    )
    missing = codenames - {permission.codename for permission in found}
    if missing:
        raise LookupError(
            f"{app_config.label}.staff_permissions names no permission {sorted(missing)}"
        )
    return found


def sync_staff_group(sender: AppConfig, using: str = "default", **kwargs) -> None:
    """post_migrate, once per app (after auth has created that app's permissions): the
    group holds exactly the permissions the app declares for its models."""
    if not hasattr(sender, "staff_permissions"):
        return
    group = staff_group()
    wanted = declared_permissions(sender)
    group.permissions.remove(
        *group.permissions.filter(content_type__app_label=sender.label).exclude(
            pk__in=[permission.pk for permission in wanted]
        )
    )
    group.permissions.add(*wanted)
