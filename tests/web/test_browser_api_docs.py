"""The Swagger page still works in a real browser under the Content-Security-Policy, which
refuses inline scripts (the page loads its start-up script as a file: drf-spectacular's split
view). The conftest's `browser` fixture fails the module on any script refusal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.live import module_stack

pytestmark = pytest.mark.live


stack = module_stack("docs")  # the served stack, on a port of its own


def test_swagger_lists_the_operations_under_the_policy(browser: Any, stack: int) -> None:
    context = browser.new_context()
    try:
        tab = context.new_page()
        answer = tab.goto(f"http://localhost:{stack}/api/v1/docs/")
        assert answer.status == 200 and "script-src 'self'" in answer.headers["content-security-policy"]
        tab.locator(".opblock").first.wait_for(timeout=20_000)  # Swagger UI ran and read the schema
        assert tab.locator(".opblock").count() >= 2  # the public host: signup and the schema
    finally:
        context.close()
