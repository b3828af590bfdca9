"""The domain's error hierarchy.

Model methods and services raise these; they know nothing of HTTP. The API's
one exception handler (core.exception_handler) maps each kind to a status
code, and the admin and management commands show the message as it is.
"""


class DomainError(Exception):
    """A rule of the domain refused an operation. `field` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        if self.field:
            return {self.field: [self.message]}
        return {"detail": self.message}


class InvalidValue(DomainError):
    """The input is well-formed but breaks a rule (an unknown status, a future moment)."""


class NotAllowed(DomainError):
    """The caller may not do this to this object (a shared status, another business)."""


class NotFound(DomainError):
    """The object is not there for this caller: unknown, another business's, or deleted
    while the operation waited for it."""


class AlreadyExists(DomainError):
    """The object the caller asked to create is there already."""


class Conflict(DomainError):
    """The object's current state refuses this for now (a limit reached, an inactive
    endpoint); the same request may succeed once that state changes."""
