from django.apps import AppConfig


class StatusesConfig(AppConfig):
    name = "statuses"
    # What the "Staff" group may do (accounts/staff.py): their business's status list.
    staff_permissions = {"status": ["view", "add", "change", "delete"]}
