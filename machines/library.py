"""The built-in library of machine types (`machines/library/<key>.json`), and JSON import / export
of metadata documents.

The library is read and validated once per process. A broken built-in file is a bug in a release,
not a tenant's mistake, so it fails loudly at first use rather than being skipped.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any, NoReturn

from engine.metadata_checks import MetadataInvalid, MetadataProblem, metadata_check

LIBRARY_DIR = Path(__file__).with_name("library")
MAX_IMPORT_BYTES = 1_000_000


class MachineTypeUnknown(KeyError):
    """A KeyError whose message reads well (KeyError's own str() adds quotes around it)."""

    def __str__(self) -> str:
        return str(self.args[0])


@functools.cache
def _library() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(LIBRARY_DIR.glob("*.json")):
        try:
            document = metadata_check(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, MetadataInvalid) as error:
            raise RuntimeError(f"built-in machine type {path.name} is broken: {error}") from error
        if document["key"] != path.stem:
            raise RuntimeError(f"built-in machine type {path.name} has key {document['key']!r}; they must match")
        documents[document["key"]] = document
    return documents


def library_list() -> list[dict[str, Any]]:
    """A summary of every built-in type, by category then name."""
    summaries = [_summary(document) for document in _library().values()]
    return sorted(summaries, key=lambda summary: (summary["category"], summary["name"]))


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": document["key"],
        "name": document["name"],
        "category": document["category"],
        "description": document.get("description", ""),
        "manufacturer_examples": list(document.get("manufacturer_examples", [])),
        "sensor_count": len(document["sensors"]),
        "derived_signal_count": len(document.get("derived_signals", [])),
        "failure_mode_count": len(document["failure_modes"]),
        "operating_regime_count": len(document["operating_regimes"]),
    }


def library_get(key: str) -> dict[str, Any]:
    """The full document; a copy, so callers may edit it into a tenant's own type."""
    documents = _library()
    if key not in documents:
        known = ", ".join(sorted(documents))
        raise MachineTypeUnknown(f"unknown machine type {key!r}; the built-in library has: {known}")
    return copy.deepcopy(documents[key])


def metadata_export(document: dict[str, Any]) -> str:
    """Pretty JSON with the document's own key order, so a type exported twice is byte-identical
    and a diff between two versions reads like the document. Not validated: import does that."""
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def metadata_import(text: str | bytes) -> dict[str, Any]:
    """Parse and validate an uploaded document; every failure is a `MetadataInvalid` with paths."""
    if len(text) > MAX_IMPORT_BYTES:
        _refuse("$", f"document is too large (at most {MAX_IMPORT_BYTES:,} bytes)")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            _refuse("$", f"not valid JSON: not UTF-8 text (byte {error.start})")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        _refuse("$", f"not valid JSON: line {error.lineno} column {error.colno}: {error.msg}")
    except ValueError as error:
        _refuse("$", f"not valid JSON: {error}")
    if not isinstance(document, dict):
        _refuse("$", f"expected a JSON object at $, got {_json_kind(document)}")
    return metadata_check(document)


def _json_kind(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    kinds = {list: "an array", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def _refuse_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity; standard JSON (and every other client) does not.
    raise ValueError(f"{name} is not a JSON number")


def _refuse(path: str, message: str) -> NoReturn:
    raise MetadataInvalid([MetadataProblem(path, message)])
