from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Every change as an event (SPEC §8.1) and the feed that serves them in an order
    no concurrent commit can break (§8.2). Imports core only; the apps that change
    things import it."""

    name = "events"
    # What the "Staff" group may do (accounts/staff.py): read their business's events.
    staff_permissions = {"event": ["view"]}
