"""gunicorn's settings for the app servers: `gunicorn -c config/gunicorn.py config.wsgi`
(with --bind, --workers as the deploy needs).

With PROMETHEUS_MULTIPROC_DIR set, each worker keeps its metrics in files there and
GET /metrics sums them (core/metrics.py). The directory belongs to this one gunicorn:
it is emptied when gunicorn starts, as prometheus-client requires, and a worker that
exits is marked dead (prometheus-client's `mark_process_dead`).
"""

import os
from pathlib import Path

from prometheus_client import multiprocess


def on_starting(server) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
