"""Production settings, checked the way a deploy would run them: in a fresh process."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key != "DATABASE_URL"
    }
    env.update(environment)
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**extra: str) -> dict:
    return {
        "DJANGO_PRODUCTION": "1",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "bookings.example.com",
        **extra,
    }


def test_check_deploy_is_clean_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = production()
    del env["DJANGO_SECRET_KEY"]
    result = manage("check", **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def setting(expression: str, **environment: str) -> str:
    """str() of a settings expression (e.g. `DEBUG`) as a fresh process sees it."""
    command = f"from django.conf import settings; print(settings.{expression})"
    return manage("shell", "-c", command, **environment).stdout.splitlines()[-1]


def test_debug_is_off_unless_asked_for():
    assert setting("DEBUG") == "False"
    assert setting("DEBUG", DJANGO_DEBUG="1") == "True"
    assert setting("DEBUG", **production(DJANGO_DEBUG="")) == "False"


def test_models_and_migrations_agree():
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wsgi_entry_point_freezes_what_start_up_built():
    # gunicorn imports config.wsgi: Django, the apps and the URLconf are loaded, then
    # moved out of the garbage collector's generations (gc.freeze).
    script = (
        "import gc, sys, config.wsgi; print(gc.get_freeze_count(), 'bookings.views' in sys.modules)"
    )
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    frozen, views_loaded = result.stdout.split()
    assert result.returncode == 0, result.stderr
    assert int(frozen) > 10_000
    assert views_loaded == "True"


def test_the_proxy_count_is_zero_unless_api_num_proxies_names_one():
    num_proxies = "REST_FRAMEWORK['NUM_PROXIES']"

    assert setting(num_proxies) == "0"
    assert setting(num_proxies, API_NUM_PROXIES="2") == "2"


def test_pgbouncer_settings_come_from_the_environment():
    postgresql = {
        "DATABASE_URL": "postgres://app@127.0.0.1:6432/booking_status",
        "DISABLE_SERVER_SIDE_CURSORS": "",
        "DB_PREPARE_THRESHOLD": "5",
        "DATABASE_DIRECT_URL": "",
    }
    cursors = "DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS']"
    prepare = "DATABASES['default']['OPTIONS']['prepare_threshold']"
    direct_url = "postgres://owner:secret@127.0.0.1:5432/booking_status"

    assert setting(cursors, **postgresql) == "False"
    assert setting(cursors, **{**postgresql, "DISABLE_SERVER_SIDE_CURSORS": "1"}) == "True"
    assert setting(prepare, **postgresql) == "5"
    assert setting(prepare, **{**postgresql, "DB_PREPARE_THRESHOLD": ""}) == "None"
    assert setting("DATABASE_DIRECT", **postgresql) == "{}"
    assert setting("DATABASE_DIRECT", **{**postgresql, "DATABASE_DIRECT_URL": direct_url}) == str(
        {"HOST": "127.0.0.1", "PORT": 5432, "USER": "owner", "PASSWORD": "secret"}
    )
