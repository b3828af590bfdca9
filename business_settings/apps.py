from django.apps import AppConfig


class BusinessSettingsConfig(AppConfig):
    name = "business_settings"
    verbose_name = "Business settings"
