"""The URL rules checked again before every attempt (SPEC §8.3, §13)."""

import pytest

from webhooks.sending import post, url_refusal


@pytest.fixture(autouse=True)
def production_rules(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    settings.WEBHOOK_ALLOW_HTTP = False


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/hook", "URL scheme 'http' is not allowed"),
        ("ftp://example.com/hook", "URL scheme 'ftp' is not allowed"),
        ("https://user:pass@example.com/hook", "URL has user info"),
        ("https:///hook", "URL has no host"),
        ("https://example.com/" + "a" * 2048, "URL longer than 2048 characters"),
        ("https://127.0.0.1/hook", "host 127.0.0.1 resolves to a non-public address"),
        ("https://10.1.2.3/hook", "host 10.1.2.3 resolves to a non-public address"),
        ("https://100.64.0.1/hook", "host 100.64.0.1 resolves to a non-public address"),
        ("https://169.254.169.254/hook", "host 169.254.169.254 resolves to a non-public address"),
        (
            "https://[::ffff:127.0.0.1]/hook",
            "host ::ffff:127.0.0.1 resolves to a non-public address",
        ),
        ("https://[::1]/hook", "host ::1 resolves to a non-public address"),
        ("https://localhost/hook", "host localhost resolves to a non-public address"),
        ("https://nothing.invalid/hook", "host nothing.invalid does not resolve"),
    ],
)
def test_a_url_that_breaks_the_rules_is_refused(url, reason):
    assert url_refusal(url) == reason


def test_a_public_address_passes():
    assert url_refusal("https://93.184.215.14/hook") == ""


def test_the_development_flags_allow_http_and_private_hosts(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.WEBHOOK_ALLOW_HTTP = True
    assert url_refusal("http://127.0.0.1:8000/hook") == ""
    assert url_refusal("http://u@127.0.0.1/hook") == "URL has user info"


def test_a_refused_url_fails_the_attempt_without_a_request():
    outcome = post("https://127.0.0.1:9/hook", {}, b"{}")
    assert not outcome.succeeded
    assert outcome.response_status is None
    assert outcome.error == "host 127.0.0.1 resolves to a non-public address"
