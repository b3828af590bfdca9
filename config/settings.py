"""Settings for the booking status service.

Every value that differs between deployments is read from the environment here,
and nowhere else. Development defaults are safe: DEBUG is off unless asked for,
and the embedded SQLite database needs no server.
"""

import datetime as dt
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
    "config.apps.BookingStatusAdminConfig",  # django.contrib.admin, our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rangefilter",
    "axes",
    "core",
    "accounts",
    "events",
    "webhooks",
    "bookings",
    "statuses",
    "appointments",
    "reports",
    "business_settings",
    "scheduler",
]

MIDDLEWARE = [
    # First: every response gets X-Request-ID, and every request its log line.
    "core.middleware.RequestIdMiddleware",
    "core.middleware.RequestLogMiddleware",
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
    # Last: turns a locked-out login into the lockout page (settings AXES_* below).
    "axes.middleware.AxesMiddleware",
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
    # Django's backend, reading timestamps with psycopg's own loader: see
    # config/postgresql/base.py.
    _database["ENGINE"] = "config.postgresql"
    _database["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not
    # The pool checks each connection before handing it out (one round trip), so that
    # after a database restart requests do not get dead connections. DB_POOL_CHECK=0: none.
    _database["CONN_HEALTH_CHECKS"] = env_flag("DB_POOL_CHECK", True)
    # Behind PgBouncer in transaction mode a cursor cannot outlive its transaction:
    # set DISABLE_SERVER_SIDE_CURSORS=1 there, and .iterator() reads in chunks instead.
    _database["DISABLE_SERVER_SIDE_CURSORS"] = env_flag("DISABLE_SERVER_SIDE_CURSORS")
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
        "pool": {
            "min_size": int(os.environ.get("DB_POOL_MIN_SIZE", "2")),
            "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", "16")),
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "2")),
        },
    }
