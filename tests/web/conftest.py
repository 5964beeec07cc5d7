"""What the browser suites share: Debian's chromium under Playwright, once per module.

Screenshots go to PDM_SCREENSHOTS_DIR (default: a temporary folder printed in the log). Each
browser module defines its own `stack` fixture (the servers it drives: a Daphne port); the
`browser` fixture here waits for it, so Chromium starts after the servers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_api
import pytest


def chromium_path() -> str:
    found = os.environ.get("PDM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("No chromium on PATH: `make install` installs it (scripts/install_debian_tools.sh).")
    return found


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("PDM_SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def browser(stack: int) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; Django would refuse our (sync)
    # database reads beside it. Nothing here is concurrent, so the guard has nothing to protect.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    refusals: list[str] = []
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        _watch_content_security_policy(chromium, refusals)
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    # Whatever the pages did, the browser refused none of it (pdm_saas/security_headers.py).
    assert refusals == [], "\n".join(refusals)


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    """One desktop-sized tab for the module's whole story (its steps run in order)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


def _watch_content_security_policy(chromium: Any, refusals: list[str]) -> None:
    """Every context the tests open reports what the Content-Security-Policy refused: an inline
    script or style it blocks fails silently in the page, so the suite must say it."""
    new_context = chromium.new_context

    def watched(*args: Any, **kwargs: Any) -> Any:
        context = new_context(*args, **kwargs)
        context.on("console", lambda message: refusals.append(f"{message.location}: {message.text}")
                   if "Content Security Policy" in message.text else None)
        return context

    chromium.new_context = watched
