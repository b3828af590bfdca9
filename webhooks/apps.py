from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Webhook endpoints, their deliveries (the delivery table is the queue), and the
    worker that fans the events feed out to them and signs and sends each attempt
    (SPEC §8.3–8.4). Imports events, accounts and core."""

    name = "webhooks"
    # What the "Staff" group may do (accounts/staff.py): their business's endpoints, and
    # its deliveries (read, and "retry now", which the change permission allows).
    staff_permissions = {
        "webhookendpoint": ["view", "add", "change", "delete"],
        "delivery": ["view", "change"],
    }
