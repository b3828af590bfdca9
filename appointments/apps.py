from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    """Resources, appointments that live by their business's status list, and their
    history (SPEC §14). Imports statuses, events, accounts and core."""

    name = "appointments"
    # What the "Staff" group may do (accounts/staff.py): their business's resources and
    # appointments (neither is ever deleted), and the appointments' history, read-only.
    staff_permissions = {
        "resource": ["view", "add", "change"],
        "appointment": ["view", "add", "change"],
        "appointmentstatuschange": ["view"],
    }

    def ready(self) -> None:
        # Connects the receiver of statuses' `status_changed` (appointments.actions).
        import appointments.actions  # noqa: F401
