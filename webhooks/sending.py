"""One HTTP attempt of a webhook (SPEC §8.3 URL rules, §8.4, §13).

`requests` with `requests-hardened`: the host is resolved once, the address is checked
and connected to while the Host header and TLS SNI keep the name (the certificate is
verified against it), and redirects are never followed. Connect and read timeouts bound
each socket operation; a watchdog bounds the whole attempt, so a receiver that drips a
byte a second cannot hold a worker past `WEBHOOK_TIMEOUT`.
"""

import contextlib
import dataclasses
import socket
import threading
import time

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from webhooks.signing import USER_AGENT
from webhooks.urls_policy import UrlRefused, check_url

MAX_RESPONSE_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Outcome:
    response_status: int | None = None
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300

    @property
    def gone(self) -> bool:
        """410: the receiver asks us to stop (the endpoint is disabled)."""
        return self.response_status == 410


class _Deadline:
    """Shuts the attempt's sockets down when the attempt runs out of time."""

    current = threading.local()

    def __init__(self, seconds: float):
        self.sockets: list[socket.socket] = []
        self.expired = False
        self.lock = threading.Lock()
        self.at = time.monotonic() + seconds

    def watch(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.append(sock)
            if self.expired:
                sock.shutdown(socket.SHUT_RDWR)

    def expire(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> "_Deadline":
        _Deadline.current.deadline = self
        _watchdog.add(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _watchdog.discard(self)
        _Deadline.current.deadline = None


class _Watchdog:
    """One thread expires every attempt's deadline: a timer thread per attempt cost
    more CPU than the rest of the attempt's bookkeeping."""

    def __init__(self):
        self.deadlines: set[_Deadline] = set()
        self.changed = threading.Condition()
        self.thread: threading.Thread | None = None

    def add(self, deadline: _Deadline) -> None:
        with self.changed:
            self.deadlines.add(deadline)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="webhook-deadlines", daemon=True
                )
                self.thread.start()
            self.changed.notify()

    def discard(self, deadline: _Deadline) -> None:
        with self.changed:
            self.deadlines.discard(deadline)

    def _run(self) -> None:
        with self.changed:
            while True:
                now = time.monotonic()
                for deadline in [d for d in self.deadlines if d.at <= now]:
                    self.deadlines.discard(deadline)
                    deadline.expire()
                nearest = min((d.at for d in self.deadlines), default=None)
                self.changed.wait(None if nearest is None else nearest - now)


_watchdog = _Watchdog()


class _WatchedSocket:
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        deadline = getattr(_Deadline.current, "deadline", None)
        if deadline is not None:
            deadline.watch(sock)
        return sock


class _WatchedHTTPConnection(_WatchedSocket, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedSocket, HTTPSConnection):
    pass


class _WatchedPool:
    def _get_conn(self, timeout=None):
        """A pooled connection's socket is the current attempt's to watch, too."""
        conn = super()._get_conn(timeout)
        deadline = getattr(_Deadline.current, "deadline", None)
        if deadline is not None and conn.sock is not None:
            deadline.watch(conn.sock)
        return conn


class _WatchedHTTPPool(_WatchedPool, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_WatchedPool, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedPools:
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


class _WatchedAdapter(_WatchedPools, HTTPAdapter):
    pass


class _WatchedIPFilterAdapter(_WatchedPools, IPFilterAdapter):
    pass


def _session(timeout: float) -> requests.Session:
    filter_addresses = not settings.WEBHOOK_ALLOW_PRIVATE_HOSTS
    session = HTTPSession(
        Config(
            ip_filter_enable=filter_addresses,
            ip_filter_allow_loopback_ips=False,
            never_redirect=True,
            default_timeout=(timeout, timeout),
            user_agent_override=USER_AGENT,
        )
    )
    session.trust_env = False  # no proxy from the environment: we connect ourselves
    for scheme, is_https in (("http://", False), ("https://", True)):
        session.mount(
            scheme,
            _WatchedIPFilterAdapter(is_https_proto=is_https)
            if filter_addresses
            else _WatchedAdapter(),
        )
    return session


_sessions = threading.local()


def _thread_session(timeout: float) -> requests.Session:
    """This thread's session, kept while the settings it was made with hold, so that
    attempts to the same receiver reuse their connection (the URL is still checked
    before every attempt, and a new connection's address is checked as it opens)."""
    key = (timeout, settings.WEBHOOK_ALLOW_PRIVATE_HOSTS)
    if getattr(_sessions, "key", None) != key:
        if getattr(_sessions, "session", None) is not None:
            _sessions.session.close()
        _sessions.session, _sessions.key = _session(timeout), key
    return _sessions.session


def post(url: str, headers: dict, body: bytes) -> Outcome:
    """POST the body, reading at most 64 KiB of the answer, within WEBHOOK_TIMEOUT."""
    try:
        check_url(url)  # the endpoint's URL may have stopped passing since it was saved
    except UrlRefused as refusal:
        return Outcome(error=f"URL refused: {refusal.message}")
    timeout = settings.WEBHOOK_TIMEOUT
    try:
        session = _thread_session(timeout)
        with _Deadline(timeout) as deadline:
            try:
                response = session.post(url, data=body, headers=headers, stream=True)
                with response:
                    response.raw.read(MAX_RESPONSE_BYTES, decode_content=False)
            except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
                if deadline.expired or isinstance(error, requests.Timeout):
                    return Outcome(error=f"timed out after {timeout:g} s")
                return Outcome(error=_describe(error))
    except OSError as error:
        return Outcome(error=_describe(error))
    if 300 <= response.status_code < 400:
        return Outcome(response.status_code, "redirect not followed")
    if deadline.expired:
        return Outcome(error=f"timed out after {timeout:g} s")
    error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Outcome(response.status_code, error)


def _describe(error: Exception) -> str:
    if isinstance(error, requests.ConnectionError):
        return f"connection failed: {error}"[:500]
    return f"{type(error).__name__}: {error}"[:500]
