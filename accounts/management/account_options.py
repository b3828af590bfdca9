"""What the account commands (create_api_token, create_staff_user) share: their
--business and --username options, and their one-line errors."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


def add_account_arguments(parser, *, business_help: str) -> None:
    parser.add_argument("--business", type=int, required=True, help=business_help)
    parser.add_argument(
        "--username",
        required=True,
        help="Django's username rules: up to 150 letters, digits and @ . + - _",
    )


def one_line_error(error: ValidationError, option_of_field: dict[str, str]) -> CommandError:
    """A ValidationError keyed by field, as one line naming each option at fault."""
    return CommandError(
        " ".join(
            f"{option_of_field[field]}: {' '.join(messages)}"
            for field, messages in error.message_dict.items()
        )
    )
