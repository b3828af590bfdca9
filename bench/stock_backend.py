"""Settings for measuring the project without config/postgresql (bench/peer.py
--variants stock-backend): Django's own PostgreSQL backend, which checks every pooled
connection it hands out (CONN_HEALTH_CHECKS) and reads timestamps with Django's loader."""

from config.settings import *  # noqa: F403

DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"  # noqa: F405
DATABASES["default"]["OPTIONS"].pop("pool_check_idle", None)  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
