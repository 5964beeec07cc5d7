"""The configuration file: its format, its sections, and reading one from bytes.

Reading checks everything that needs no database: the size, the encoding, the JSON, the format
and version, unknown fields and every value's type and range. Each problem carries its place in
the file as a JSON path (`$.machines[2].criticality`), like the metadata checks do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pdm_saas.config_transfer import fields as f
from pdm_saas.config_transfer.fields import REQUIRED, Field, FieldProblem

FORMAT = "pdm-config"
VERSION = 1
MAX_FILE_BYTES = 5 * 1024 * 1024  # a large fleet's configuration is well under 1 MB; readings never travel here
MAX_ENTRIES = 10_000  # per section

CRITICALITY = ["low", "medium", "high", "critical"]
MACHINE_STATUS = ["active", "maintenance", "inactive", "retired"]
PRIORITY = ["low", "medium", "high", "urgent"]
PLAN_UNITS = ["days", "weeks", "months", "running_hours", "cycles"]
ITEM_KINDS = ["tick", "number", "text"]
BIG = 2_147_483_647  # a positive integer column

SECTIONS: dict[str, dict[str, Field]] = {
    "machine_types": {
        "key": Field(f.text(64, blank=False)),
        "metadata": Field(f.document),
    },
    "machines": {
        "name": Field(f.text(120, blank=False)),
        "machine_type": Field(f.text(64, blank=False)),
        "site": Field(f.text(120), ""),
        "line": Field(f.text(120), ""),
        "position": Field(f.text(120), ""),
        "serial_number": Field(f.text(120), ""),
        "criticality": Field(f.choice(CRITICALITY), "medium"),
        "downtime_cost_per_hour": Field(f.decimal(12, 2), None),
        "install_date": Field(f.day, None),
        "status": Field(f.choice(MACHINE_STATUS), "active"),
    },
    "alert_rules": {
        "machine_type": Field(f.optional_text(64), None),
        "machine": Field(f.optional_text(120), None),
        "warning_probability": Field(f.number(0, 1), 0.5),
        "critical_probability": Field(f.number(0, 1), 0.8),
        "cooldown_minutes": Field(f.integer(0, BIG), 240),
        "escalate_after_minutes": Field(f.integer(0, BIG), 60),
        "windows_k": Field(f.integer(1, 32767), 4),
        "windows_n": Field(f.integer(1, 32767), 6),
        "windows_clear": Field(f.integer(1, 32767), 6),
        "anomaly_threshold": Field(f.number(0, 1, nullable=True), 0.999),
    },
    "checklist_templates": {
        "machine_type": Field(f.text(64, blank=False)),
        "failure_mode": Field(f.text(64), ""),
        "name": Field(f.text(200, blank=False)),
        "items": Field(f.items),
    },
    "pm_plans": {
        "machine": Field(f.text(120, blank=False)),
        "title": Field(f.text(200, blank=False)),
        "description": Field(f.text(10_000), ""),
        "failure_mode": Field(f.text(64), ""),
        "priority": Field(f.choice(PRIORITY), "medium"),
        "estimated_cost": Field(f.decimal(12, 2), None),
        "estimated_downtime_hours": Field(f.decimal(8, 2), None),
        "every": Field(f.integer(1, 100_000)),
        "unit": Field(f.choice(PLAN_UNITS)),
        "start_date": Field(f.day),
        "signal": Field(f.text(64), ""),
        "threshold": Field(f.number(-1e12, 1e12, nullable=True), None),
        "lead_time_days": Field(f.integer(0, 365), 0),
        "is_active": Field(f.flag, True),
    },
}

CHECKLIST_ITEM: dict[str, Field] = {
    "text": Field(f.text(500, blank=False)),
    "required": Field(f.flag, False),
    "kind": Field(f.choice(ITEM_KINDS), "tick"),
    "unit": Field(f.text(32), ""),
    "min_value": Field(f.decimal(14, 4, signed=True), None),
    "max_value": Field(f.decimal(14, 4, signed=True), None),
}

HEADER = ("format", "version", "exported_at", "organization")

# What the people reading a report call each section.
SECTION_TITLES = {
    "machine_types": "Machine types",
    "machines": "Machines",
    "alert_rules": "Alert rules",
    "checklist_templates": "Checklist templates",
    "pm_plans": "PM plans",
}


@dataclass(frozen=True)
class Problem:
    path: str  # where in the file, as a JSON path; "$" is the file as a whole
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass
class ConfigFile:
    """A file read and checked field by field: each section's entries in their canonical form."""

    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def config_read(data: bytes) -> ConfigFile:
    """Everything about the file that needs no database; `problems` empty means it may go on."""
    parsed = ConfigFile()
    raw, problem = _json_of(data)
    if problem is not None:
        parsed.problems.append(problem)
        return parsed
    if not isinstance(raw, dict):
        parsed.problems.append(Problem("$", "The file must hold one JSON object with a \"format\" field."))
        return parsed
    parsed.problems.extend(_header_problems(raw))
    if parsed.problems:  # another format or version: its fields mean something else, say only that
        return parsed
    for name in SECTIONS:
        parsed.sections[name] = _section(raw.get(name, []), name, parsed.problems)
    return parsed


