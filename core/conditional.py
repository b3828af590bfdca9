"""Conditional requests (RFC 9110 §13.1) on a record with a `version`: its entity tag
is the version, quoted. `If-Match` on writes (strong comparison), `If-None-Match` on
reads (weak comparison). Bookings and appointments share these."""

import re
from collections.abc import Callable, Collection

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.response import Response

from core.errors import DomainError, InvalidValue
from core.schema import error

ENTITY_TAG = r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"'
ENTITY_TAG_LIST = re.compile(rf"^[\s,]*{ENTITY_TAG}(?:\s*,[\s,]*{ENTITY_TAG})*[\s,]*$")
VERSION_TAG = re.compile(r"[1-9][0-9]{0,18}")


class StaleVersion(DomainError):
    """The caller's copy is older than the stored one (an `If-Match` naming another
    version, or an admin form opened before someone else's save). Answered 412 with the
    current version as the ETag. `current_version` is the version stored."""

    status_code = 412

    def __init__(self, current_version: int) -> None:
        super().__init__("The record was changed by someone else since you read it.")
        self.current_version = current_version

    def headers(self) -> dict[str, str]:
        return {"ETag": entity_tag(self.current_version)}


def entity_tag(version: int) -> str:
    return f'"{version}"'


def entity_tags(header: str) -> list[tuple[bool, str]] | None:
    """The (weak, opaque tag) pairs of an If-Match or If-None-Match list; None when the
    header is not such a list."""
    if not ENTITY_TAG_LIST.match(header):
        return None
    return [(bool(weak), tag) for weak, tag in re.findall(ENTITY_TAG, header)]


def if_match_versions(request) -> Collection[int] | None:
    """The versions `If-Match` accepts, for the actions' `expected_versions`: None
    without the header or with `*` (any existing record: the lock finds it or the
    request is a 404). Strong comparison: a weak tag matches nothing, and a tag matches
    only as written ("01" is not version 1's tag)."""
    header = request.META.get("HTTP_IF_MATCH")
    if header is None or header.strip() == "*":
        return None
    tags = entity_tags(header)
    if tags is None:
        raise InvalidValue('Must be * or a list of entity tags, e.g. "3".', field="If-Match")
    return {int(tag) for weak, tag in tags if not weak and VERSION_TAG.fullmatch(tag)}


def ensure_version(version: int, expected_versions: Collection[int] | None) -> None:
    """StaleVersion unless the locked record's `version` is one of `expected_versions`;
    None expects nothing (no `If-Match`, or `*`)."""
    if expected_versions is not None and version not in expected_versions:
        raise StaleVersion(version)


def none_match(request, version: int) -> bool:
    """`If-None-Match` names this version (weak comparison) or is `*`. A malformed
    header is ignored, as a cache may."""
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(tag == str(version) for _weak, tag in entity_tags(header) or ())


def conditional_read(request, version: int, render: Callable[[], dict]) -> Response:
    """A read of one record: 304 with its ETag when `If-None-Match` names its version,
    else its body, `render()`."""
    if none_match(request, version):
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": entity_tag(version)})
    return Response(render())


class VersionTagMixin:
    """For a DRF view of versioned records: every successful answer whose body is one
    record (an `Idempotency-Key` replay included: the stored body has its version)
    carries that version as `ETag`."""

    def finalize_response(self, request, response, *args, **kwargs):
        body = getattr(response, "data", None)
        if response.status_code < 300 and isinstance(body, dict) and "version" in body:
            response["ETag"] = entity_tag(body["version"])
        return super().finalize_response(request, response, *args, **kwargs)


IF_MATCH = OpenApiParameter(
    "If-Match",
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description=(
        "Write only if the record's current ETag is one of these (strong comparison: "
        'weak tags never match), e.g. `"3"`, or `*` for any existing record. Checked '
        "under the record's lock; otherwise 412 with the current ETag, nothing written."
    ),
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description=(
        "304 with no body when the record's ETag is one of these (weak comparison), or `*`."
    ),
)


NOT_MODIFIED = OpenApiResponse(description="If-None-Match names the current version.")
PRECONDITION_FAILED = error(
    "If-Match names none of the record's current version; the header ETag is the current one."
)


def etag_header(*codes: int) -> OpenApiParameter:
    """The ETag these responses carry: the record's version as a strong tag."""
    return OpenApiParameter(
        "ETag",
        location=OpenApiParameter.HEADER,
        type=str,
        response=list(codes),
        description='The record\'s version as a strong entity tag, e.g. `"3"`.',
    )
