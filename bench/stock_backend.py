"""Settings for measuring the project without config/postgresql (bench/peer.py
--variants stock-backend): Django's own PostgreSQL backend, which reads timestamps with
Django's loader."""

from config.settings import *  # noqa: F403

DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"  # noqa: F405
