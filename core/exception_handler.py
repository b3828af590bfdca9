"""The API's single exception handler: domain errors and database outages to HTTP."""

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from core.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    InvalidValue,
    NotAllowed,
    NotFound,
)
from core.idempotency import IdempotencyKeyReused

logger = logging.getLogger(__name__)

DOMAIN_ERROR_STATUS = {
    IdempotencyKeyReused: status.HTTP_422_UNPROCESSABLE_ENTITY,
    InvalidValue: status.HTTP_400_BAD_REQUEST,
    NotAllowed: status.HTTP_403_FORBIDDEN,
    NotFound: status.HTTP_404_NOT_FOUND,
    AlreadyExists: status.HTTP_409_CONFLICT,
    Conflict: status.HTTP_409_CONFLICT,
}


def api_exception_handler(exc, context):
    response = answer_for(exc, context)
    if response is not None:
        # As DRF's own handler does: a refused request writes nothing, even where the
        # view did not wrap its writes in a transaction of its own (ATOMIC_REQUESTS).
        set_rollback()
    return response


def answer_for(exc, context) -> Response | None:
    if isinstance(exc, DomainError):
        code = next(
            (code for kind, code in DOMAIN_ERROR_STATUS.items() if isinstance(exc, kind)),
            status.HTTP_400_BAD_REQUEST,
        )
        return Response(exc.as_dict(), status=code)
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
