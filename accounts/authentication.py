"""`Authorization: Token <key>` (or `Bearer <key>`, what generated OpenAPI clients send)
against SHA-256 digests of the keys."""

from rest_framework import HTTP_HEADER_ENCODING, authentication, exceptions
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import User, digest_token_key


class FailedAuthenticationThrottle(SimpleRateThrottle):
    """Counts failed token attempts per client address (in the shared cache, so every
    app server sees the same count); past the rate, failures answer 429. A valid
    token is never throttled and costs no extra query. The client address is DRF's
    get_ident under NUM_PROXIES (settings: 0 unless API_NUM_PROXIES says otherwise), so
    a client cannot pick its own by writing X-Forwarded-For."""

    scope = "failed_authentication"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def authorization_header(request) -> bytes:
    """What DRF's get_authorization_header returns, read from META: DRF goes through
    `request.headers`, which first builds a dict of every header of the request."""
    header = request.META.get("HTTP_AUTHORIZATION", b"")
    if isinstance(header, str):
        header = header.encode(HTTP_HEADER_ENCODING)
    return header


class HashedTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"
    # Both say the same: the key follows. Compared case-insensitively, as HTTP's schemes are.
    keywords = (b"token", b"bearer")

    def authenticate(self, request):
        header = authorization_header(request).split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            keyword = header[0].decode("ascii").capitalize()
            self.fail(request, f"Invalid token header: expected '{keyword} <key>'.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            self.fail(request, "Invalid token.")
        user = User.objects.holding_token(digest_token_key(key))
        if user is None or not user.is_active:
            self.fail(request, "Invalid token.")
        return user, None

    def fail(self, request, message: str):
        throttle = FailedAuthenticationThrottle()
        if not throttle.allow_request(request, None):
            raise exceptions.Throttled(
                wait=throttle.wait(), detail="Too many failed authentication attempts."
            )
        raise exceptions.AuthenticationFailed(message)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403.
        return self.keyword
