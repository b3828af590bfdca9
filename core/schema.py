"""OpenAPI pieces shared by every endpoint: the error shapes and the routing rules."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

ERROR_BODY = {
    "type": "object",
    "description": (
        "`{field: [messages]}` naming each input at fault, or `{detail: message}` "
        "when no single field is."
    ),
    "additionalProperties": {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
    },
}


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ERROR_BODY, description=description)


BAD_REQUEST = error("Invalid input; the body names each field at fault.")
UNAUTHENTICATED = error("No token, or an invalid one.")
FORBIDDEN = error("The caller may not do this.")
NOT_FOUND = error("No such object in the caller's business.")
CONFLICT = error("The object exists already.")
TOO_LARGE = error("The body is over 1 MiB.")
UNSUPPORTED_MEDIA = error("The body is not application/json.")
THROTTLED = error("Too many failed authentication attempts.")
UNAVAILABLE = error("The database is unavailable; retry shortly.")

KEY_REUSED = error("The Idempotency-Key was already used with a different request.")

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    type={"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    description=(
        "Up to 255 printable ASCII characters. A retry with the same key and body within "
        "24 hours replays the first successful response (header `Idempotent-Replayed: true`) "
        "and writes nothing; the same key with another body is a 422."
    ),
)

COMMON_ERRORS = {
    400: error("Invalid input, or a query parameter the endpoint does not know."),
    401: UNAUTHENTICATED,
    403: FORBIDDEN,
    429: THROTTLED,
    503: UNAVAILABLE,
}
WRITE_ERRORS = {**COMMON_ERRORS, 400: BAD_REQUEST, 413: TOO_LARGE, 415: UNSUPPORTED_MEDIA}
IDEMPOTENT_WRITE_ERRORS = {**WRITE_ERRORS, 422: KEY_REUSED}


def describe_routing_and_query_rules(result, generator, request, public):
    """Routes accept an optional trailing slash: document the canonical form without.
    A query parameter given empty (`?interval=`) is a 400 naming it (core.views), so
    every string parameter is at least one character long; `style: form` with
    `explode: true` (OpenAPI's default) already says that only array parameters repeat."""
    result["paths"] = {
        (path.rstrip("/") or "/"): operations for path, operations in result["paths"].items()
    }
    for operations in result["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter["in"] == "query" and schema.get("type") == "string":
                    schema.setdefault("minLength", 1)
    return result
