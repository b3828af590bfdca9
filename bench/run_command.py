"""Run one management command in this process and report how long it took.

    DATABASE_URL=... python bench/run_command.py COMMAND [ARGS...]

Prints the command's output, then a last line `{"seconds": ...}`: the time
spent in call_command, without interpreter start-up, Django set-up, imports
and connecting to the database, so that it compares with the time of the SQL
statements (timed on an open connection too). bench/commands.py reads the peak
memory of this process from the outside.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command, get_commands, load_command_class  # noqa: E402
from django.db import connection  # noqa: E402

# Import the command and connect before the clock starts, as the SQL side does.
command = load_command_class(get_commands()[sys.argv[1]], sys.argv[1])
connection.ensure_connection()
started = time.perf_counter()
call_command(command, *sys.argv[2:])
print(json.dumps({"seconds": time.perf_counter() - started}))
