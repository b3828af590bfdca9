"""The admin's dates and times in one format, ISO 8601's (`2025-01-10`, `2025-01-10
14:30`), whatever the locale's habit ("Jan. 10, 2025"): FORMAT_MODULE_PATH in settings.
What is typed is read as Django's English formats read it (ISO among them)."""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
