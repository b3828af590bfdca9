from django.apps import AppConfig


class BusinessSettingsConfig(AppConfig):
    name = "business_settings"
    verbose_name = "Business settings"
    # What the "Staff" group may do (accounts/staff.py): their business's settings.
    staff_permissions = {"businesssettings": ["view", "change"]}
