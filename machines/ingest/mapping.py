"""A column mapping: how the columns of one sensor file feed the reading store.

A mapping is plain data (`as_dict` / `from_dict`), so it can be saved and reused for the next
file of the same layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypedDict, get_args

from engine.metadata import (
    failure_mode_for_label,
    failure_modes_listed,
    is_observation_type,
    label_for_header,
    observation_labels,
    sensor_for_header,
)
from machines.models import MachineType
from machines.textfiles import DELIMITERS, ENCODINGS, names_listed
from pdm_saas.errors import InvalidInput
from tenants.time_zones import time_zones

TimeFormat = Literal["iso", "epoch_s", "epoch_ms", "cycle"]
TIME_FORMATS: tuple[str, ...] = get_args(TimeFormat)
READING_FIELDS = ("encoding", "delimiter", "decimal_mark")


class ReadingOptions(TypedDict):
    """How to read a CSV file (`table_open`'s arguments); None: detect."""

    encoding: str | None
    delimiter: str | None
    decimal_mark: str | None


@dataclass(frozen=True)
class ColumnMapping:
    """`time_format`: "iso" (ISO 8601; without an offset the time is local to `time_zone`, UTC
    when None), "epoch_s",
    "epoch_ms", or "cycle" (an integer sequence number, stored as 1970-01-01 + cycle seconds).
    A fleet file names its `machine_column`; a single-machine file gives `machine_name`.
    Failures come from a 0/1 `failure_column`, a `failure_mode_column` naming the mode, and/or
    `failure_mode_flags`, one 0/1 column per mode (file header -> failure mode; a list of headers
    means each header names its mode); machines/labels.py says how they combine.
    `encoding`, `delimiter` and `decimal_mark` say how to read a CSV file; None detects them."""

    time_column: str
    sensors: Mapping[str, str]  # file header -> sensor name
    time_format: TimeFormat = "iso"
    machine_column: str | None = None
    machine_name: str | None = None
    failure_column: str | None = None  # 0/1 failure flag per row (read by the labels step)
    failure_mode_column: str | None = None
    failure_mode_flags: Mapping[str, str] = field(default_factory=dict)  # file header -> failure mode
    create_unknown_machines: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)  # room for later options, kept on save
    encoding: str | None = None
    delimiter: str | None = None
    decimal_mark: str | None = None
    # Observation types (docs/metadata.md): file header -> observation label, one class per row.
    labels: Mapping[str, str] = field(default_factory=dict)
    # The IANA zone of times written without an offset (iso format); None: UTC. Filled from the
    # organization's time zone when an upload is created (machines/uploads.py).
    time_zone: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sensors"] = dict(self.sensors)
        data["extra"] = dict(self.extra)
        data["labels"] = dict(self.labels)
        data["failure_mode_flags"] = dict(self.failure_mode_flags)
        if not data["failure_mode_flags"]:  # left out when unused: mappings saved before it compare equal
            del data["failure_mode_flags"]
        for name in READING_FIELDS:  # left out when detected: mappings saved before them compare equal
            if data[name] is None:
                del data[name]
        if not data["labels"]:  # likewise
            del data["labels"]
        if data["time_zone"] is None:  # likewise
            del data["time_zone"]
        return data

    def reading(self) -> ReadingOptions:
        """How to read the file (table_open's arguments; None: detect), refused when wrong."""
        problems = _reading_problems(self)
        if problems:
            raise InvalidInput(f"The column mapping cannot be used: {problems[0]}.", code="mapping_invalid",
                               details={"problems": problems})
        return ReadingOptions(encoding=self.encoding, delimiter=self.delimiter, decimal_mark=self.decimal_mark)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnMapping:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"Unknown mapping fields: {', '.join(unknown)}.", code="mapping_invalid",
                               details={"problems": [f"unknown field '{name}'" for name in unknown]})
        flags = data.get("failure_mode_flags")
        if isinstance(flags, list | tuple) and all(isinstance(header, str) for header in flags):
            data = {**data, "failure_mode_flags": {header: header for header in flags}}  # each header names its mode
        elif flags is not None and not (isinstance(flags, Mapping)
                                        and all(isinstance(v, str) for v in [*flags, *flags.values()])):
            raise InvalidInput("failure_mode_flags must map file headers to failure modes, e.g. "
                               '{"TWF": "tool_wear_failure"}, or list headers named after their modes.',
                               code="mapping_invalid", details={"problems": ["failure_mode_flags: not a mapping"]})
        return cls(**{**data, "failure_mode_flags": dict(data.get("failure_mode_flags") or {})})

    def file_columns(self) -> list[str]:
        """Every column of the file the mapping reads, time first."""
        named = [self.time_column, self.machine_column, *self.sensors, self.failure_column,
                 self.failure_mode_column, *self.failure_mode_flags, *self.labels]
        return list(dict.fromkeys(name for name in named if name))


