#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands that use the database as soon as they start: its problems are reported
# before they run (runserver's own check would fail in a thread the reloader keeps).
START_WITH_THE_DATABASE = {"migrate", "runserver"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    if len(sys.argv) > 1 and sys.argv[1] in START_WITH_THE_DATABASE:
        django.setup()
        from config.database_check import database_problem

        if problem := database_problem():
            sys.exit(problem)
    try:
        execute_from_command_line(sys.argv)
    except OperationalError:
        # Any other command that found the database unusable: say why, if that is why.
        from config.database_check import database_problem

        if problem := database_problem():
            sys.exit(problem)
        raise


if __name__ == "__main__":
    main()
