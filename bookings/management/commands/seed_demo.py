import datetime as dt
import random
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Business, User
from accounts.services import issue_api_token

DEMO_BUSINESS_ID = 43111
DEMO_STAFF = "demo-staff"
DEMO_API_USER = "JoeSchmo"
DEMO_EVENTS = ["Wedding", "Company offsite", "Charity gala", "Product launch", "Birthday"]


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
        from accounts.staff import staff_group

        staff.user_permissions.clear()  # the group is the one grant (a demo seeded before it)
        staff.groups.add(staff_group())

    def _create_demo_bookings(self, business: Business) -> None:
        """A year of bookings up to today, so that the Pipeline page (the last 12
        months) shows them: a few created each month, most moving on within weeks.

        Made through the API's write paths, so the feed has their events; then each
        booking's `created_at` is moved back to its demo day (one UPDATE): the demo's
        `booking.created` events keep the moment the seed ran."""
        from bookings.models import Booking
        from core.models import ChangeSource

        today = timezone.now().replace(second=0, microsecond=0)
        chance = random.Random(DEMO_BUSINESS_ID)
        created_on = {}
        for months_ago in range(11, -1, -1):
            index = today.year * 12 + today.month - 1 - months_ago
            last_day = today.day if months_ago == 0 else 28
            for number in range(2 + chance.randrange(3)):
                created = today.replace(
                    year=index // 12, month=index % 12 + 1, day=1 + chance.randrange(last_day)
                )
                booking = Booking.objects.create_booking(
                    business.id,
                    {
                        "name": f"{chance.choice(DEMO_EVENTS)} {months_ago}-{number}",
                        "guest_count": 10 * (1 + chance.randrange(30)),
                    },
                    source=ChangeSource.COMMAND,
                )
                created_on[booking.pk] = created
                self._move_on(booking, created, today, chance)
        for pk, created in created_on.items():
            Booking.objects.filter(pk=pk).update(created_at=created)

    def _move_on(self, booking, created: dt.datetime, today: dt.datetime, chance) -> None:
        """Tentative after a few days, then definite or lost a few weeks later (never
        after today), or left where it is."""
        from core.models import ChangeSource

        fate = chance.random()
        tentative = created + dt.timedelta(days=1 + chance.randrange(10), hours=chance.randrange(8))
        if fate < 0.25 or tentative >= today:
            return  # still a lead
        booking.change_status("tentative", at=tentative, source=ChangeSource.COMMAND)
        later = tentative + dt.timedelta(days=2 + chance.randrange(25), hours=chance.randrange(8))
        if fate < 0.45 or later >= today:
            return  # still tentative
        outcome = "definite" if fate < 0.85 else "lost"
        booking.change_status(outcome, at=later, source=ChangeSource.COMMAND)