def mapping_problems(mapping: ColumnMapping, *, columns: Sequence[str], machine_type: MachineType) -> list[str]:
    """Everything wrong with `mapping` for a file with these `columns` and this machine type."""
    problems: list[str] = []
    present = set(columns)
    listed = names_listed(list(columns))
    roles = [("time column", mapping.time_column), ("machine column", mapping.machine_column),
             ("failure column", mapping.failure_column), ("failure-mode column", mapping.failure_mode_column)]
    named = [(f"the {role} '{header}'", header) for role, header in roles if header]
    named += [(f"the column '{header}' (sensor '{sensor}')", header) for header, sensor in mapping.sensors.items()]
    named += [(f"the column '{header}' (label '{label}')", header) for header, label in mapping.labels.items()]
    named += [(f"the failure-mode flag '{header}'", header) for header in mapping.failure_mode_flags]
    for what, header in named:
        if header not in present:
            problems.append(f"{names_listed([what], longest=80)} is not in the file (its columns: {listed})")
    problems += _reading_problems(mapping)
    if mapping.time_zone is not None and mapping.time_zone not in time_zones():
        problems.append(f"unknown time zone '{str(mapping.time_zone)[:64]}'; give an IANA name such as Europe/Berlin")
    if mapping.time_format not in TIME_FORMATS:
        problems.append(f"unknown time format '{mapping.time_format}'; expected one of {', '.join(TIME_FORMATS)}")
    if bool(mapping.machine_column) == bool(mapping.machine_name):
        problems.append("give either a machine column (fleet file) or a machine name (single-machine file)")
    if not mapping.sensors:
        problems.append("map at least one sensor column")
    problems += _sensor_problems(mapping, machine_type)
    problems += _mode_flag_problems(mapping, machine_type)
    problems += _label_problems(mapping, machine_type)
    return problems


def _label_problems(mapping: ColumnMapping, machine_type: MachineType) -> list[str]:
    known = [item["name"] for item in observation_labels(machine_type.metadata)]
    if mapping.labels and not known:
        return [f"machine type '{machine_type.key}' declares no observation labels; label columns need an "
                '"observations" type (docs/metadata.md)']
    both = [f"column '{header}' is mapped both to a sensor and to a label"
            for header in mapping.labels if header in mapping.sensors]
    return _mapped_problems(mapping.labels, known, noun="label", type_key=machine_type.key) + both


def _mapped_problems(columns: Mapping[str, str], known: Sequence[str], *, noun: str, type_key: str) -> list[str]:
    """Columns mapped to names the type does not have, or a name fed by two columns."""
    problems, seen = [], set()
    for header, name in columns.items():
        if name not in known:
            problems.append(f"column '{header}': '{name}' is not a {noun} of machine type '{type_key}' "
                            f"(its {noun}s: {', '.join(known)})")
        elif name in seen:
            problems.append(f"{noun} '{name}' is mapped from more than one column")
        seen.add(name)
    return problems


def _reading_problems(mapping: ColumnMapping) -> list[str]:
    problems = []
    if mapping.encoding is not None and mapping.encoding not in ENCODINGS:  # (a number from JSON too)
        problems.append(f"unknown encoding '{str(mapping.encoding)[:40]}'; expected one of {', '.join(ENCODINGS)}")
    if mapping.delimiter is not None and mapping.delimiter not in tuple(DELIMITERS):
        problems.append("the delimiter must be one of , ; | or a tab")
    if mapping.decimal_mark is not None and mapping.decimal_mark not in (".", ","):
        problems.append("the decimal mark must be '.' or ','")
    return problems


def _sensor_problems(mapping: ColumnMapping, machine_type: MachineType) -> list[str]:
    known = [sensor["name"] for sensor in machine_type.sensors]
    return _mapped_problems(mapping.sensors, known, noun="sensor", type_key=machine_type.key)


def _mode_flag_problems(mapping: ColumnMapping, machine_type: MachineType) -> list[str]:
    document = machine_type.metadata
    return [f"the failure-mode flag column '{header}': '{mode}' names no failure mode of machine type "
            f"'{machine_type.key}', by name or alias (known: {failure_modes_listed(document)})"
            for header, mode in mapping.failure_mode_flags.items() if failure_mode_for_label(document, mode) is None]


