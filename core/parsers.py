"""The API's only request parser."""

import codecs

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json


def object_without_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object as a dict, refusing a key given twice: Python's json would keep the
    last silently (`{"status": "lost", "status": "lead"}`), whatever the client meant."""
    found = {}
    for key, value in pairs:
        if key in found:
            raise ValidationError({key: ["Given more than once in the JSON body."]})
        found[key] = value
    return found


class StrictJSONParser(JSONParser):
    """DRF's JSON parser (its strict constants included), plus a 400 naming the key for
    a key given twice in one object at any depth, a 400 (not a 500) for nesting too deep
    to parse recursively, and a 400 for a body that is not UTF-8."""

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF's parse, with the hook that DRF's offers no way to pass.
        encoding = get_encoding(parser_context or {})  # refuses non-text codecs (a 400)
        try:
            return json.load(
                codecs.getreader(encoding)(stream),
                object_pairs_hook=object_without_duplicate_keys,
            )
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except UnicodeError as error:
            raise ParseError(f"JSON parse error - not valid UTF-8 ({error.reason}).") from None
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
