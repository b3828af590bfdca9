"""View behaviour shared by the API: JSON error pages, strict query strings."""

import django_filters
from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import JsonResponse
from django.views import defaults
from rest_framework.exceptions import NotFound, ValidationError

from core.models import ID_RANGE

API_PREFIXES = ("/v2/", "/status", "/healthz", "/readyz")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def bad_request(request, exception=None):
    """Django's answer to a SuspiciousOperation (a Host not served, more query
    parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS): the API's JSON 400 on its paths.
    Only the parameter count is explained; other reasons stay in the security log, as
    Django's own page keeps them."""
    if not is_api_path(request.path):
        return defaults.bad_request(request, exception)
    if isinstance(exception, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return JsonResponse(
            {"detail": f"Too many query parameters: the limit is {limit}."}, status=400
        )
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, exception=None):
    if is_api_path(request.path):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=403
        )
    return defaults.permission_denied(request, exception)


def not_found(request, exception=None):
    if is_api_path(request.path):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_path(request.path):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return defaults.server_error(request)


class RejectUnknownQueryParametersMixin:
    """For DRF views, the query string's rules, on every endpoint alike: a parameter the
    endpoint does not know is a client bug (a misspelt filter would otherwise silently
    widen a list), and so is one given empty (`interval=`) or, unless it takes several
    values, given twice (which one would win?): 400 naming it."""

    def allowed_query_parameters(self) -> set[str]:
        return set()

    def repeatable_query_parameters(self) -> set[str]:
        """The parameters that take several values (`?status=a&status=b`): by default
        the multiple-choice filters of the view's filterset, if any."""
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is None:
            return set()
        return {
            name
            for name, definition in filterset_class.base_filters.items()
            if isinstance(definition, django_filters.MultipleChoiceFilter)
        }

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            return  # 405 comes next; the query string does not matter
        query = request.query_params
        unknown = sorted(set(query) - self.allowed_query_parameters())
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
        repeatable = self.repeatable_query_parameters()
        refused = {}
        for name, values in query.lists():
            if "" in values:
                refused[name] = ["Must not be empty: give a value, or leave the parameter out."]
            elif len(values) > 1 and name not in repeatable:
                refused[name] = ["Give this parameter once."]
        if refused:
            raise ValidationError(refused)


class RecordListMixin(RejectUnknownQueryParametersMixin):
    """For a DRF viewset of a business's records with a filterset: its list takes the
    filterset's parameters and a cursor, its `status_history` a cursor, every other
    action none. The filters narrow the list; they never hide one record."""

    def allowed_query_parameters(self) -> set[str]:
        pages = {"cursor", "page_size"}
        if self.action == "list":
            return pages | set(self.filterset_class.base_filters)
        if self.action == "status_history":
            return pages
        return set()

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)


def object_id(text: str) -> int:
    """The record id a path names (digits: the routes take nothing else); NotFound for
    one that cannot name a record, however many digits it has."""
    if len(text) > 19 or int(text) not in ID_RANGE:
        raise NotFound()
    return int(text)


class BodyAfterRecordMixin:
    """For a DRF viewset of one kind of record: the request's body read by an input
    serializer, with the contract's order of refusals (404, then 400): a body that does
    not validate on a path whose record is not the caller's is a 404, not a 400 naming
    fields."""

    def valid_body(self, serializer_class, **kwargs):
        """The input serializer of `serializer_class`, validated."""
        body = serializer_class(data=self.request.data, **kwargs)
        if not body.is_valid():
            if "pk" in self.kwargs:
                self.get_object()
            raise ValidationError(body.errors)
        return body
