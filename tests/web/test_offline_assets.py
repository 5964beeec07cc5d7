"""The web app works on a plant network with no internet: every script, style, font and icon is
served from our own static folder, and the app installs to a phone's home screen."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# src/href pointing off-site (a CDN, web fonts); plain links in text are fine.
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//(?!localhost)""", re.IGNORECASE)
CSS_IMPORT = re.compile(r"""@import\s+url\(\s*["']?(?:https?:)?//|url\(\s*["']?https?://""", re.IGNORECASE)


def _files(folder: str, *suffixes: str) -> list[Path]:
    return [p for p in (ROOT / folder).rglob("*") if p.suffix in suffixes]


def test_templates_load_nothing_from_other_sites() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in _files("templates", ".html") if EXTERNAL.search(p.read_text())]
    assert offenders == []


def test_our_styles_load_nothing_from_other_sites() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in _files("static/css", ".css") if CSS_IMPORT.search(p.read_text())]
    assert offenders == []


def test_the_manifest_names_icons_that_exist() -> None:
    manifest = json.loads((ROOT / "static/manifest.webmanifest").read_text())
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes  # what Android asks for to offer "install"
    for icon in manifest["icons"]:
        path = ROOT / "static" / icon["src"]
        assert path.is_file(), icon
        if icon["type"] == "image/png":
            width, height = _png_size(path.read_bytes())
            assert f"{width}x{height}" == icon["sizes"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.django_db
def test_pages_link_the_manifest_and_the_vendored_libraries(client_for: Any) -> None:
    page = client_for("viewer").get("/").content.decode()
    assert 'rel="manifest"' in page and "vendor/htmx-2.0.11.min.js" in page
    for asset in ("manifest.webmanifest", "vendor/htmx-2.0.11.min.js", "vendor/uPlot-1.6.32.iife.min.js"):
        assert (ROOT / "static" / asset).is_file()
