"""What the bench scripts share: a PostgreSQL of their own, manage.py in a child, Django
in this process with the WSGI app called without a socket, percentiles, the load average."""

import contextlib
import http.client
import http.server
import io
import json
import logging
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = str(ROOT / "scripts" / "postgres.sh")
# The project as served in production, on plain HTTP from 127.0.0.1.
PRODUCTION = {
    "DJANGO_PRODUCTION": "1",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "DJANGO_SECURE_SSL_REDIRECT": "0",
}


def logger(name: str):
    def log(message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[bench/{name} {stamp}] {message}", file=sys.stderr, flush=True)

    return log


def arguments(parser, quick: dict, full: dict):
    """The parsed arguments, those not given taken from `quick` under --quick, else `full`."""
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def load_average() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def in_database(url: str, name: str) -> str:
    """`url` naming the database `name` on the same server."""
    return f"{url.rsplit('/', 1)[0]}/{name}"


def commit(form: str = "%h") -> str:
    run = ["git", "log", "-1", f"--format={form}"]
    return subprocess.run(run, cwd=ROOT, capture_output=True, text=True).stdout.strip()


def manage(*args: str, env: dict | None = None, python=sys.executable, cwd: Path = ROOT) -> str:
    """The output of `manage.py args` in a child; exits with its errors if it fails."""
    run = [python, "manage.py", *args]
    done = subprocess.run(run, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def postgres(port: int, datadir: Path | None = None):
    """(DATABASE_URL, data directory) of a PostgreSQL on 127.0.0.1 (scripts/postgres.sh),
    stopped at the end; the directory is removed unless it was given."""
    given = datadir is not None
    datadir = datadir or Path(tempfile.mkdtemp(prefix="bench-pg-", dir="/var/tmp"))
    try:
        start = [POSTGRES, "start", datadir, str(port)]
        started = subprocess.run(start, capture_output=True, text=True)
        if started.returncode:
            raise SystemExit(f"PostgreSQL did not start:\n{started.stderr}")
        yield started.stdout.split()[-1], datadir
    finally:
        if "django.db" in sys.modules:  # Django's pool, before its server stops
            sys.modules["django.db"].connections.close_all()
        subprocess.run([POSTGRES, "stop", datadir], capture_output=True)
        if not given:
            shutil.rmtree(datadir, ignore_errors=True)


def api(port: int, method: str, path: str, key: str, body=None, scheme: str = "Token"):
    """(status, the JSON answer or the body's start) of one request to 127.0.0.1:port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"{scheme} {key}", "Content-Type": "application/json"}
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw[:300]


class Receiver(http.server.ThreadingHTTPServer):
    """Takes webhooks on 127.0.0.1 in threads of its own: refuses a `refuse` share at
    random (500) and notes the others: when, their webhook-id, their change's id."""

    daemon_threads, request_queue_size = True, 128

    def __init__(self, refuse: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), Hook)
        self.refuse, self.lock, self.counts = refuse, threading.Lock(), Counter()
        self.times, self.ids, self.changes = [], set(), {}
        self.url = f"http://127.0.0.1:{self.server_port}/hook"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.times.clear()
            self.changes.clear()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        now, receiver = time.time(), self.server
        refused = random.random() < receiver.refuse
        change = json.loads(body).get("data", {}).get("change") if body else None
        with receiver.lock:
            receiver.counts.update(attempts=1, refused=refused)
            if not refused:
                receiver.times.append(now)
                receiver.ids.add(self.headers["webhook-id"])
                if change:
                    receiver.changes.setdefault(change["id"], now)
        self.send_response(500 if refused else 200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet
        pass


def django_app(**env: str):
    """Django set up in this process (`env` unless the environment says otherwise), and
    the WSGI app gunicorn serves. Its request log is written, as in production, but not
    onto the terminal."""
    for name, value in env.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore", "No directory at")  # no collectstatic: the API needs none
    from config.wsgi import application

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - for the process's life
    return application


def wsgi_call(application, method: str, path: str, key: str, body: dict | None = None):
    """(status line, body) of one request handed to `application` as gunicorn hands it
    over from 127.0.0.1."""
    payload = json.dumps(body).encode() if body is not None else b""
    path, _, query = path.partition("?")
    environ = {
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
        "CONTENT_LENGTH": str(len(payload)),
        "wsgi.input": io.BytesIO(payload),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    answer = {}
    result = application(environ, lambda status, headers, exc_info=None: answer.update(s=status))
    try:
        content = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return answer["s"], content
