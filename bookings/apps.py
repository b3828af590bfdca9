from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    # What the "Staff" group may do (accounts/staff.py): the bookings of their business,
    # and their history, read-only.
    staff_permissions = {
        "booking": ["view", "add", "change", "delete"],
        "bookingstatuschange": ["view"],
    }

    def ready(self) -> None:
        from accounts.models import timezone_change_checked, timezone_changed
        from bookings.fixes import check_realignment, realign_business

        # A zone change realigns the business's bookings' dates (SPEC §9), unless one is
        # dated before 1900 (SPEC §17).
        timezone_changed.connect(realign_business, dispatch_uid="bookings.realign_business")
        timezone_change_checked.connect(
            check_realignment, dispatch_uid="bookings.check_realignment"
        )
