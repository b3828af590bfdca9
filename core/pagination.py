"""Cursor pagination for every list of the API."""

from django.core import signing
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.utils.urls import replace_query_param

CURSOR_SALT = "core.pagination.cursor"


class SignedCursorPagination(pagination.CursorPagination):
    """Cursor pages: stable under inserts and free of COUNT(*) at any table size.

    A cursor is signed when it is handed out, so one the server did not issue (a
    crafted position, a truncated link, anything at all) is a 400 naming `cursor`
    before it comes near the query. A bad `page_size` is a 400 too; sizes above the
    maximum are capped."""

    page_size_query_param = "page_size"
    invalid_cursor_message = (
        "Not a cursor this API handed out: follow a page's next or previous link."
    )

    def get_page_size(self, request) -> int:
        # DRF falls back to the default on a bad value; a client that asked for
        # something else should hear about it.
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

    def encode_cursor(self, cursor: pagination.Cursor) -> str:
        token = signing.Signer(salt=CURSOR_SALT).sign_object(list(cursor))
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def decode_cursor(self, request) -> pagination.Cursor | None:
        token = request.query_params.get(self.cursor_query_param)
        if token is None:
            return None
        try:
            offset, reverse, position = signing.Signer(salt=CURSOR_SALT).unsign_object(token)
        except (signing.BadSignature, ValueError):
            raise ValidationError(
                {self.cursor_query_param: [self.invalid_cursor_message]}
            ) from None
        return pagination.Cursor(offset=offset, reverse=reverse, position=position)


class NewestFirstPagination(SignedCursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 200


class RecordedOrderPagination(SignedCursorPagination):
    ordering = "id"
    page_size = 100
    max_page_size = 500
