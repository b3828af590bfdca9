from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Businesses, users and API tokens"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Registers the token scheme with drf-spectacular's schema generator.
        import accounts.schema  # noqa: F401
        from accounts.staff import sync_staff_group

        # After auth's own post_migrate handler (auth is installed first), which creates
        # each app's permissions.
        post_migrate.connect(sync_staff_group, dispatch_uid="accounts.sync_staff_group")
