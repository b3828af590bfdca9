#!/usr/bin/env python3
"""One entry point for a fresh machine that has only python3.

    python3 dev.py serve [ADDRESS]  # install, migrate, load demo data, print a token, and
                                    # serve on ADDRESS (default 127.0.0.1:8000)
    python3 dev.py test             # install and run the whole test suite (pytest arguments
                                    # pass through)
    python3 dev.py lint             # install and run ruff: lint, then the format check

ADDRESS is what runserver takes: a port (8080), or an address and port (0.0.0.0:8080,
[::1]:8080).

Both create ./.venv on first use and install the pinned dependencies from
requirements.lock into it; later runs reuse it (reinstalling when the lock changes).
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("VENV_DIR", ROOT / ".venv"))
LOCK = ROOT / "requirements.lock"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
DEMO_BUSINESS_ID = "43111"  # seed_demo's


def run(*command: str | Path, **kwargs) -> None:
    subprocess.run([str(part) for part in command], check=True, cwd=ROOT, **kwargs)


def ensure_environment() -> None:
    """Create the virtualenv and install the lock file, unless it is already installed."""
    stamp = VENV / ".lock-sha256"
    wanted = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"Creating virtualenv in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing dependencies from requirements.lock ...", flush=True)
    run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", LOCK)
    stamp.write_text(wanted)


def manage(*arguments: str) -> None:
    run(PYTHON, "manage.py", *arguments)


def server_url(address: str) -> str:
    """The URL runserver answers on for ADDRESS in any form it takes: `8080`,
    `0.0.0.0:8080`, `[::1]:8080`."""
    return f"http://{address if ':' in address else f'127.0.0.1:{address}'}"


def serve(arguments: list[str]) -> None:
    address = arguments[0] if arguments else "127.0.0.1:8000"
    ensure_environment()
    manage("migrate", "--no-input")
    manage("collectstatic", "--no-input", "--verbosity", "0")
    # The appointments quietly, so that the token seed_demo prints stays in view.
    manage("seed_demo", "--server-url", server_url(address))
    manage("seed_demo_appointments", "--business", DEMO_BUSINESS_ID, "--verbosity", "0")
    print(
        f"Serving on {server_url(address)}/ (admin at /admin/, API at /v2/bookings, "
        "/v2/appointments and /status)"
    )
    # The demo's webhooks may go to receivers on this machine.
    os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_HOSTS", "1")
    os.environ.setdefault("WEBHOOK_ALLOW_HTTP", "1")
    # Beside the server: the webhook worker, and the scheduler that expires holds.
    workers = [
        subprocess.Popen([str(PYTHON), "manage.py", command], cwd=ROOT)
        for command in ("deliver_webhooks", "run_schedules")
    ]
    try:
        manage("runserver", "--noreload", address)
    finally:
        for worker in workers:
            worker.terminate()  # SIGTERM: each finishes what it has in hand
        for worker in workers:
            worker.wait()


def test(arguments: list[str]) -> None:
    ensure_environment()
    result = subprocess.run([str(PYTHON), "-m", "pytest", *arguments], cwd=ROOT)
    sys.exit(result.returncode)


def lint(arguments: list[str]) -> None:
    ensure_environment()
    ruff = BIN / "ruff"
    run(ruff, "check", ".", *arguments)
    run(ruff, "format", "--check", ".")


COMMANDS = {"serve": serve, "test": test, "lint": lint}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
    except KeyboardInterrupt:
        sys.exit(130)
