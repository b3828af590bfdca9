"""The API's single exception handler: domain errors and database outages to HTTP.

A domain error says its own answer (core/errors.py: status code, body, headers); this
module only renders it."""

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from core.errors import DomainError

logger = logging.getLogger(__name__)


def api_exception_handler(exc, context):
    response = answer_for(exc, context)
    if response is not None:
        # As DRF's own handler does: a refused request writes nothing, even where the
        # view did not wrap its writes in a transaction of its own (ATOMIC_REQUESTS).
        set_rollback()
    return response


def answer_for(exc, context) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code, headers=exc.headers())
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is unreachable or went away: fail fast with a retryable
        # answer instead of a traceback; the pool reconnects on its own.
        logger.warning("database unavailable: %s", exc)
        return Response(
            {"detail": "The database is unavailable; retry shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
    if isinstance(exc, Http404):
        # DRF would pass Django's message on ("No WebhookEndpoint matches the given
        # query."), naming a model class: every 404 says the same thing.
        exc = exceptions.NotFound()
    return exception_handler(exc, context)
