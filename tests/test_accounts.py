"""Businesses, users and hashed API tokens (SPEC §2)."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiToken, Business, User


def create_token(*arguments: str) -> list[str]:
    out = StringIO()
    call_command("create_api_token", *arguments, stdout=out)
    return out.getvalue().strip().splitlines()


@pytest.mark.django_db
def test_create_api_token_creates_business_and_user_and_prints_the_key_last(client):
    lines = create_token("--business", "43111", "--username", "JoeSchmo")
    key = lines[-1]

    user = User.objects.get(username="JoeSchmo")
    assert user.business == Business.objects.get(id=43111)
    assert len(key) >= 40
    response = client.get("/v2/bookings", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200


@pytest.mark.django_db
def test_keys_are_stored_only_as_sha256_digests():
    key = create_token("--business", "43111", "--username", "JoeSchmo")[-1]

    token = ApiToken.objects.get()
    assert token.key_digest == hashlib.sha256(key.encode()).hexdigest()
    stored = [str(value) for value in ApiToken.objects.values_list(flat=False).get()]
    assert key not in stored


@pytest.mark.django_db
def test_a_second_token_for_the_same_user_is_new_and_both_work(client):
    first = create_token("--business", "43111", "--username", "JoeSchmo")[-1]
    second = create_token("--business", "43111", "--username", "JoeSchmo")[-1]

    assert first != second
    assert User.objects.count() == 1
    for key in (first, second):
        assert client.get("/v2/bookings", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


@pytest.mark.django_db
def test_a_user_of_another_business_gets_no_token():
    create_token("--business", "43111", "--username", "JoeSchmo")

    with pytest.raises(CommandError, match="belongs to business 43111"):
        create_token("--business", "50222", "--username", "JoeSchmo")
    assert ApiToken.objects.count() == 1
    assert not Business.objects.filter(id=50222).exists()


@pytest.mark.django_db
def test_a_deleted_token_stops_working(client):
    key = create_token("--business", "43111", "--username", "JoeSchmo")[-1]
    ApiToken.objects.all().delete()
    assert client.get("/v2/bookings", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        ("Basic {key}", "Authentication credentials were not provided."),
        ("Token", "Invalid token header: expected 'Token <key>'."),
        ("Bearer", "Invalid token header: expected 'Bearer <key>'."),
        ("Bearer {key} extra", "Invalid token header: expected 'Bearer <key>'."),
        ("Bearer {key}x", "Invalid token."),
        ("Token {key} extra", "Invalid token header: expected 'Token <key>'."),
        ("Token caf\xe9", "Invalid token."),
        ("Token {key}x", "Invalid token."),
    ],
)
def test_a_malformed_authorization_header_gets_401_naming_the_problem(client, header, detail):
    key = create_token("--business", "43111", "--username", "JoeSchmo")[-1]
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header.format(key=key)}

    response = client.get("/v2/bookings", **extra)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
@pytest.mark.parametrize("keyword", ["Bearer", "bearer", "BEARER"])
def test_bearer_is_accepted_exactly_like_token(client, keyword):
    key = create_token("--business", "43111", "--username", "JoeSchmo")[-1]

    with_bearer = client.get("/v2/business", HTTP_AUTHORIZATION=f"{keyword} {key}")
    with_token = client.get("/v2/business", HTTP_AUTHORIZATION=f"Token {key}")

    assert with_bearer.status_code == 200
    assert with_bearer.json() == with_token.json()


@pytest.mark.django_db
def test_failed_bearer_attempts_are_throttled_like_token_ones(client, monkeypatch):
    from django.core.cache import cache

    from accounts.authentication import FailedAuthenticationThrottle

    monkeypatch.setattr(
        FailedAuthenticationThrottle, "THROTTLE_RATES", {"failed_authentication": "3/min"}
    )
    cache.clear()
    statuses = [
        client.get("/v2/bookings", HTTP_AUTHORIZATION=f"{keyword} guess").status_code
        for keyword in ["Bearer", "Token", "Bearer", "Bearer"]
    ]
    cache.clear()
    assert statuses == [401, 401, 401, 429]


@pytest.mark.django_db
def test_the_keyword_is_case_insensitive(client):
    key = create_token("--business", "43111", "--username", "JoeSchmo")[-1]

    assert client.get("/v2/bookings", HTTP_AUTHORIZATION=f"token {key}").status_code == 200
    assert client.get("/v2/bookings", HTTP_AUTHORIZATION=f"TOKEN  {key}").status_code == 200


@pytest.mark.django_db
def test_seed_demo_prints_a_working_token_and_is_safe_to_rerun(client):
    from bookings.models import Booking
    from events.models import Event

    for _ in range(2):
        out = StringIO()
        call_command("seed_demo", stdout=out)
        key = out.getvalue().strip().splitlines()[-1]
        response = client.get("/v2/bookings?page_size=200", HTTP_AUTHORIZATION=f"Token {key}")
        assert response.status_code == 200
        assert len(response.json()["results"]) == Booking.objects.count() >= 24
    assert Business.objects.count() == 1
    # Made through the API's write path: each demo booking's creation is an event. (Read
    # from the table: the feed shows only events of ended transactions, and this test
    # runs inside one.)
    assert Event.objects.filter(type="booking.created").count() == Booking.objects.count()


@pytest.mark.django_db
def test_the_demo_fills_the_pipeline_of_the_last_12_months_whenever_it_runs(client):
    from bookings.models import Booking

    out = StringIO()
    call_command("seed_demo", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]

    rows = client.get("/v2/reports/pipeline", HTTP_AUTHORIZATION=f"Token {key}").json()["results"]

    assert sum(row["bookings"] for row in rows) == Booking.objects.count()
    assert all(row["bookings"] > 0 for row in rows[1:])  # every month of the last 12
    assert sum(row["reached_definite"] for row in rows) > 0


@pytest.mark.django_db
def test_repeated_failed_authentication_is_throttled_but_a_valid_token_still_works(
    client, monkeypatch
):
    from django.core.cache import cache

    from accounts.authentication import FailedAuthenticationThrottle

    key = create_token("--business", "43111", "--username", "JoeSchmo")[-1]
    monkeypatch.setattr(
        FailedAuthenticationThrottle, "THROTTLE_RATES", {"failed_authentication": "3/min"}
    )
    cache.clear()

    codes = [
        client.get("/v2/bookings", HTTP_AUTHORIZATION="Token guess").status_code for _ in range(5)
    ]

    assert codes == [401, 401, 401, 429, 429]
    assert client.get("/v2/bookings", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/admin/accounts/business/",
        "/admin/accounts/business/43111/change/",
        "/admin/accounts/user/",
        "/admin/accounts/apitoken/",
        "/admin/autocomplete/?app_label=bookings&model_name=booking&field_name=business",
    ],
)
def test_staff_with_every_permission_still_cannot_reach_tenants_users_or_tokens(client, path):
    from django.contrib.auth.models import Permission

    business = Business.objects.create(id=43111, name="Demo Venue")
    Business.objects.create(id=50222, name="Rival Hall")
    staff = User.objects.create_user("frontdesk", business=business, is_staff=True)
    staff.user_permissions.set(Permission.objects.all())
    client.force_login(staff)

    response = client.get(path)

    assert response.status_code in (302, 403, 404)
    assert b"Rival Hall" not in response.content


@pytest.fixture
def failures_allowed_three_times(monkeypatch):
    from django.core.cache import cache

    from accounts.authentication import FailedAuthenticationThrottle

    monkeypatch.setattr(
        FailedAuthenticationThrottle, "THROTTLE_RATES", {"failed_authentication": "3/min"}
    )
    cache.clear()
    yield
    cache.clear()


def guess(client, **headers) -> int:
    return client.get("/v2/bookings", HTTP_AUTHORIZATION="Token guess", **headers).status_code


@pytest.mark.django_db
def test_without_a_proxy_count_x_forwarded_for_cannot_escape_the_throttle(
    client, failures_allowed_three_times
):
    codes = [guess(client, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}") for n in range(5)]

    assert codes == [401, 401, 401, 429, 429]


@pytest.mark.django_db
def test_behind_one_proxy_the_client_is_the_address_the_proxy_appended(
    client, settings, failures_allowed_three_times
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    # The hops a client writes itself do not matter; the one the proxy appended does.
    spoofed = [guess(client, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 203.0.113.7") for n in range(4)]
    other_client = guess(client, HTTP_X_FORWARDED_FOR="203.0.113.8")

    assert spoofed == [401, 401, 401, 429]
    assert other_client == 401


def assert_nothing_created() -> None:
    assert not Business.objects.exists()
    assert not User.objects.exists()
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("", "--username: This field cannot be blank."),
        ("   ", "--username: This field cannot be blank."),
        ("Joe Schmo", "--username: Enter a valid username."),
        ("<script>", "--username: Enter a valid username."),
        ("joe\x00", "--username: Enter a valid username."),
        ("j" * 151, "--username: Ensure this value has at most 150 characters (it has 151)."),
    ],
    ids=repr,
)
def test_create_api_token_refuses_a_username_django_would_refuse(username, message):
    with pytest.raises(CommandError) as refused:
        create_token("--business", "43111", "--username", username)

    assert str(refused.value).startswith(message)
    assert_nothing_created()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "--business-name: This field cannot be blank."),
        (" \t ", "--business-name: This field cannot be blank."),
        ("n" * 201, "--business-name: Ensure this value has at most 200 characters (it has 201)."),
        ("<script>alert(1)</script>", "--business-name: A business name cannot contain < or >."),
        ("Demo\nVenue", "--business-name: A business name cannot contain control characters."),
        ("Demo\x00Venue", "--business-name: A business name cannot contain control characters."),
    ],
    ids=repr,
)
def test_create_api_token_refuses_a_business_name_that_is_blank_too_long_or_markup(name, message):
    with pytest.raises(CommandError) as refused:
        create_token("--business", "43111", "--username", "JoeSchmo", "--business-name", name)

    assert str(refused.value) == message
    assert_nothing_created()


@pytest.mark.django_db
@pytest.mark.parametrize("business", ["0", "-1", str(2**63)])
def test_create_api_token_refuses_a_business_id_the_column_cannot_hold(business):
    with pytest.raises(CommandError, match="--business"):
        create_token("--business", business, "--username", "JoeSchmo")
    assert_nothing_created()


@pytest.mark.django_db
def test_a_business_name_keeps_its_punctuation_and_loses_surrounding_blanks():
    create_token(
        "--business",
        "43111",
        "--username",
        "joe.schmo+ops@example.com",
        "--business-name",
        "  Smith & Sons — Café 'Ölmühle'  ",
    )

    assert Business.objects.get().name == "Smith & Sons — Café 'Ölmühle'"
    assert User.objects.get().username == "joe.schmo+ops@example.com"


def test_a_refused_name_is_one_line_and_exit_code_1_with_no_traceback(tmp_path):
    from tests.test_settings import manage

    result = manage(
        *("create_api_token", "--business", "43111", "--username", "JoeSchmo"),
        *("--business-name", "n" * 300),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "CommandError: --business-name: Ensure this value has at most 200 characters (it has 300)."
    )


@pytest.mark.django_db
def test_seed_demo_prints_the_admin_url_of_the_address_served():
    out = StringIO()
    call_command("seed_demo", "--server-url", "http://0.0.0.0:8080", stdout=out)

    assert "Admin: http://0.0.0.0:8080/admin/  user demo-staff" in out.getvalue()


@pytest.mark.parametrize(
    ("arguments", "url", "served"),
    [
        ([], "http://127.0.0.1:8000", "127.0.0.1:8000"),
        (["0.0.0.0:8080"], "http://0.0.0.0:8080", "0.0.0.0:8080"),
        (["9000"], "http://127.0.0.1:9000", "9000"),
        (["[::1]:8001"], "http://[::1]:8001", "[::1]:8001"),
    ],
)
def test_dev_serve_passes_the_address_it_serves_to_seed_demo(monkeypatch, arguments, url, served):
    import dev

    commands = []
    monkeypatch.setattr(dev, "ensure_environment", lambda: None)
    monkeypatch.setattr(dev, "manage", lambda *arguments: commands.append(arguments))

    dev.serve(arguments)

    assert ("seed_demo", "--server-url", url) in commands
    assert commands[-1] == ("runserver", "--noreload", served)
