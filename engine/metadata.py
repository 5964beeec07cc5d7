"""A machine type's metadata document, read: its signals, ranges, formulas and failure modes.

`machine_type_schema(document)` reads a checked document (engine/metadata_checks.py) once into a
frozen, typed `MachineTypeSchema`; the same document is never parsed twice in one process. The
functions below it answer the questions ingestion, simulation and the pages ask of a document.

No Django imports here: the module is used by management commands, workers and plain tests alike.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from threading import Lock
from typing import Any, Literal

from engine.formulas import RESERVED_NAMES, Formula, Value, formula_compile

Zone = Literal["normal", "warning", "critical", "implausible"]
ZONES: tuple[Zone, ...] = ("normal", "warning", "critical")
PathPart = str | int


def signals_with_paths(document: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], tuple[PathPart, ...]]]:
    """Every sensor, then every derived signal, with its place in the document."""
    for section in ("sensors", "derived_signals"):
        for index, signal in enumerate(document.get(section, [])):
            yield signal, (section, index)


# --- the typed schema ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """A sensor or a derived signal. `ranges` (normal, warning, critical bounds) is None for a
    categorical sensor and for a derived signal the document gives none."""

    name: str
    label: str
    unit: str
    kind: Literal["numeric", "categorical"]
    derived: bool
    ranges: Mapping[str, tuple[float, float]] | None
    categories: tuple[str, ...] = ()
    array: bool = False  # many numbers per file cell, stored as summaries (observation types)

    def zone(self, value: float) -> Zone:
        if self.ranges is None:
            raise ValueError(f"signal '{self.name}' has no ranges")
        return range_zone(self.ranges, value)


@dataclass(frozen=True)
class AffectedSignal:
    """How a failure mode moves a signal on the way to failure (docs/metadata.md)."""

    signal: str
    direction: Literal["increase", "decrease"]
    progression: str
    magnitude: float


@dataclass(frozen=True)
class FailureMode:
    name: str
    label: str
    aliases: tuple[str, ...]
    affected: tuple[AffectedSignal, ...]
    repair_cost: float
    downtime_hours: float
    mean_time_to_failure_hours: float | None
    pf_interval_hours: float | None
    document: Mapping[str, Any] = field(repr=False)  # symptoms and actions, as written


@dataclass(frozen=True)
class MachineTypeSchema:
    """A checked metadata document read once: typed signals in document order (sensors, then
    derived signals), formulas compiled in evaluation order, failure modes. Build it with
    `machine_type_schema`; `document` keeps the rest (regimes, costs, descriptions) as written."""

    document: Mapping[str, Any] = field(repr=False)
    signals: tuple[Signal, ...]
    formulas: tuple[tuple[str, Formula], ...]
    failure_modes: tuple[FailureMode, ...]
    observations: bool
    hours_per_cycle: float | None

    @cached_property
    def by_name(self) -> Mapping[str, Signal]:
        return {signal.name: signal for signal in self.signals}

    @cached_property
    def signal_names(self) -> tuple[str, ...]:
        return tuple(signal.name for signal in self.signals)

    @cached_property
    def sensors(self) -> tuple[Signal, ...]:
        return tuple(signal for signal in self.signals if not signal.derived)

    @cached_property
    def numeric_sensors(self) -> tuple[Signal, ...]:
        return tuple(signal for signal in self.sensors if signal.kind == "numeric")

    @cached_property
    def categorical_sensors(self) -> tuple[Signal, ...]:
        return tuple(signal for signal in self.sensors if signal.kind == "categorical")

    @cached_property
    def categories(self) -> Mapping[str, tuple[str, ...]]:
        """The values each categorical sensor can take, by sensor name."""
        return {signal.name: signal.categories for signal in self.categorical_sensors}

    @cached_property
    def array_sensors(self) -> tuple[str, ...]:
        """Sensors whose file cells hold many numbers each, stored as per-row summaries."""
        return tuple(signal.name for signal in self.sensors if signal.array)

    @cached_property
    def ranges(self) -> Mapping[str, Mapping[str, tuple[float, float]]]:
        """Ranges by signal name, for every signal that has them."""
        return {signal.name: signal.ranges for signal in self.signals if signal.ranges is not None}

    def derived_evaluate(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """Every derived signal computed from sensor `values` (scalars or numpy arrays)."""
        computed: dict[str, Value] = dict(values)
        results: dict[str, Value] = {}
        for name, formula in self.formulas:
            results[name] = computed[name] = formula.evaluate(computed)
        return results

    def failure_mode(self, name: str | None) -> FailureMode | None:
        return next((mode for mode in self.failure_modes if name and mode.name == name), None)


_SCHEMAS: OrderedDict[str, MachineTypeSchema] = OrderedDict()
_SCHEMAS_LOCK = Lock()
_SCHEMAS_KEPT = 256  # machine types a process reads; far more than a tenant has


# What the engine's entry points take: the schema, or a checked document they read once at the door.
MachineTypeLike = MachineTypeSchema | Mapping[str, Any]


def machine_type_schema(document: MachineTypeLike) -> MachineTypeSchema:
    """The schema of a checked document, built once per distinct document per process (keyed by
    its content, so an edited type gets a new one): formulas compile once, not on every call.
    A schema given is returned as it is."""
    if isinstance(document, MachineTypeSchema):
        return document
    key = hashlib.sha1(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
    with _SCHEMAS_LOCK:
        if key in _SCHEMAS:
            _SCHEMAS.move_to_end(key)
            return _SCHEMAS[key]
    schema = _schema_build(document)
    with _SCHEMAS_LOCK:
        _SCHEMAS[key] = schema
        while len(_SCHEMAS) > _SCHEMAS_KEPT:
            _SCHEMAS.popitem(last=False)
    return schema


def _schema_build(document: Mapping[str, Any]) -> MachineTypeSchema:
    signals = tuple(_signal(item, derived=section == "derived_signals")
                    for item, (section, _) in signals_with_paths(document))
    known = {signal.name for signal in signals}
    formulas = tuple((item["name"], formula_compile(item["formula"], known))
                     for item in document.get("derived_signals", []))
    modes = tuple(_failure_mode(mode) for mode in document.get("failure_modes") or [])
    return MachineTypeSchema(document=document, signals=signals, formulas=formulas, failure_modes=modes,
                             observations=is_observation_type(document),
                             hours_per_cycle=hours_per_cycle(document))


def _failure_mode(mode: Mapping[str, Any]) -> FailureMode:
    affected = tuple(AffectedSignal(signal=a["signal"], direction=a["direction"], progression=a["progression"],
                                    magnitude=float(a["magnitude"])) for a in mode.get("affected_signals", []))
    # Lenient where the engine needs only part of a mode (a time scale reads just its intervals).
    name = str(mode.get("name", ""))
    return FailureMode(name=name, label=str(mode.get("label") or name.replace("_", " ")),
                       aliases=tuple(mode.get("aliases", [])), affected=affected,
                       repair_cost=float(mode.get("repair_cost", 0)),
                       downtime_hours=float(mode.get("downtime_hours", 0)),
                       mean_time_to_failure_hours=_optional_float(mode.get("mean_time_to_failure_hours")),
                       pf_interval_hours=_optional_float(mode.get("pf_interval_hours")), document=mode)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _signal(item: Mapping[str, Any], *, derived: bool) -> Signal:
    ranges = item.get("ranges")
    return Signal(name=item["name"], label=str(item.get("label") or item["name"]), unit=str(item.get("unit", "")),
                  kind="numeric" if derived else item["kind"], derived=derived,
                  ranges=None if ranges is None else {zone: (float(low), float(high))
                                                      for zone, (low, high) in ranges.items()},
                  categories=tuple(item.get("categories", [])), array=item.get("values") == "array")


# --- helpers for ingestion, simulation and the UI ----------------------------------------------


def signal_names(document: Mapping[str, Any]) -> list[str]:
    """Sensors first, then derived signals, each in document order."""
    return list(machine_type_schema(document).signal_names)


def is_observation_type(document: Mapping[str, Any]) -> bool:
    """Independent labelled rows (process runs, inspections, test cycles), not a time series."""
    return document.get("data_kind") == "observations"


def hours_per_cycle(document: Mapping[str, Any]) -> float | None:
    """How long one cycle of the type takes, in hours, when the type says (`hours_per_cycle`):
    what turns remaining life in cycles (cycle-indexed data) into time, e.g. for the planner."""
    value = document.get("hours_per_cycle")
    return None if value is None else float(value)


def observation_labels(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(item) for item in document.get("observation_labels", [])]


def label_for_header(document: Mapping[str, Any], header: str) -> str | None:
    """The observation label a file column holds: by name, then by alias, ignoring case and spaces."""
    key = normalize_header(header)
    for item in document.get("observation_labels", []):
        if key in {normalize_header(name) for name in [item["name"], *item.get("aliases", [])]}:
            return str(item["name"])
    return None


def numeric_sensors(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [sensor for sensor in document.get("sensors", []) if sensor["kind"] == "numeric"]


def signal_ranges(document: Mapping[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Ranges by signal name, for every sensor or derived signal that has them."""
    return {signal["name"]: signal["ranges"] for signal, _ in signals_with_paths(document) if "ranges" in signal}


