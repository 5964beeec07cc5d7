"""Marks this thread as handling an HTTP request for exactly as long as the middleware chain runs.

Two per-process mechanisms behave differently inside a request: the row caches read their Redis
token once per request (tenants/row_cache.py), and live events are handed to the background
publisher instead of being sent before returning (pdm_saas/live/publisher.py). The scope ends in
a `finally`, not at `request_finished`: that signal is sent when the server closes the response,
which a response never closed (a test's streaming response, a client gone mid-download) skips,
and the thread would then act as if in a request for ever after.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from pdm_saas.live.publisher import request_scope_set
from tenants.row_cache import request_scope_reset


class RequestScopeMiddleware:
    """First in MIDDLEWARE: everything after it runs inside the request's scope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_scope_reset(in_request=True)
        request_scope_set(True)
        try:
            return self.get_response(request)
        finally:
            request_scope_set(False)
            request_scope_reset(in_request=False)
