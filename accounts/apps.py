from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Businesses, users and API tokens"

    def ready(self) -> None:
        # Registers the token scheme with drf-spectacular's schema generator.
        import accounts.schema  # noqa: F401
