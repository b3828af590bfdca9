"""The API's only request parser."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, plus a 400 (not a 500) for nesting too deep to parse
    recursively, and for a body that is not UTF-8."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except UnicodeError as error:
            raise ParseError(f"JSON parse error - not valid UTF-8 ({error.reason}).") from None
