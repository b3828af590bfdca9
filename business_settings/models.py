"""The business's settings as the admin shows them: a proxy of accounts.Business, so
that they have their own admin page and their own permissions (staff of a business
change its settings, never the business itself)."""

from accounts.models import Business


class BusinessSettings(Business):
    class Meta:
        proxy = True
        verbose_name = "business settings"
        verbose_name_plural = "business settings"
