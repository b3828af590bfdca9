"""The Standard Webhooks 1.0 signature of an attempt (SPEC §8.4)."""

import base64
import hashlib
import hmac

from webhooks.models import SECRET_PREFIX

USER_AGENT = "booking-status-webhooks/1.0"


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,` + base64 HMAC-SHA256 over "{id}.{timestamp}.{body}", keyed with the bytes
    the `whsec_…` secret encodes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(secrets: list[str], message_id: str, timestamp: int, body: bytes) -> dict:
    """The headers of one attempt: one signature per secret still signing, in the order
    given (newest first), space-separated."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message_id, timestamp, body) for secret in secrets
        ),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
