"""`Idempotency-Key` for POST endpoints: a retried request is answered, not redone."""

import functools
import hashlib
import json
import re

from django.db import IntegrityError, transaction
from rest_framework.response import Response

from core.errors import InvalidValue
from core.models import IdempotencyKey

HEADER = "Idempotency-Key"
HEADER_META_KEY = "HTTP_IDEMPOTENCY_KEY"  # read from META: request.headers parses them all
KEY_FORMAT = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


class IdempotencyKeyReused(InvalidValue):
    """The key was used before for a different request."""

    status_code = 422


def request_fingerprint(request) -> str:
    canonical = json.dumps(
        [request.method, request.path.rstrip("/"), request.data],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def idempotent(handler):
    """Wrap a DRF view method. Without the header it runs as usual. With it, the first
    request's successful response is stored in the same transaction as its writes;
    a retry with the same key and body gets that response again (header
    `Idempotent-Replayed: true`) and writes nothing; the same key with another body
    is refused with 422. Concurrent duplicates wait on the key's unique index, so
    exactly one of them writes. Failed requests store nothing and may be retried."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.META.get(HEADER_META_KEY)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not KEY_FORMAT.match(key):
            raise InvalidValue("Must be 1 to 255 printable ASCII characters.", field=HEADER)
        fingerprint = request_fingerprint(request)
        business_id = request.user.business_id
        with transaction.atomic():
            claim = claim_key(business_id, key, fingerprint)
            if claim.response_status is not None:
                return Response(
                    claim.response_body,
                    status=claim.response_status,
                    headers={"Idempotent-Replayed": "true"},
                )
            response = handler(view, request, *args, **kwargs)
            if response.status_code < 400:
                claim.response_status = response.status_code
                claim.response_body = response.data
                claim.save(update_fields=["response_status", "response_body"])
            else:
                claim.delete()
            return response

    return wrapper


def claim_key(business_id: int, key: str, fingerprint: str) -> IdempotencyKey:
    """Insert the key, or return the stored one when it exists (and matches)."""
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                business_id=business_id, key=key, request_fingerprint=fingerprint
            )
    except IntegrityError:
        # Another request holds (or held) this key; its transaction has finished by now,
        # since the insert waited on the unique index until it did.
        pass
    stored = IdempotencyKey.objects.select_for_update().get(business_id=business_id, key=key)
    if stored.is_expired:
        stored.delete()
        return IdempotencyKey.objects.create(
            business_id=business_id, key=key, request_fingerprint=fingerprint
        )
    if stored.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This key was already used with a different request; use a new key.", field=HEADER
        )
    return stored
