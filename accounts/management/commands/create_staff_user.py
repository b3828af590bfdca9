import os
import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.management.account_options import add_account_arguments, one_line_error
from accounts.services import create_staff_user

# The command's option for each field create_staff_user names in its errors.
OPTION_OF_FIELD = {"business": "--business", "username": "--username", "password": "password"}


class Command(BaseCommand):
    help = (
        "Create a staff member of a business: a user who signs in to the admin, sees only "
        "that business's rows and is in the Staff group. Prints a one-time password as "
        "the last line, unless --password-from-env names where to read one."
    )

    def add_arguments(self, parser):
        add_account_arguments(parser, business_help="an existing business's id")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="read the password from this environment variable (never from the "
            "command line, where other users of the machine can see it)",
        )

    def handle(self, *args, business, username, password_from_env, **options):
        if password_from_env is None:
            password = secrets.token_urlsafe(12)
        else:
            password = os.environ.get(password_from_env, "")
            if not password:
                raise CommandError(f"--password-from-env: ${password_from_env} is unset or empty.")
        try:
            user = create_staff_user(business_id=business, username=username, password=password)
        except ValidationError as error:
            raise one_line_error(error, OPTION_OF_FIELD) from error
        self.stdout.write(f"Staff user {user.username} of business {business} created.")
        if password_from_env is None:
            self.stdout.write("Password (shown once; change it after signing in):")
            self.stdout.write(password)
