from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.management.account_options import add_account_arguments, one_line_error
from accounts.services import issue_api_token

# The command's option for each field validated_account names in its errors.
OPTION_OF_FIELD = {"id": "--business", "name": "--business-name", "username": "--username"}


class Command(BaseCommand):
    help = (
        "Create an API token for a user of a business, creating the business and the user "
        "if missing. The new key is printed as the last line."
    )

    def add_arguments(self, parser):
        add_account_arguments(parser, business_help="business id, e.g. 43111")
        parser.add_argument(
            "--business-name",
            help="name for a business created by this command: up to 200 characters, "
            "no control characters, no < or >",
        )

    def handle(self, *args, business, username, business_name, **options):
        if business <= 0:
            raise CommandError("--business must be a positive integer.")
        try:
            user, key = issue_api_token(
                business_id=business, username=username, business_name=business_name
            )
        except ValidationError as error:
            raise one_line_error(error, OPTION_OF_FIELD) from error
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Token for {user.username} of business {business} (shown once):")
        self.stdout.write(key)
