"""Checking a machine-type metadata document (docs/metadata.md).

A document is checked in two passes. JSON Schema (`metadata_schema_v1.json`) settles the shape:
types, required fields, enums, identifier patterns. The semantic pass then checks what a schema
cannot: unique names, nested ranges, formulas and the references between sections. It runs only on
a document of the right shape, so it can index freely; a tenant fixes the shape first, then the
meaning. Every problem names a JSON path (`$.sensors[2].ranges.warning`) and what was expected.

A checked document is read through `engine.metadata` (`machine_type_schema`).

Longer than 400 lines because the two passes of one check share their path and message
helpers, and a reader of a refusal's wording wants every rule of the format in one file.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator, ValidationError

from engine.formulas import RESERVED_NAMES, FormulaError, formula_compile
from engine.metadata import (
    ZONES,
    PathPart,
    is_observation_type,
    normalize_header,
    numeric_sensors,
    signals_with_paths,
)

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name(f"metadata_schema_v{SCHEMA_VERSION}.json")
SHARE_TOLERANCE = 0.01


@dataclass(frozen=True)
class MetadataProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class MetadataInvalid(Exception):
    """Raised by `metadata_check`; `.problems` lists everything wrong, not just the first thing."""

    def __init__(self, problems: Sequence[MetadataProblem]) -> None:
        self.problems = list(problems)
        shown = "; ".join(str(problem) for problem in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"invalid machine type metadata: {shown}{more}")


@functools.cache
def metadata_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(metadata_schema())


def metadata_validate(document: object) -> list[MetadataProblem]:
    """Every problem in `document`; an empty list means it is a valid version-1 document."""
    version_problem = _version_problem(document)
    if version_problem:
        return [version_problem]
    problems = _dedupe([*_non_finite_problems(document, ()), *_schema_problems(document)])
    if problems or not isinstance(document, dict):
        return problems
    return _semantic_problems(document)


def metadata_check(document: object) -> dict[str, Any]:
    """The document itself if it is valid; otherwise `MetadataInvalid` listing every problem."""
    problems = metadata_validate(document)
    if problems:
        raise MetadataInvalid(problems)
    return cast(dict[str, Any], document)  # valid, hence an object


# --- JSON paths and value descriptions ---------------------------------------------------------


def json_path(parts: Iterable[PathPart]) -> str:
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += f".{part}"
        else:
            text += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return text


def _describe(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else type(value).__name__


def _number(value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "NaN")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _span(bounds: Sequence[float]) -> str:
    return "[" + ", ".join(_number(bound) for bound in bounds) + "]"


# --- pass 1: shape ---------------------------------------------------------------------------


def _version_problem(document: object) -> MetadataProblem | None:
    # A future version would fail v1's schema in dozens of places; one clear sentence is better.
    if not isinstance(document, dict):
        return None
    version = document.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version != SCHEMA_VERSION:
        return MetadataProblem("$.schema_version", f"unsupported schema_version {version}; expected {SCHEMA_VERSION}")
    return None


def _non_finite_problems(value: object, path: tuple[PathPart, ...]) -> Iterator[MetadataProblem]:
    # JSON has no NaN or Infinity, but Python documents can hold them and they pass `minimum`.
    if isinstance(value, float) and not math.isfinite(value):
        yield MetadataProblem(json_path(path), f"expected a finite number, got {_number(value)}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite_problems(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite_problems(item, (*path, index))


def _schema_problems(document: object) -> list[MetadataProblem]:
    errors = sorted(_validator().iter_errors(document), key=lambda error: _path_key(error.absolute_path))
    return [problem for error in errors for problem in _convert(error)]


def _path_key(path: Iterable[PathPart]) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in path)


_TYPE_WORDS = {
    "number": "a number", "integer": "an integer", "string": "a string", "array": "an array",
    "object": "an object", "boolean": "true or false", "null": "null",
}


def _convert(error: ValidationError) -> list[MetadataProblem]:
    path: list[PathPart] = list(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        path.append(error.instance)  # the offending key itself
    kind, expected, instance = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = [name for name in expected if name not in instance]
        return [MetadataProblem(json_path([*path, name]), "required field is missing") for name in missing]
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extras = [key for key in instance if key not in allowed]
        message = "unknown field; expected one of: " + ", ".join(allowed)
        return [MetadataProblem(json_path([*path, key]), message) for key in extras]
    return [MetadataProblem(json_path(path), _schema_message(error))]


def _schema_message(error: ValidationError) -> str:
    kind, expected, instance = error.validator, error.validator_value, error.instance
    got = _describe(instance)
    if kind == "type":
        names = [expected] if isinstance(expected, str) else expected
        return f"expected {' or '.join(_TYPE_WORDS.get(name, name) for name in names)}, got {got}"
    if kind == "enum":
        return f"expected one of {', '.join(_describe(option) for option in expected)}; got {got}"
    if kind == "const":
        return f"expected {_describe(expected)}, got {got}"
    if kind == "pattern":
        return f"expected {error.schema.get('description') or f'a string matching {expected}'}, got {got}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        symbol = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[kind]
        return f"expected a number {symbol} {_number(expected)}, got {got}"
    if kind in ("minItems", "maxItems"):
        return _count_message(error.schema, len(instance))
    if kind == "minLength":
        return "expected a non-empty string" if expected == 1 else f"expected at least {expected} characters"
    if kind == "maxLength":
        return f"expected at most {expected} characters, got {len(instance)}"
    if kind == "uniqueItems":
        return f"expected unique items; {_describe(_first_duplicate(instance))} appears more than once"
    return str(error.message)


def _first_duplicate(items: Sequence[object]) -> object:
    seen: list[object] = []  # a list, not a set: items may be unhashable objects
    for item in items:
        if item in seen:
            return item
        seen.append(item)
    return None


def _count_message(schema: Mapping[str, Any], count: int) -> str:
    least, most = schema.get("minItems"), schema.get("maxItems")
    if least is not None and least == most:
        expected = f"exactly {least} items" + (f" {schema['description']}" if "description" in schema else "")
    elif least is not None and count < least:
        expected = f"at least {least} item(s)"
    else:
        expected = f"at most {most} item(s)"
    return f"expected {expected}, got {count}"


def _dedupe(problems: Iterable[MetadataProblem]) -> list[MetadataProblem]:
    return list(dict.fromkeys(problems))


# --- pass 2: meaning -------------------------------------------------------------------------


def _semantic_problems(document: dict[str, Any]) -> list[MetadataProblem]:
    return _dedupe([
        *_name_problems(document),
        *_alias_problems(document),
        *_sensor_problems(document),
        *_derived_problems(document),
        *_failure_mode_problems(document),
        *_regime_problems(document),
        *_observation_problems(document),
    ])




def _name_problems(document: Mapping[str, Any]) -> Iterator[MetadataProblem]:
    first_seen: dict[str, str] = {}
    for signal, path in signals_with_paths(document):
        name, name_path = signal["name"], json_path([*path, "name"])
        if name in RESERVED_NAMES:
            reserved = ", ".join(sorted(RESERVED_NAMES))
            yield MetadataProblem(name_path, f"'{name}' is reserved by the formula language ({reserved})")
        elif name in first_seen:
            yield MetadataProblem(name_path, f"duplicate signal name '{name}' (already used at {first_seen[name]})")
        else:
            first_seen[name] = name_path
    yield from _unique_names(document.get("failure_modes", []), "failure_modes", "failure mode")
    yield from _unique_names(document.get("operating_regimes", []), "operating_regimes", "operating regime")


def _unique_names(items: Sequence[Mapping[str, Any]], section: str, noun: str) -> Iterator[MetadataProblem]:
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item["name"] in seen:
            yield MetadataProblem(json_path([section, index, "name"]), f"duplicate {noun} name '{item['name']}'")
        seen.add(item["name"])


def _alias_problems(document: Mapping[str, Any]) -> Iterator[MetadataProblem]:
    # Header matching ignores case and spaces, so aliases must stay unambiguous under that rule.
    for section in ("sensors", "failure_modes"):
        items = document.get(section, [])
        owner = {normalize_header(item["name"]): item["name"] for item in items}
        for index, item in enumerate(items):
            for position, alias in enumerate(item.get("aliases", [])):
                key = normalize_header(alias)
                if owner.setdefault(key, item["name"]) != item["name"]:
                    message = f"alias {alias!r} already refers to '{owner[key]}'"
                    yield MetadataProblem(json_path([section, index, "aliases", position]), message)


def _sensor_problems(document: Mapping[str, Any]) -> Iterator[MetadataProblem]:
    for index, sensor in enumerate(document["sensors"]):
        path: tuple[PathPart, ...] = ("sensors", index)
        categorical = sensor["kind"] == "categorical"
        # Each kind needs its own field and must not carry the other kind's.
        needed, refused = ("categories", "ranges") if categorical else ("ranges", "categories")
        if refused in sensor:
            message = f"a {sensor['kind']} sensor has no {refused}; remove them or change its kind"
            yield MetadataProblem(json_path([*path, refused]), message)
        if needed not in sensor:
            what = "the list of values it can take" if categorical else "normal, warning and critical ranges"
            yield MetadataProblem(json_path([*path, needed]), f"required for a {sensor['kind']} sensor: {what}")
        if "ranges" in sensor:
            yield from _range_problems(sensor["ranges"], (*path, "ranges"))


def _range_problems(ranges: Mapping[str, Sequence[float]], path: tuple[PathPart, ...]) -> Iterator[MetadataProblem]:
    ordered = {zone: ranges[zone][0] < ranges[zone][1] for zone in ZONES}
    for zone in ZONES:
        if not ordered[zone]:
            yield MetadataProblem(json_path([*path, zone]), f"expected low < high, got {_span(ranges[zone])}")
    for inner, outer in zip(ZONES, ZONES[1:], strict=False):
        (inner_low, inner_high), (outer_low, outer_high) = ranges[inner], ranges[outer]
        if ordered[inner] and ordered[outer] and not (outer_low <= inner_low and inner_high <= outer_high):
            message = f"{outer} range must contain the {inner} range {_span(ranges[inner])}, got {_span(ranges[outer])}"
            yield MetadataProblem(json_path([*path, outer]), message)


def _derived_problems(document: Mapping[str, Any]) -> Iterator[MetadataProblem]:
    derived = document.get("derived_signals", [])
    position = {signal["name"]: index for index, signal in reversed(list(enumerate(derived)))}
    categorical = {sensor["name"] for sensor in document["sensors"] if sensor["kind"] == "categorical"}
    known = set(_signal_names(document))
    reads: dict[int, frozenset[str]] = {}
    for index, signal in enumerate(derived):
        if "ranges" in signal:
            yield from _range_problems(signal["ranges"], ("derived_signals", index, "ranges"))
        formula_path = json_path(["derived_signals", index, "formula"])
        try:
            reads[index] = formula_compile(signal["formula"], known).names
        except FormulaError as error:
            yield MetadataProblem(formula_path, str(error))
            continue
        for name in sorted(reads[index] & categorical):
            yield MetadataProblem(formula_path, f"'{name}' is a categorical sensor; formulas read numeric signals only")
    for index, names in reads.items():
        for name in sorted(names):
            if position.get(name, -1) >= index:
                message = _order_message(derived, reads, position, index, name)
                yield MetadataProblem(json_path(["derived_signals", index, "formula"]), message)


def _order_message(
    derived: Sequence[Mapping[str, Any]], reads: Mapping[int, frozenset[str]], position: Mapping[str, int],
    index: int, name: str,
) -> str:
    own = derived[index]["name"]
    if name == own:
        return f"formula cycle: '{own}' uses itself"
    cycle = _dependency_chain(position[name], derived[index]["name"], derived, reads, position, set())
    if cycle:
        return "formula cycle: " + " -> ".join([own, *cycle])
    return f"'{name}' is defined later (derived_signals[{position[name]}]); list a derived signal after those it uses"


def _dependency_chain(
    start: int, target: str, derived: Sequence[Mapping[str, Any]], reads: Mapping[int, frozenset[str]],
    position: Mapping[str, int], visited: set[int],
) -> list[str] | None:
    """Names from derived[start] down to `target` through formula references, if such a chain exists."""
    visited.add(start)
    here = derived[start]["name"]
    for name in sorted(reads.get(start, frozenset())):
        if name == target:
            return [here, target]
        if name in position and position[name] not in visited:
            chain = _dependency_chain(position[name], target, derived, reads, position, visited)
            if chain:
                return [here, *chain]
    return None


def _failure_mode_problems(document: Mapping[str, Any]) -> Iterator[MetadataProblem]:
    known = _signal_names(document)
    categorical = {sensor["name"] for sensor in document["sensors"] if sensor["kind"] == "categorical"}
    for index, mode in enumerate(document["failure_modes"]):
        listed: set[str] = set()
        for position, affected in enumerate(mode["affected_signals"]):
            path = json_path(["failure_modes", index, "affected_signals", position, "signal"])
            name = affected["signal"]
            if name not in known:
                yield MetadataProblem(path, _unknown_signal(name, known))
            elif name in categorical:
                yield MetadataProblem(path, f"'{name}' is categorical; failure progression applies to numeric signals")
            elif name in listed:
                yield MetadataProblem(path, f"'{name}' is listed twice in this failure mode")
            listed.add(name)
        interval = mode.get("pf_interval_hours")
        if interval is not None and interval > mode["mean_time_to_failure_hours"]:
            message = f"expected at most mean_time_to_failure_hours ({_number(mode['mean_time_to_failure_hours'])})"
            yield MetadataProblem(json_path(["failure_modes", index, "pf_interval_hours"]), message)


def _regime_problems(document: Mapping[str, Any]) -> Iterator[MetadataProblem]:
    regimes = document["operating_regimes"]
    total = sum(regime["share"] for regime in regimes)
    if abs(total - 1) > SHARE_TOLERANCE:
        message = f"regime shares must sum to 1 (±{SHARE_TOLERANCE}), got {round(total, 6):g}"
        yield MetadataProblem("$.operating_regimes", message)
    sensors = {sensor["name"]: sensor for sensor in numeric_sensors(document)}
    for index, regime in enumerate(regimes):
        for name, level in regime["signal_levels"].items():
            path = json_path(["operating_regimes", index, "signal_levels", name])
            if name not in sensors:
                yield MetadataProblem(path, _unknown_signal(name, list(sensors), noun="numeric sensor"))
                continue
            low, high = sensors[name].get("ranges", {}).get("critical", (-math.inf, math.inf))
            if low < high and not low <= level <= high:
                message = f"level {_number(level)} is outside the plausible (critical) range {_span([low, high])}"
                yield MetadataProblem(path, message)


def _observation_problems(document: Mapping[str, Any]) -> Iterator[MetadataProblem]:
    """Labels and array sensors belong to observation types; their names must not collide with
    signals, and their aliases must stay unambiguous beside the sensors' (header matching)."""
    observations = is_observation_type(document)
    labels = document.get("observation_labels", [])
    if observations and not labels:
        yield MetadataProblem("$.observation_labels", "an observations type declares at least one label "
                                                      "(the per-row target its models learn)")
    if labels and not observations:
        yield MetadataProblem("$.observation_labels", 'labels per row need "data_kind": "observations"')
    for index, sensor in enumerate(document["sensors"]):
        if sensor.get("values") == "array" and (not observations or sensor["kind"] != "numeric"):
            yield MetadataProblem(json_path(["sensors", index, "values"]),
                                  'array values need a numeric sensor of an "observations" type')
    yield from _unique_names(labels, "observation_labels", "label")
    signals = set(_signal_names(document))
    headers = {normalize_header(alias): sensor["name"] for sensor in document["sensors"]
               for alias in [sensor["name"], *sensor.get("aliases", [])]}
    for index, item in enumerate(labels):
        if item["name"] in signals:
            yield MetadataProblem(json_path(["observation_labels", index, "name"]),
                                  f"'{item['name']}' is already a signal name")
        for position, alias in enumerate(item.get("aliases", [])):
            if normalize_header(alias) in headers:
                yield MetadataProblem(json_path(["observation_labels", index, "aliases", position]),
                                      f"alias {alias!r} already refers to sensor '{headers[normalize_header(alias)]}'")


def _unknown_signal(name: str, known: Sequence[str], noun: str = "signal") -> str:
    listed = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
    return f"unknown {noun} '{name}'; known: {listed}"


def _signal_names(document: Mapping[str, Any]) -> list[str]:
    # Walked here, not read through the schema: a document being checked may not compile.
    return [signal["name"] for signal, _ in signals_with_paths(document)]
