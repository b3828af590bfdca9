from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    # What the "Staff" group may do (accounts/staff.py): the bookings of their business,
    # and their history, read-only.
    staff_permissions = {
        "booking": ["view", "add", "change", "delete"],
        "bookingstatuschange": ["view"],
    }
