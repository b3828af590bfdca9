"""The domain's error hierarchy, each kind knowing its HTTP answer.

Actions, model methods and services raise these; they know nothing of DRF. The API's
one exception handler (core.exception_handler) renders any of them from what the
error itself says: `status_code`, `as_dict()` (the body) and `headers()`. The admin and
the management commands show `message` as it is.
"""


class DomainError(Exception):
    """A rule of the domain refused an operation. `field` names the input at fault."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        if self.field:
            return {self.field: [self.message]}
        return {"detail": self.message}

    def headers(self) -> dict[str, str]:
        return {}


class InvalidValue(DomainError):
    """The input is well-formed but breaks a rule (an unknown status, a future moment)."""


class NotAllowed(DomainError):
    """The caller may not do this to this object (a shared status, another business)."""

    status_code = 403


class NotFound(DomainError):
    """The object is not there for this caller: unknown, another business's, or deleted
    while the operation waited for it. Every such answer says only "Not found." (SPEC
    §17): the message is for logs, the admin and commands."""

    status_code = 404

    def __init__(self, message: str = "Not found.", *, field: str | None = None) -> None:
        super().__init__(message, field=field)

    def as_dict(self) -> dict:
        return {"detail": "Not found."}


class Conflict(DomainError):
    """The object's current state refuses this for now (a limit reached, an inactive
    endpoint, a move the status list does not allow); the same request may succeed once
    that state changes. `extra` adds keys to the body (e.g. the conflicting ids)."""

    status_code = 409

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.extra = extra or {}

    def as_dict(self) -> dict:
        return {**super().as_dict(), **self.extra}


class AlreadyExists(Conflict):
    """The object the caller asked to create is there already."""
