"""The Standard Webhooks signature of an attempt (SPEC §8.4), checked by the
`standardwebhooks` library."""

import datetime as dt

import pytest
import standardwebhooks

from webhooks.models import new_secret
from webhooks.signing import signature, signed_headers

BODY = b'{"id":"evt_1","type":"booking.created","data":{"note":"caf\xc3\xa9"}}'


def test_the_signature_is_the_libraries_over_id_timestamp_and_body():
    secret = new_secret()
    timestamp = 1_736_951_400
    expected = standardwebhooks.Webhook(secret).sign(
        "evt_1", dt.datetime.fromtimestamp(timestamp, tz=dt.UTC), BODY.decode()
    )
    assert signature(secret, "evt_1", timestamp, BODY) == expected


def test_headers_carry_one_signature_per_secret_newest_first_and_verify():
    newest, older = new_secret(), new_secret()
    timestamp = int(dt.datetime.now(dt.UTC).timestamp())

    headers = signed_headers([newest, older], "evt_9", timestamp, BODY)

    assert headers["webhook-id"] == "evt_9"
    assert headers["webhook-timestamp"] == str(timestamp)
    assert headers["content-type"] == "application/json"
    first, second = headers["webhook-signature"].split(" ")
    assert first == signature(newest, "evt_9", timestamp, BODY)
    assert second == signature(older, "evt_9", timestamp, BODY)
    for secret in (newest, older):
        assert standardwebhooks.Webhook(secret).verify(BODY, headers)["id"] == "evt_1"


def test_a_changed_body_or_timestamp_does_not_verify():
    secret = new_secret()
    timestamp = int(dt.datetime.now(dt.UTC).timestamp())
    headers = signed_headers([secret], "evt_9", timestamp, BODY)
    webhook = standardwebhooks.Webhook(secret)

    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        webhook.verify(BODY.replace(b"evt_1", b"evt_2"), headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        webhook.verify(BODY, {**headers, "webhook-timestamp": str(timestamp - 1)})
