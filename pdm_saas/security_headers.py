"""Browser security headers Django 5.2 does not send itself: Content-Security-Policy and
Permissions-Policy. (HSTS, nosniff and the referrer policy come from SecurityMiddleware.)

The policy allows scripts and styles from our own origin only: every script the app runs is a
static file (static/js, static/vendor), with no inline <script>, `style=` or `on...=` attributes
in the templates. Live updates open a WebSocket to the same host, named explicitly in
`connect-src` because older browsers do not count ws:/wss: as 'self'. Django 6.0 ships a CSP
middleware; on that upgrade this one can shrink to the Permissions-Policy.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse


def content_security_policy(request: HttpRequest) -> str:
    try:
        host = request.get_host()
    except DisallowedHost:  # the 400 answering a foreign Host header: name no host of theirs
        return "; ".join([*settings.CONTENT_SECURITY_POLICY, "connect-src 'self'"])
    return "; ".join([*settings.CONTENT_SECURITY_POLICY, f"connect-src 'self' wss://{host} ws://{host}"])


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # With DEBUG on, Django's technical 404/500 pages style themselves inline; they exist only
        # on development machines, so their errors go without the policy rather than unstyled.
        if not (settings.DEBUG and response.status_code >= 400):
            response.headers.setdefault("Content-Security-Policy", content_security_policy(request))
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
