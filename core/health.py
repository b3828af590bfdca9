"""Health checks for load balancers and orchestrators (SPEC §12): no token, no throttle.

`/healthz` says the process serves requests and touches nothing else, so a database
outage does not get every app server restarted. `/readyz` says this app server can do
its work: the database answers and its schema is the one the code expects.
"""

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

OK = {"status": "ok"}


def unavailable(reason: str) -> Response:
    return Response(
        {"status": "unavailable", "reason": reason},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )


class HealthCheckView(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []


@extend_schema(exclude=True)
class LivenessView(HealthCheckView):
    def get(self, request: Request) -> Response:
        return Response(OK)


class Migrations:
    """Whether the database has every migration the code has. Building the migration
    plan reads every migration file and the recorder's table: done until it first holds,
    then remembered, since only new code (a restart) can add a migration."""

    all_applied = False

    @classmethod
    def pending(cls) -> list[str]:
        if cls.all_applied:
            return []
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        pending = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
        cls.all_applied = not pending
        return pending


@extend_schema(exclude=True)
class ReadinessView(HealthCheckView):
    def get(self, request: Request) -> Response:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            pending = Migrations.pending()
        except DatabaseError as error:
            return unavailable(f"the database does not answer: {error}".strip())
        if pending:
            return unavailable(f"migrations not applied: {', '.join(pending)}")
        return Response(OK)
