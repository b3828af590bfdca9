"""Calling the WSGI app gunicorn serves in this process, without HTTP, for the
benchmarks that measure Django's own cost per request (bench/bulk.py, bench/reports.py,
bench/http/django_helper.py)."""

import io
import sys


def wsgi_environ(
    method: str, path: str, *, body: bytes = b"", key: str, headers: dict | None = None
) -> dict:
    """A request as gunicorn would hand it over from 127.0.0.1, with the API token
    `key`; `path` may carry a query string."""
    path, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Token {key}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **(headers or {}),
    }


def call(application, environ: dict) -> tuple[str, list, bytes]:
    """The app's answer to `environ`: status line, headers and the whole body."""
    answer = {}

    def start_response(status: str, headers: list, exc_info=None) -> None:
        answer.update(status=status, headers=headers)

    result = application(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return answer["status"], answer["headers"], body
