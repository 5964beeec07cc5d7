"""`run_action`: a page button's service call shown as a message, then a redirect.

Requests go through Django's real session and messages middleware; the messages are read back
the way a template reads them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import Http404, HttpRequest, HttpResponse
from django.test import RequestFactory

from pdm_saas.errors import Conflict, NotFound
from pdm_saas.page_actions import run_action

BACK = "/models/7/"


@dataclass(frozen=True)
class Promoted:
    number: int


def _request() -> HttpRequest:
    request = RequestFactory().post("/models/7/promote/")
    for middleware in (SessionMiddleware, MessageMiddleware):
        middleware(lambda _: HttpResponse()).process_request(request)
    return request


def _messages(request: HttpRequest) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in get_messages(request)]


def test_success_shows_the_message_and_redirects() -> None:
    request = _request()
    response = run_action(request, lambda: None, success="Alert resolved.", redirect_to=BACK)
    assert (response.status_code, response["Location"]) == (302, BACK)
    assert _messages(request) == [("success", "Alert resolved.")]


def test_success_message_is_made_from_the_result() -> None:
    request = _request()
    run_action(request, lambda: Promoted(3), success=lambda version: f"v{version.number} is now the champion.",
               redirect_to=BACK)
    assert _messages(request) == [("success", "v3 is now the champion.")]


def test_service_error_shows_its_message_and_redirects_to_the_same_page() -> None:
    def refuse() -> Promoted:
        raise Conflict("Only a candidate can be promoted.")

    request = _request()
    response = run_action(request, refuse, success=lambda version: f"v{version.number}", redirect_to=BACK)
    assert (response.status_code, response["Location"]) == (302, BACK)
    assert _messages(request) == [("error", "Only a candidate can be promoted.")]


def test_any_other_exception_propagates_without_a_message() -> None:
    def broken() -> None:
        raise KeyError("bug")

    request = _request()
    with pytest.raises(KeyError):
        run_action(request, broken, success="never shown", redirect_to=BACK)
    assert _messages(request) == []


def test_not_found_is_a_message_unless_asked_to_be_a_404() -> None:
    def missing() -> None:
        raise NotFound("No such API key.")

    request = _request()
    run_action(request, missing, success="API key revoked.", redirect_to=BACK)
    assert _messages(request) == [("error", "No such API key.")]

    request = _request()
    with pytest.raises(Http404, match="No such API key."):
        run_action(request, missing, success="API key revoked.", redirect_to=BACK, not_found_is_404=True)
    assert _messages(request) == []
