from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The API machinery every app shares: errors, the exception handler, strict fields,
    rendering and parsing, schema pieces, request guards and idempotency. It imports
    no app of the project; the apps import it."""

    name = "core"
    verbose_name = "API machinery"
