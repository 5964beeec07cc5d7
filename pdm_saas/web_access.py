"""Who may see and change what in the browser pages, in one place.

The rules are the API's (see `pdm_saas/api/base.py`): a visitor who is not signed in goes to the
login page; someone who is not a member of this tenant gets a 404, so another tenant's pages are
indistinguishable from pages that do not exist; a member without the scope an action needs gets
a 403 page naming the role they lack. Views declare the scope they need with `member_view`.
An organization whose subscription lapsed is read-only: changes get a 402 page saying why and
where to pay (`billing.access`), and every page shows a banner while payment is due.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import Actor, Role, Scope, lowest_role_with, scopes_for_role
from billing.access import request_standing, write_refusal
from pdm_saas.api.principals import request_actor, request_membership

View = TypeVar("View", bound=Callable[..., HttpResponse])


def member_view(*, read: str = Scope.READ, write: str = Scope.WRITE) -> Callable[[View], View]:
    """Guard a tenant page: login, membership (404 otherwise) and scope (403 otherwise).

    GET and HEAD need `read`; every other method needs `write` (the scope of the view's
    action: `predict`, `admin`...).
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            tenant = getattr(request, "tenant", None)
            if tenant is None or tenant.is_public:
                raise Http404("No organization here")
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = request_membership(request)
            if membership is None:
                raise Http404("Not a member of this organization")
            needed = read if request.method in ("GET", "HEAD") else write
            if needed not in scopes_for_role(membership.role):
                return forbidden(request, needed)
            refusal = write_refusal(request)
            if refusal is not None:
                return render(request, "errors/402.html", {"message": refusal.message}, status=402)
            return view(request, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def forbidden(request: HttpRequest, scope: str) -> HttpResponse:
    role = lowest_role_with(scope)
    message = f"This needs the {Role(role).label} role or higher. Ask an admin of your organization."
    return render(request, "errors/403.html", {"message": message}, status=403)


def page_actor(request: HttpRequest) -> Actor:
    """The signed-in member as an Actor for services (only inside a `member_view`)."""
    return request_actor(request)


def can(request: HttpRequest, scope: str) -> bool:
    membership = request_membership(request)
    return membership is not None and scope in scopes_for_role(membership.role)


def web_context(request: HttpRequest) -> dict[str, Any]:
    """Template context for every page: the member's role and what they may do, for the nav
    and for hiding buttons they could not use (the views check again; hiding is courtesy)."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public or not request.user.is_authenticated:
        return {"membership": None, "can_write": False, "can_admin": False, "can_predict": False,
                "billing_notice": ""}
    membership = request_membership(request)
    scopes = scopes_for_role(membership.role) if membership else frozenset()
    return {
        "membership": membership,
        "can_write": Scope.WRITE in scopes,
        "can_predict": Scope.PREDICT in scopes,
        "can_admin": Scope.ADMIN in scopes,
        # Past due or read-only: the banner above the messages (members only).
        "billing_notice": request_standing(request).notice if membership else "",
    }
