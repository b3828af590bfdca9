"""Settings for the booking status service.

Every value that differs between deployments is read from the environment here,
and nowhere else. Development defaults are safe: DEBUG is off unless asked for,
and the embedded SQLite database needs no server.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_flag("DJANGO_DEBUG")
# Production deploys set DJANGO_PRODUCTION=1: the secret key then has no default.
PRODUCTION = env_flag("DJANGO_PRODUCTION")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_PRODUCTION=1.")
    SECRET_KEY = "development-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "accounts",
    "events",
    "webhooks",
    "bookings",
    "statuses",
]

MIDDLEWARE = [
    "core.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's own, stepping aside on the API's paths (core.middleware.BrowserOnlyMixin).
    "core.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "core.middleware.AuthenticationMiddleware",
    "core.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# SQLite (embedded, the default) runs in WAL mode and opens every write
# transaction with BEGIN IMMEDIATE, so concurrent writers queue on the lock
# instead of failing with "database is locked" half-way through.
# PostgreSQL (DATABASE_URL=postgres://...) is the production database and
# uses psycopg 3 with Django's connection pool.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
_database = dj_database_url.parse(DATABASE_URL)
if _database["ENGINE"] == "django.db.backends.sqlite3":
    _database["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
        ),
    }
elif _database["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, except that a pooled connection is checked (one round trip)
    # only when it sat idle for DB_POOL_CHECK_IDLE seconds, rather than on every
    # request: see config/postgresql/base.py.
    _database["ENGINE"] = "config.postgresql"
    _database["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not
    _database["CONN_HEALTH_CHECKS"] = False
    _prepare_threshold = os.environ.get("DB_PREPARE_THRESHOLD", "5")
    _database["OPTIONS"] = {
        # While the database is down, a request waits at most this long for a
        # connection and then answers 503, rather than hanging.
        "connect_timeout": int(os.environ.get("DB_CONNECT_TIMEOUT", "3")),
        # Parameters travel separately from the SQL, and psycopg prepares a statement
        # once a connection has run it DB_PREPARE_THRESHOLD times (the same few run on
        # every request), so PostgreSQL stops parsing and planning them each time.
        # Django turns preparing off by default for the sake of transaction-mode
        # poolers (PgBouncer before 1.21); set DB_PREPARE_THRESHOLD= (empty) behind one.
        "server_side_binding": env_flag("DB_SERVER_SIDE_BINDING", True),
        "prepare_threshold": int(_prepare_threshold) if _prepare_threshold else None,
        # So that after a database restart requests do not get dead connections.
        # 0 checks every connection handed out; DB_POOL_CHECK=0 none.
        "pool_check_idle": (
            float(os.environ.get("DB_POOL_CHECK_IDLE", "1"))
            if env_flag("DB_POOL_CHECK", True)
            else None
        ),
        "pool": {
            "min_size": int(os.environ.get("DB_POOL_MIN_SIZE", "2")),
            "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", "16")),
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "2")),
        },
    }
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# The tenant every API record is scoped to (core stores idempotency keys per tenant).
TENANT_MODEL = "accounts.Business"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Without collectstatic (development, tests) WhiteNoise serves from the finders.
WHITENOISE_USE_FINDERS = True

# A cache shared by every app server (the database), used to count failed
# authentication attempts per client.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "django_cache",
    }
}

# --- Events ----------------------------------------------------------------
# purge_events deletes events older than this (SPEC §8.1), never the newest of a
# business nor one a webhook delivery still waits on.
EVENT_RETENTION_DAYS = int(os.environ.get("EVENT_RETENTION_DAYS", "30"))

# Bodies over 1 MiB are refused before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.HashedTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsBusinessMember"],
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.ContentNegotiation",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "failed_authentication": os.environ.get("API_FAILED_AUTH_RATE", "30/min"),
    },
    # Client addresses come from REMOTE_ADDR unless a proxy count is configured.
    "NUM_PROXIES": int(os.environ["API_NUM_PROXIES"])
    if os.environ.get("API_NUM_PROXIES")
    else None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Fields hand dates and datetimes to the renderer, which writes them in C
    # (config/renderers.py): YYYY-MM-DD, and ISO 8601 in UTC with a `Z`.
    "DATE_FORMAT": None,
    "DATETIME_FORMAT": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Booking status service",
    "DESCRIPTION": (
        "Bookings that move through lead → tentative → definite (or lost) with a precise "
        "UTC moment and an audit trail for every status change, and each business's "
        "appointment status list. Authenticate with `Authorization: Token <key>`; every "
        "request sees only the caller's business."
    ),
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "bookings.models.BookingStatus",
        "StatusNameEnum": "statuses.models.StatusName",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.describe_routing_and_query_rules",
    ],
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
