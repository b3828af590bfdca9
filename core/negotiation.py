"""Content negotiation with a shortcut for the requests almost every client sends."""

from rest_framework.negotiation import DefaultContentNegotiation

# Accept headers that any of the API's renderers satisfies.
ANYTHING = frozenset(["", "*/*"])


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, minus its parsing of the Accept header when there is nothing
    to choose: no header, or `*/*`, gets the first renderer (as DRF would choose),
    without the parsing DRF would spend on every request for that answer. Other
    headers and a `format` override go through DRF's full negotiation, 406 included."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            format_suffix is None
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            and request.META.get("HTTP_ACCEPT", "").strip() in ANYTHING
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