def _json_of(data: bytes) -> tuple[Any, Problem | None]:
    if len(data) > MAX_FILE_BYTES:
        return None, Problem("$", f"The file is {len(data) / 1024 / 1024:.1f} MB; a configuration file may be "
                                  f"at most {MAX_FILE_BYTES // 1024 // 1024} MB.")
    if not data.strip():
        return None, Problem("$", "The file is empty.")
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark from Windows editors is fine
    except UnicodeDecodeError as exc:
        return None, Problem("$", f"The file is not UTF-8 text (byte {exc.start} cannot be read); save it as "
                                  "UTF-8 JSON, as the export writes it.")
    try:
        return json.loads(text, parse_constant=_no_constant), None
    except json.JSONDecodeError as exc:
        return None, Problem("$", f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")
    except ValueError as exc:
        return None, Problem("$", str(exc))


def _no_constant(name: str) -> Any:
    raise ValueError(f"The file is not valid JSON: {name} is not a number JSON allows.")


def _header_problems(raw: dict[str, Any]) -> list[Problem]:
    if raw.get("format") != FORMAT:
        return [Problem("$.format", f"Not a configuration file of this application: \"format\" must be "
                                    f"\"{FORMAT}\" (found {json.dumps(raw.get('format'))}).")]
    if raw.get("version") != VERSION or isinstance(raw.get("version"), bool):
        return [Problem("$.version", f"Version {json.dumps(raw.get('version'))} of the format is not known here; "
                                     f"this application reads version {VERSION}.")]
    return [Problem(f"$.{name}", f"Unknown field \"{name}\"; the file may hold {', '.join((*HEADER, *SECTIONS))}.")
            for name in raw if name not in HEADER and name not in SECTIONS]


def _section(entries: Any, name: str, problems: list[Problem]) -> list[dict[str, Any]]:
    if not isinstance(entries, list):
        problems.append(Problem(f"$.{name}", "expected a list"))
        return []
    if len(entries) > MAX_ENTRIES:
        problems.append(Problem(f"$.{name}", f"at most {MAX_ENTRIES:,} entries"))
        return []
    read = [_entry(entry, SECTIONS[name], f"$.{name}[{index}]", problems) for index, entry in enumerate(entries)]
    if name == "checklist_templates":
        for index, template in enumerate(read):
            template["items"] = [_entry(item, CHECKLIST_ITEM, f"$.{name}[{index}].items[{position}]", problems)
                                 for position, item in enumerate(template.get("items") or [])]
    return read


def _entry(entry: Any, spec: dict[str, Field], path: str, problems: list[Problem]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        problems.append(Problem(path, "expected an object"))
        return {}
    problems.extend(Problem(f"{path}.{key}", f"Unknown field \"{key}\"; expected one of {', '.join(spec)}.")
                    for key in entry if key not in spec)
    read: dict[str, Any] = {}
    for key, rule in spec.items():
        if key not in entry:
            if rule.default is REQUIRED:
                problems.append(Problem(f"{path}.{key}", "required"))
            read[key] = rule.default
            continue
        try:
            read[key] = rule.read(entry[key])
        except FieldProblem as exc:
            problems.append(Problem(f"{path}.{key}", str(exc)))
            read[key] = None
    return read


def natural_key(section: str, entry: dict[str, Any]) -> tuple[Any, ...]:
    """How an entry is matched in the target organization: ids never cross organizations."""
    if section == "machine_types":
        return (entry.get("key"),)
    if section == "machines":
        return (entry.get("name"),)
    if section == "alert_rules":
        return ("machine", entry["machine"]) if entry.get("machine") else ("type", entry.get("machine_type"))
    if section == "checklist_templates":
        return entry.get("machine_type"), entry.get("failure_mode"), entry.get("name")
    return entry.get("machine"), entry.get("title")


def entry_label(section: str, entry: dict[str, Any]) -> str:
    """An entry in words, for the report."""
    if section == "alert_rules":
        if entry.get("machine"):
            return f"rule for machine {entry['machine']}"
        return f"rule for type {entry['machine_type']}" if entry.get("machine_type") else "default rule"
    if section == "checklist_templates":
        mode = entry.get("failure_mode") or "every work order"
        return f"{entry.get('name')} ({entry.get('machine_type')}, {mode})"
    if section == "pm_plans":
        return f"{entry.get('title')} on {entry.get('machine')}"
    return str(natural_key(section, entry)[0])


def upload_bytes(upload: Any) -> bytes:
    """An uploaded file's bytes, reading no more than one byte past the limit: a bigger file is
    refused by `config_read` without being held whole in memory."""
    return bytes(upload.read(MAX_FILE_BYTES + 1))
