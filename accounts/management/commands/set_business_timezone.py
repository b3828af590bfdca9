from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Business
from core.errors import DomainError


class Command(BaseCommand):
    help = "Put a business on an IANA time zone, realigning its bookings' status dates."

    def add_arguments(self, parser):
        parser.add_argument(
            "--timezone",
            required=True,
            help="an exact IANA zone name, e.g. America/New_York, Europe/Paris or UTC",
        )
        parser.add_argument("--business", type=int, required=True, help="business id, e.g. 43111")

    def handle(self, *args, business, timezone, **options):
        """Every status date of the business's bookings is realigned to the new zone in
        the same transaction; moments and history stay as they are."""
        try:
            found = Business.objects.get(pk=business)
        except (Business.DoesNotExist, ValueError, OverflowError):
            raise CommandError(f"--business: there is no business {business}.") from None
        previous = found.timezone
        try:
            changed = found.set_timezone(timezone)
        except ValidationError as error:
            raise CommandError(f"--timezone: {' '.join(error.messages)}") from None
        except DomainError as refused:
            raise CommandError(refused.message) from None
        except Business.DoesNotExist:  # deleted since it was read
            raise CommandError(f"--business: there is no business {business}.") from None
        realigned = ", ".join(f"{len(ids)} {what}" for what, ids in changed.items()) or "nothing"
        self.stdout.write(
            self.style.SUCCESS(
                f"{found} moved from {previous} to {timezone}; dates realigned: {realigned}."
            )
        )
