"""Request ids and the log formats: one JSON object a line (LOG_FORMAT=json, the
production default) or plain text (development). Wired by settings.LOGGING."""

import contextvars
import datetime as dt
import logging

import orjson

# The id of the request being served (core.middleware.RequestIdMiddleware sets it), so
# that every line logged while serving it names it.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_request_id", default=None
)

# What every LogRecord has; anything else on a record came from `extra=` and is a field,
# except the HttpRequest Django's own lines carry (its path is in their message).
_NOT_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "request",
}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record: the request being served, or None. Django
    logs a 4xx answer ("Not Found: ...") after the middleware returned, with the
    request in `extra`: its id is read from there."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: timestamp (UTC), level, logger, message, then every field
    the record carries (`request_id`, and what the call passed as `extra=`)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields.update(
            (name, value) for name, value in vars(record).items() if name not in _NOT_FIELDS
        )
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(fields, default=str, option=orjson.OPT_UTC_Z).decode()
