"""Notifications on your devices: turn Web Push on or off for this browser, choose the kinds,
see and remove your subscribed devices; and the root service worker, `/sw.js`.

The subscribe and unsubscribe endpoints take the JSON the page's script sends
(static/js/push_settings.js) and answer JSON; the rest are plain forms. Personal settings: every
member may change their own (the `read` scope), nobody anyone else's.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Scope
from maintenance.push import vapid_public_key
from maintenance.push_models import PushKind
from maintenance.push_selectors import push_preferences_of, push_subscriptions_of
from maintenance.services import push as push_services
from pdm_saas.errors import InvalidInput, ServiceError
from pdm_saas.web_access import member_view, page_actor

personal = member_view(read=Scope.READ, write=Scope.READ)


class PreferencesForm(forms.Form):
    """One checkbox per kind, named by the kind with "_" for "." (alert_opened...)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind, label in PushKind.choices:
            self.fields[kind.replace(".", "_")] = forms.BooleanField(label=label, required=False)

    def choices(self) -> dict[str, bool]:
        return {kind: bool(self.cleaned_data.get(kind.replace(".", "_"))) for kind in PushKind.values}


@personal
def notifications_page(request: HttpRequest) -> HttpResponse:
    user_id = page_actor(request).user_id
    assert user_id is not None  # a signed-in member
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            push_services.push_preferences_set(user_id=user_id, choices=form.choices())
            messages.success(request, "Notification choices saved.")
        return HttpResponseRedirect(reverse("predictions:notifications"))
    chosen = push_preferences_of(user_id=user_id)
    form = PreferencesForm(initial={kind.replace(".", "_"): on for kind, on in chosen.items()})
    devices = push_subscriptions_of(user_id=user_id)
    return render(request, "maintenance/notifications.html", {
        "form": form, "devices": devices, "vapid_public_key": vapid_public_key(),
        # The script tells "on" from a browser subscription the server has forgotten (removed below,
        # or gone at the push service): only an endpoint listed here counts as on.
        "known_endpoints": json.dumps([device.endpoint for device in devices]),
    })


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise InvalidInput("Send the browser's subscription as a JSON object.")
    return body


def _error(exc: ServiceError) -> JsonResponse:
    return JsonResponse({"error": {"code": exc.code, "message": exc.message, "details": exc.details}},
                        status=exc.status_code)


@personal
@require_POST
def push_subscribe(request: HttpRequest) -> HttpResponse:
    """Store this browser's PushSubscription (`toJSON()`: endpoint and keys) for the member."""
    try:
        body = _json_body(request)
        given = body.get("keys")
        keys: dict[str, Any] = given if isinstance(given, dict) else {}
        saved = push_services.push_subscription_save(
            user_id=page_actor(request).user_id or 0, endpoint=str(body.get("endpoint") or ""),
            p256dh=str(keys.get("p256dh") or ""), auth=str(keys.get("auth") or ""),
            device=push_services.device_label(request.headers.get("User-Agent", "")))
    except ServiceError as exc:
        return _error(exc)
    return JsonResponse({"id": saved.id, "device": saved.device}, status=201)


@personal
@require_POST
def push_unsubscribe(request: HttpRequest) -> HttpResponse:
    try:
        body = _json_body(request)
        push_services.push_subscription_delete(user_id=page_actor(request).user_id or 0,
                                               endpoint=str(body.get("endpoint") or ""))
    except ServiceError as exc:
        return _error(exc)
    return HttpResponse(status=204)


@personal
@require_POST
def push_device_remove(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        push_services.push_subscription_delete(user_id=page_actor(request).user_id or 0, subscription_id=pk)
        messages.success(request, "That device gets no more notifications.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(reverse("predictions:notifications"))


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The root service worker: served from / so that its scope is the whole site. It only pulls
    in each feature's own file (static/js/sw_push.js); no login needed to fetch a script."""
    response = HttpResponse(render_to_string("sw.js"), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"  # browsers check for a new worker at each visit
    response["Service-Worker-Allowed"] = "/"
    return response
