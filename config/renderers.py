"""The API's JSON renderer."""

import json

import orjson
from rest_framework import renderers
from rest_framework.utils import encoders

_fallback_default = encoders.JSONEncoder().default


class JSONRenderer(renderers.JSONRenderer):
    """orjson for speed (every response passes through here). Text that is not valid
    Unicode, such as a lone surrogate a client sent and an error message names,
    cannot be UTF-8 encoded: such a body is written with \\u escapes instead, so
    the answer is still valid JSON and never a 500."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        try:
            return orjson.dumps(data, default=_fallback_default)
        except orjson.JSONEncodeError:
            return json.dumps(
                data,
                cls=encoders.JSONEncoder,
                ensure_ascii=True,
                allow_nan=False,
                separators=(",", ":"),
            ).encode("ascii")
