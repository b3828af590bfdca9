"""The rules a webhook URL must pass (SPEC §8.3, §13): on create and PATCH, and again
by the worker before every attempt, since a name may resolve elsewhere by then.

A receiver is an address on the public internet: a URL that would have the service
post into its own network (loopback, private ranges, the cloud metadata address,
carrier-grade NAT) is refused unless `WEBHOOK_ALLOW_PRIVATE_HOSTS` is on, which
tests and the local demo set and production never does.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import InvalidValue

MAX_URL_LENGTH = 2048
# Shared address space (RFC 6598): not private, yet not reachable from the internet.
CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
DEFAULT_PORTS = {"https": 443, "http": 80}


class UrlRefused(InvalidValue):
    """The URL breaks one of the rules; the message says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="url")


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed, with the addresses its host resolved to when checked (the
    ones to connect to, so that no second lookup can answer differently)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the one DNS lookup; tests replace it)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in found]


def carried_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """The IPv4 address an IPv6 address carries, where the packets end up going: an
    IPv4-mapped one's (::ffff:a.b.c.d), a 6to4 one's (2002:AABB:CCDD::/48) or a Teredo
    one's client (2001:0::/32, its last 32 bits inverted); else the address itself."""
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            _server, client = ip.teredo
            return client
    return ip


def is_public_address(address: str) -> bool:
    """True for a global unicast address; an IPv6 address that carries an IPv4 one
    (mapped, 6to4, Teredo) is judged as the IPv4 address it carries."""
    ip = carried_address(ipaddress.ip_address(address.split("%", 1)[0]))  # no zone index
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or ip in CARRIER_GRADE_NAT
    )


def check_url(url: str) -> CheckedUrl:
    """The URL and the addresses to connect to, or UrlRefused naming the rule broken."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"Must be at most {MAX_URL_LENGTH} characters.")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise UrlRefused("Must be a URL of printable ASCII characters without spaces.")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        raise UrlRefused("Must be a valid URL with a port from 1 to 65535, if any.") from None
    scheme = parts.scheme.lower()
    allowed_schemes = {"https", "http"} if settings.WEBHOOK_ALLOW_HTTP else {"https"}
    if scheme not in allowed_schemes:
        raise UrlRefused(
            "Must be an absolute https:// URL."
            if scheme != "http"
            else "Must be https:// (plain http:// is not allowed here)."
        )
    if "@" in parts.netloc:
        raise UrlRefused("Must not contain a user name or password.")
    if not host:
        raise UrlRefused("Must name a host.")
    if port == 0:
        raise UrlRefused("The port must be a number from 1 to 65535.")
    if port is None:
        port = DEFAULT_PORTS[scheme]
    try:
        addresses = tuple(dict.fromkeys(resolve(host, port)))
    except (OSError, UnicodeError, ValueError):
        raise UrlRefused(f"The host {host!r} does not resolve.") from None
    if not addresses:
        raise UrlRefused(f"The host {host!r} does not resolve.")
    if not settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        refused = [address for address in addresses if not is_public_address(address)]
        if refused:
            raise UrlRefused(
                f"The host {host!r} resolves to {refused[0]}, which is not a public "
                "internet address."
            )
    return CheckedUrl(url=url, scheme=scheme, host=host, port=port, addresses=addresses)
