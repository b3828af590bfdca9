"""The API's JSON: one writer for response bodies, stored payloads and webhook bodies."""

import datetime as dt
import json

import orjson
from rest_framework import renderers
from rest_framework.utils import encoders

_fallback_default = encoders.JSONEncoder().default


def dumps(data) -> bytes:
    """`data` as the API writes JSON: keys in their order, dates as YYYY-MM-DD,
    datetimes (in UTC) as ISO 8601 with a `Z`, fractional seconds only when not zero,
    exactly as DRF's encoder does (REST_FRAMEWORK's DATE_FORMAT and DATETIME_FORMAT are
    None: fields hand dates over, and orjson writes them in C).

    Text that is not valid Unicode, such as a lone surrogate a client sent and an error
    message names, cannot be UTF-8 encoded: such a body is written with \\u escapes
    instead, so it is still valid JSON and never a 500."""
    try:
        return orjson.dumps(data, default=_fallback_default, option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:
        return json.dumps(
            data,
            cls=encoders.JSONEncoder,
            ensure_ascii=True,
            allow_nan=False,
            separators=(",", ":"),
        ).encode("ascii")


def in_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """The moment in UTC, for a response: `dumps` writes it as ISO 8601 with a `Z`
    (fractional seconds only when not zero). Formatting is left to orjson's C code."""
    if moment is None or moment.tzinfo is dt.UTC:
        return moment
    return moment.astimezone(dt.UTC)


class JSONRenderer(renderers.JSONRenderer):
    """Every response passes through `dumps`."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return dumps(data)
