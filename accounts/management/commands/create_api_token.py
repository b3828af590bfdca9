from django.core.management.base import BaseCommand, CommandError

from accounts.services import issue_api_token


class Command(BaseCommand):
    help = (
        "Create an API token for a user of a business, creating the business and the user "
        "if missing. The new key is printed as the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--business", type=int, required=True, help="business id, e.g. 43111")
        parser.add_argument("--username", required=True)
        parser.add_argument("--business-name", help="name for a business created by this command")

    def handle(self, *args, business, username, business_name, **options):
        if business <= 0:
            raise CommandError("--business must be a positive integer.")
        try:
            user, key = issue_api_token(
                business_id=business, username=username, business_name=business_name
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Token for {user.username} of business {business} (shown once):")
        self.stdout.write(key)