def mapping_validate(mapping: ColumnMapping, *, columns: Sequence[str], machine_type: MachineType) -> None:
    problems = mapping_problems(mapping, columns=columns, machine_type=machine_type)
    if problems:
        raise InvalidInput(f"The column mapping does not fit this file: {problems[0]}"
                           + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""),
                           code="mapping_invalid", details={"problems": problems})


def mapping_suggest_sensors(*, columns: Sequence[str], machine_type: MachineType) -> dict[str, str]:
    """Columns that name a sensor of the type (by name, alias or identifier)."""
    numeric = {sensor["name"] for sensor in machine_type.sensors}
    suggested: dict[str, str] = {}
    for header in columns:
        found = sensor_for_header(machine_type.metadata, header)
        if found is not None and found in numeric and found not in suggested.values():
            suggested[header] = found
    return suggested


# The usual names of the time and machine columns: a first guess, as for sensors by name.
TIME_HEADERS = {"timestamp", "time", "ts", "datetime", "date", "cycle", "time_cycles", "time_in_cycles"}
MACHINE_HEADERS = {"machine", "machine_id", "machine_name", "unit", "unit_number", "unit_id", "asset", "asset_id"}
# Compared with spaces as underscores: `Machine failure` (AI4I), `Failure Type` (its Kaggle copy).
FAILURE_HEADERS = {"failure", "failed", "machine_failure", "failure_flag", "is_failure"}
FAILURE_MODE_HEADERS = {"failure_mode", "failure_type", "mode_of_failure"}


@dataclass(frozen=True)
class ColumnsGuess:
    """Which column plays which role, guessed from the headers (None: no column looks like it)."""

    sensors: dict[str, str]  # file header -> sensor name
    time_column: str | None
    machine_column: str | None
    failure_column: str | None = None
    failure_mode_column: str | None = None
    failure_mode_flags: dict[str, str] = field(default_factory=dict)  # file header -> failure mode


def mapping_guess(*, columns: Sequence[str], machine_type: MachineType, taken: Sequence[str] = ()) -> ColumnsGuess:
    """The first guess at a file's columns that the upload form shows and `ingest_file` uses:
    sensors by name, alias or identifier; failure-mode flags by a failure mode's name or alias
    (AI4I's `TWF`); the usual names of time, machine, failure and failure-mode columns.
    Columns in `taken` (already given a role) are left out."""
    free = [column for column in columns if column not in set(taken)]
    sensors = mapping_suggest_sensors(columns=free, machine_type=machine_type)
    flags = {column: mode for column in free if column not in sensors
             and (mode := failure_mode_for_label(machine_type.metadata, column)) is not None}

    def named(names: set[str], *skip: str | None) -> str | None:
        return next((c for c in free if c not in sensors and c not in flags and c not in skip
                     and "_".join(c.strip().lower().split()) in names), None)

    time_column = named(TIME_HEADERS)
    return ColumnsGuess(sensors=sensors, time_column=time_column, machine_column=named(MACHINE_HEADERS, time_column),
                        failure_column=named(FAILURE_HEADERS), failure_mode_column=named(FAILURE_MODE_HEADERS),
                        failure_mode_flags=flags)


def mapping_complete(given: Mapping[str, Any], *, columns: Sequence[str], machine_type: MachineType) -> dict[str, Any]:
    """`given` with what it leaves out guessed like the upload form does: the sensors when it
    maps none, the time column, the machine column when it names neither a column nor a machine,
    and the failure column, failure-mode column and failure-mode flags when it leaves their keys
    out (a key given as null or empty asks for none). What it gives is kept as given."""
    mapping = dict(given)
    observations = is_observation_type(machine_type.metadata)
    if observations and not mapping.get("labels"):
        labels = {column: label for column in columns if (label := label_for_header(machine_type.metadata, column))}
        if labels:
            mapping["labels"] = labels
    taken = [mapping[role] for role in GUESSED_ROLES if mapping.get(role)]
    taken += [*(mapping.get("sensors") or {}), *(mapping.get("failure_mode_flags") or []),
              *(mapping.get("labels") or {})]
    guess = mapping_guess(columns=columns, machine_type=machine_type, taken=taken)
    # An observation type's failure flags are labels of their rows, not failure events in time.
    wanted = {"sensors": not mapping.get("sensors"), "time_column": not mapping.get("time_column"),
              "machine_column": not mapping.get("machine_column") and not mapping.get("machine_name"),
              **{name: name not in mapping and not observations for name in LABEL_ROLES}}
    for name, open_role in wanted.items():
        if open_role and getattr(guess, name):
            mapping[name] = getattr(guess, name)
    return mapping


LABEL_ROLES = ("failure_column", "failure_mode_column", "failure_mode_flags")
GUESSED_ROLES = ("time_column", "machine_column", "failure_column", "failure_mode_column")