DATABASES = {"default": _database}
# The same database reached without PgBouncer: `migrate` and the webhook worker's LISTEN
# use its host, port, user and password (core/direct_connection.py). Empty: DATABASE_URL.
_direct_url = os.environ.get("DATABASE_DIRECT_URL", "")
DATABASE_DIRECT = (
    {key: dj_database_url.parse(_direct_url)[key] for key in ("HOST", "PORT", "USER", "PASSWORD")}
    if _direct_url
    else {}
)
# SPEC §12: when DATABASE_REPLICA_URL is set (a streaming standby), the two reports read
# from it and nothing else does (reports/routers.py). It takes the default's options;
# only where to connect comes from its URL. Tests never create it: it mirrors default.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    _replica = dj_database_url.parse(DATABASE_REPLICA_URL)
    if _replica["ENGINE"] != dj_database_url.parse(DATABASE_URL)["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must name the same kind of database.")
    DATABASES["replica"] = {
        **_database,
        **{key: _replica[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")},
        "OPTIONS": {**_database.get("OPTIONS", {}), **_replica.get("OPTIONS", {})},
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["reports.routers.ReportsReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# The tenant every API record is scoped to (core stores idempotency keys per tenant).
TENANT_MODEL = "accounts.Business"
# AxesBackend first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
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
# ISO dates and times in the admin (config/formats/en/formats.py), not "Jan. 10, 2025".
FORMAT_MODULE_PATH = ["config.formats"]

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

# --- Admin login lockout (django-axes) ------------------------------------
# Failed logins are counted in the database, so every app server shares the count,
# per account and per client address apart: either reaching the limit locks out for
# ADMIN_LOCKOUT_MINUTES (a further try restarts the wait). Superusers unlock in the
# admin (Axes › Access attempts: delete the rows) or with `manage.py axes_reset_username
# NAME` / `axes_reset_ip ADDRESS` / `axes_reset`.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# No banner on stderr at every start (it would open every command's output).
AXES_VERBOSE = False
AXES_FAILURE_LIMIT = int(os.environ.get("ADMIN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("ADMIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "accounts.login_lockout.lockout_response"
# The client address as the API's failed-token throttle takes it (REMOTE_ADDR, unless
# API_NUM_PROXIES says how many proxies of ours append to X-Forwarded-For).
AXES_CLIENT_IP_CALLABLE = "accounts.login_lockout.client_address"

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
    # The client address (which failed token attempts are counted by) is REMOTE_ADDR,
    # unless API_NUM_PROXIES=N proxies stand in front: then it is the Nth address from
    # the end of X-Forwarded-For, the one the outermost proxy appended. 0, not DRF's
    # default None: with None DRF keys on the whole header, which a client can rotate.
    "NUM_PROXIES": int(os.environ.get("API_NUM_PROXIES") or 0),
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
        "appointment status list. Authenticate with `Authorization: Token <key>` or, the "
        "same key, `Authorization: Bearer <key>`; every "
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

# --- Webhook endpoint URLs (SPEC §8.3; webhooks/urls_policy.py) ----------------------
# Off in production: receivers are public https:// addresses. Tests and the local demo
# turn them on to post to a receiver on 127.0.0.1.
WEBHOOK_ALLOW_HTTP = env_flag("WEBHOOK_ALLOW_HTTP")
WEBHOOK_ALLOW_PRIVATE_HOSTS = env_flag("WEBHOOK_ALLOW_PRIVATE_HOSTS")

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", True)
    # Probes and scrapers speak plain HTTP inside the network, and count a redirect as
    # healthy: the health checks and the metrics answer themselves, never a 301.
    SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)/?$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Webhooks (SPEC §8.4) --------------------------------------------------
# The whole attempt's deadline, in seconds: connect, send, the answer's first 64 KiB.
WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", "10"))
# Seconds before each retry after a failed attempt (+0-10% jitter); after the last
# retry fails, the delivery is `failed`.
WEBHOOK_RETRY_SCHEDULE = [
    float(seconds)
    for seconds in env_list("WEBHOOK_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,36000")
]
# An endpoint none of whose attempts succeeded for this long is disabled.
WEBHOOK_DISABLE_AFTER_DAYS = float(os.environ.get("WEBHOOK_DISABLE_AFTER_DAYS", "5"))
# The worker LISTENs for new events on a direct PostgreSQL connection; behind
# PgBouncer in transaction mode LISTEN fails silently: set 0 to poll every second only.
# With DATABASE_DIRECT_URL set the worker LISTENs there, past PgBouncer.
WEBHOOK_WORKER_LISTEN = env_flag("WEBHOOK_WORKER_LISTEN", True)

# --- The scheduler (SPEC §16; docs/operations.md, "The scheduler") ----------------
# Seconds a scheduler sleeps between passes: work is done within this (and a pass's
# length) of falling due; SPEC §16 asks for 60 s.
SCHEDULER_INTERVAL = float(os.environ.get("SCHEDULER_INTERVAL", "10"))
if not 0 < SCHEDULER_INTERVAL <= 50:
    raise ImproperlyConfigured("SCHEDULER_INTERVAL must be more than 0 and at most 50 seconds.")

# --- Metrics and logs (SPEC §12; docs/operations.md, "Metrics and logs") -----------
# GET /metrics answers only when METRICS_ENABLED; with METRICS_TOKEN set, only to
# `Authorization: Bearer <METRICS_TOKEN>`. Under gunicorn, PROMETHEUS_MULTIPROC_DIR (read
# by prometheus-client itself) sums the workers' counts: see config/gunicorn.py.
METRICS_ENABLED = env_flag("METRICS_ENABLED")
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Read at each scrape, from the database (core imports no app: named here).
METRICS_COLLECTORS = [
    "webhooks.metrics.DeliveryBacklogCollector",
    "scheduler.metrics.ScheduledWorkCollector",
]
# json: one JSON object a line (request id, method, route, status, duration, business);
# plain: text for a terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("json" if PRODUCTION else "plain")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "core.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
