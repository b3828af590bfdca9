from django.core.management.commands import migrate
from django.db import connections

from core.direct_connection import connected_directly


class Command(migrate.Command):
    """Django's migrate, on the direct connection when DATABASE_DIRECT_URL is set: a
    migration needs its session throughout, which PgBouncer's transaction mode does not
    give."""

    def handle(self, *args, **options):
        with connected_directly(connections[options["database"]]):
            return super().handle(*args, **options)
