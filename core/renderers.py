"""The API's JSON renderer."""

import json

import orjson
from rest_framework import renderers
from rest_framework.utils import encoders

_fallback_default = encoders.JSONEncoder().default


class JSONRenderer(renderers.JSONRenderer):
    """orjson for speed (every response passes through here). It also writes the
    responses' dates and datetimes (REST_FRAMEWORK's DATE_FORMAT and DATETIME_FORMAT are
    None): dates as YYYY-MM-DD, datetimes, which are in UTC, as ISO 8601 with a `Z`,
    fractional seconds only when not zero, exactly as DRF's encoder below does.

    Text that is not valid Unicode, such as a lone surrogate a client sent and an error
    message names, cannot be UTF-8 encoded: such a body is written with \\u escapes
    instead, so the answer is still valid JSON and never a 500."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
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
