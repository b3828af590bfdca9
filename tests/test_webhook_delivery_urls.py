"""The URL rules (webhooks/urls_policy.py, tested in full in
test_webhook_endpoints_urls.py) are checked again before every attempt (SPEC §8.3,
§13): a URL that stopped passing fails the attempt without a request."""

import pytest

from webhooks.sending import post


@pytest.fixture(autouse=True)
def production_rules(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    settings.WEBHOOK_ALLOW_HTTP = False


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://user:pass@example.com/hook",
        "https://127.0.0.1:9/hook",
        "https://[::ffff:127.0.0.1]:9/hook",
        "https://[2002:7f00:1::]:9/hook",  # 6to4 of 127.0.0.1
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]:9/hook",  # Teredo of 127.0.0.1
        "https://100.64.0.1/hook",
        "https://nothing.invalid/hook",
    ],
)
def test_a_refused_url_fails_the_attempt_without_a_request(url):
    outcome = post(url, {}, b"{}")

    assert not outcome.succeeded
    assert outcome.response_status is None
    assert outcome.error.startswith("URL refused: ")
