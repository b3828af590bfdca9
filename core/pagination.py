"""Cursor pages for the API's lists: stable under inserts, free of COUNT(*)."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination


class StrictCursorPagination(CursorPagination):
    """Newest first, `page_size` 1 to 200 (default 50). DRF falls back to the default on
    a bad `page_size`; a client that asked for something else should hear about it (a
    400 naming it). Sizes above the maximum are capped."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        requested = request.query_params.get(self.page_size_query_param, "")
        if requested == "":
            return self.page_size
        if not requested.isascii() or not requested.isdigit() or int(requested) < 1:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Must be a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return min(int(requested), self.max_page_size)
