"""Request guards that act before any view or parser runs, and the middleware that
only browser pages need."""

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.http import JsonResponse
from django.utils.module_loading import import_string

from config.views import is_api_path


class RequestBodyLimitMiddleware:
    """Refuses a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before it is
    read, going by its declared Content-Length."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(declared)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": f"Request body too large: {length} bytes; the limit is {limit}."},
                status=413,
            )
        return self.get_response(request)


class BrowserMiddleware:
    """Runs settings.BROWSER_MIDDLEWARE, in order, for every page but the API's.

    Sessions, the logged-in user and messages serve the admin; the API
    authenticates each request by its token and sets no cookie, and skipping them
    saves every API request about 0.1 ms of CPU. (CSRF protection stays in
    MIDDLEWARE, for every path: DRF exempts the API's views itself.)

    The listed middleware behave as they would in MIDDLEWARE: this chains them as
    Django's handler does, and hands them the view, exception and template-response
    hooks it receives."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.view_hooks, self.template_response_hooks, self.exception_hooks = [], [], []
        handler = get_response
        for path in reversed(settings.BROWSER_MIDDLEWARE):
            middleware = import_string(path)(handler)
            # The orders Django's BaseHandler.load_middleware gives these hooks.
            if hasattr(middleware, "process_view"):
                self.view_hooks.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self.template_response_hooks.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self.exception_hooks.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self.browser_chain = handler

    def __call__(self, request):
        if is_api_path(request.path_info):
            return self.get_response(request)
        return self.browser_chain(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        return self.first_answer(request, self.view_hooks, view_func, view_args, view_kwargs)

    def process_exception(self, request, exception):
        return self.first_answer(request, self.exception_hooks, exception)

    @staticmethod
    def first_answer(request, hooks, *arguments):
        # As Django's handler does: the first response a hook returns, if any.
        if is_api_path(request.path_info):
            return None
        for hook in hooks:
            response = hook(request, *arguments)
            if response is not None:
                return response
        return None

    def process_template_response(self, request, response):
        if is_api_path(request.path_info):
            return response
        for hook in self.template_response_hooks:
            response = hook(request, response)
        return response