def range_zone(ranges: Mapping[str, Sequence[float]], value: float) -> Zone:
    """Where a reading falls. Outside the critical range means no healthy or failing machine
    produces it: a sensor fault or a unit mistake (kelvin sent as Celsius, say)."""
    if math.isnan(value):
        raise ValueError("a NaN reading has no zone; count it as missing")
    for zone in ZONES:
        low, high = ranges[zone]
        if low <= value <= high:
            return zone
    return "implausible"


def derived_formulas(document: Mapping[str, Any]) -> list[tuple[str, Formula]]:
    """Compiled formulas in evaluation order (the document lists them after what they read)."""
    return list(machine_type_schema(document).formulas)


def derived_evaluate(document: Mapping[str, Any], values: Mapping[str, Value]) -> dict[str, Value]:
    """Every derived signal computed from sensor `values` (scalars or numpy arrays)."""
    return machine_type_schema(document).derived_evaluate(values)


_TRANSLITERATIONS = str.maketrans({
    "°": " ", "º": " ", "µ": "u", "μ": "u", "Ω": "ohm", "%": " pct ", "‰": " permille ", "ß": "ss",
    "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "œ": "oe", "Œ": "oe", "ł": "l", "Ł": "l", "đ": "d",
    "Đ": "d", "ð": "d", "þ": "th", "Δ": " delta ", "δ": " delta ",
})
_IDENTIFIER_MAX = 63


