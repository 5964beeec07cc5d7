"""The shape most page buttons share: call one service, show its outcome as a message, redirect.

A browser action (promote a model, accept a plan, revoke a key...) has no page of its own: the
service's refusal is shown as its message, a success as a sentence about the result, and both
land on the same page (post/redirect/get, so a reload does not repeat the action). Views whose
error path differs (a form shown again with status 400, JSON, another page on error) keep their
own `try`; forcing them through here would hide what they do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseRedirect

from pdm_saas.errors import NotFound, ServiceError

T = TypeVar("T")


def run_action(request: HttpRequest, action: Callable[[], T], *, success: str | Callable[[T], str],
               redirect_to: str, not_found_is_404: bool = False) -> HttpResponseRedirect:
    """Run `action` and redirect to `redirect_to`, with a success or error message.

    `success` is the message, or makes it from what the action returned. A `ServiceError`
    becomes an error message; any other exception propagates (a bug is a 500, not a message).
    `not_found_is_404`: a service's `NotFound` is a 404 page instead, for ids the service looks
    up in shared tables, where another tenant's id must look like no id at all.
    """
    try:
        result = action()
    except ServiceError as exc:
        if not_found_is_404 and isinstance(exc, NotFound):
            raise Http404(exc.message) from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, success(result) if callable(success) else success)
    return HttpResponseRedirect(redirect_to)
