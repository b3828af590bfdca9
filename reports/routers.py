"""The database router that sends the reports' reads to the replica (SPEC §12)."""

from django.conf import settings

REPLICA = "replica"


class ReportsReplicaRouter:
    """Reads made with the hint `report=True` go to the `replica` alias when one is
    configured (DATABASE_REPLICA_URL): the reports tolerate replication lag and their
    scans stay off the primary. Every other read, and every write, is left to the
    default: this router answers nothing for them."""

    def db_for_read(self, model, **hints) -> str | None:
        if hints.get("report") and REPLICA in settings.DATABASES:
            return REPLICA
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        # A standby replays the primary's schema; migrating it would fail.
        return False if db == REPLICA else None