def header_to_identifier(header: str) -> str:
    """A safe identifier (`^[a-z][a-z0-9_]*$`, at most 63 characters) for a column header:
    `Air temperature [K]` -> `air_temperature_k`, `Temp. (°C)` -> `temp_c`, `1st stage` -> `c_1st_stage`."""
    if not header.strip():
        raise ValueError("a column header cannot be empty")
    text = unicodedata.normalize("NFKD", header.translate(_TRANSLITERATIONS))
    text = text.encode("ascii", errors="ignore").decode("ascii").lower()
    identifier = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if not identifier:
        # Nothing ASCII survived (a header in another script): a stable name still beats a refusal.
        return "col_" + hashlib.sha1(header.strip().encode("utf-8")).hexdigest()[:8]
    if identifier[0].isdigit() or identifier in RESERVED_NAMES:
        identifier = "c_" + identifier
    return identifier[:_IDENTIFIER_MAX].rstrip("_")


def normalize_header(header: str) -> str:
    return "".join(unicodedata.normalize("NFKC", header).casefold().split())


def _identifier_or_none(header: str) -> str | None:
    try:
        return header_to_identifier(header)
    except ValueError:
        return None


def sensor_for_header(document: Mapping[str, Any], header: str) -> str | None:
    """The sensor a file column feeds: by exact name, then by alias ignoring case and spaces, then
    by the identifier both sides turn into (`air_temperature_k` finds alias `Air temperature [K]`)."""
    return _named(document.get("sensors", []), header)


def failure_mode_for_label(document: Mapping[str, Any], label: str) -> str | None:
    """The failure mode a label means (a mode-column value, a mode flag's header, a mode given to
    the API), matched as `sensor_for_header` matches sensors: `TWF`, `twf` and `tool wear failure`
    all find AI4I's `tool_wear_failure`. None when it names no mode of the type."""
    return _named(document.get("failure_modes") or [], label)


def failure_modes_listed(document: Mapping[str, Any]) -> str:
    """The type's failure modes with their aliases, for a message: `tool_wear_failure (TWF), ...`."""
    listed = [f"{mode['name']} ({', '.join(mode['aliases'])})" if mode.get("aliases") else str(mode["name"])
              for mode in document.get("failure_modes") or []]
    return ", ".join(listed) or "none declared"


def _named(items: Sequence[Mapping[str, Any]], header: str) -> str | None:
    """The name of the item (sensor, failure mode) a header or label refers to; first match wins."""
    for item in items:
        if header == item["name"]:
            return str(item["name"])
    key = normalize_header(header)
    for item in items:
        if any(normalize_header(alias) == key for alias in item.get("aliases", [])):
            return str(item["name"])
    identifier = _identifier_or_none(header)
    if identifier is None:
        return None
    for item in items:
        candidates = {item["name"], *(_identifier_or_none(alias) for alias in item.get("aliases", []))}
        if identifier in candidates:
            return str(item["name"])
    return None


def failure_mode_label(document: Mapping[str, Any], name: str | None) -> str:
    """A failure mode as people read it: its metadata label, else its name with spaces; "failure"
    when none is named (a prediction or event that says only that something will fail)."""
    for mode in document.get("failure_modes") or []:
        if name and mode.get("name") == name:
            return str(mode.get("label") or name)
    return (name or "").replace("_", " ") or "failure"


def failure_mode_or_costliest(document: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The named failure mode of a type's metadata; for no (or an unknown) name, the costliest
    one (repair cost plus downtime hours), so cost estimates err on the side of caution."""
    modes = document.get("failure_modes") or []
    for mode in modes:
        if mode.get("name") == name:
            return dict(mode)
    costliest = max(modes, key=lambda m: float(m.get("repair_cost", 0)) + float(m.get("downtime_hours", 0)),
                    default=None)
    return dict(costliest) if costliest is not None else None
