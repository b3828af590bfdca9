import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Business, User
from accounts.services import issue_api_token

DEMO_BUSINESS_ID = 43111
DEMO_STAFF = "demo-staff"
DEMO_API_USER = "JoeSchmo"


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo business with a staff user and an API user, and print "
        "the staff password and a new API token. Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--server-url",
            default="http://127.0.0.1:8000",
            help="where the server will answer, for the admin link printed "
            "(default http://127.0.0.1:8000; dev.py serve passes the address it serves)",
        )

    @transaction.atomic
    def handle(self, *args, server_url: str, **options):
        business, _ = Business.objects.get_or_create(
            id=DEMO_BUSINESS_ID, defaults={"name": "Demo Venue"}
        )
        staff, _ = User.objects.get_or_create(
            username=DEMO_STAFF, defaults={"business": business, "is_staff": True}
        )
        password = secrets.token_urlsafe(12)
        staff.set_password(password)
        staff.is_staff = True
        staff.save()
        self._grant_staff_permissions(staff)
        if not business.bookings.exists():
            self._create_demo_bookings(business)
        _, key = issue_api_token(business_id=business.id, username=DEMO_API_USER)
        self.stdout.write(f"Demo business: {business}")
        self.stdout.write(
            f"Admin: {server_url.rstrip('/')}/admin/  user {DEMO_STAFF}  password {password}"
        )
        self.stdout.write(f"API token for {DEMO_API_USER} (Authorization: Token <key>):")
        self.stdout.write(key)

    def _grant_staff_permissions(self, staff: User) -> None:
        from django.contrib.auth.models import Permission

        staff.user_permissions.set(
            Permission.objects.filter(content_type__app_label__in=["bookings", "statuses"])
        )

    def _create_demo_bookings(self, business: Business) -> None:
        import datetime as dt

        from bookings.models import Booking
        from core.models import ChangeSource

        start = dt.datetime(2025, 1, 10, 9, 15, tzinfo=dt.UTC)

        # Through the write path the API uses, so the demo's changes are in its events feed.
        def create(name: str, guest_count: int, **status) -> Booking:
            return Booking.objects.create_booking(
                business.id,
                {"name": name, "guest_count": guest_count},
                source=ChangeSource.COMMAND,
                **status,
            )

        wedding = create("Spring wedding", 120, status="tentative", at=start)
        wedding.change_status(
            "definite",
            at=start + dt.timedelta(days=5, hours=5, minutes=15),
            source=ChangeSource.COMMAND,
        )
        create("Company offsite", 40)
        create("Charity gala", 300, status="lost", at=start + dt.timedelta(days=2))
