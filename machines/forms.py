"""Forms of the machines pages: metadata import and editing, sensor-file upload and mapping.

Forms only shape input; validation of a metadata document stays in `engine.metadata` and of a
column mapping in `machines.ingest.mapping`: the views pass what the forms build to the
services, and `problems_attach` puts the problems the services report back onto the fields.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any, cast

from django import forms

from engine.metadata import observation_labels
from machines.ingest.mapping import TIME_FORMATS, mapping_complete
from machines.models import Machine, MachineType
from tenants.time_zones import DEFAULT as DEFAULT_ZONE
from tenants.time_zones import time_zone_choices

ZONES = ("normal", "warning", "critical")
MAX_JSON_FILE_BYTES = 1_000_000


# --- machine-type metadata ------------------------------------------------------------------


class MetadataImportForm(forms.Form):
    document = forms.CharField(label="Metadata JSON", required=False, widget=forms.Textarea(attrs={"rows": 18}))
    file = forms.FileField(label="…or a .json file", required=False)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_JSON_FILE_BYTES:
                raise forms.ValidationError(f"The file is larger than {MAX_JSON_FILE_BYTES:,} bytes.")
            data["text"] = upload.read()
        elif (data.get("document") or "").strip():
            data["text"] = data["document"]
        else:
            raise forms.ValidationError("Paste a metadata document or choose a .json file.")
        return data


class MetadataJsonForm(forms.Form):
    """The advanced editor: the whole document as JSON."""

    document = forms.CharField(label="Metadata JSON", widget=forms.Textarea(attrs={"rows": 24}))


class TypeEditForm(forms.Form):
    """Name, description, each sensor's unit and ranges, each failure mode's recommendation,
    as fields named by index (`sensor_3_normal_low`), over the type's current document."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    hours_per_cycle = forms.FloatField(
        required=False, label="Hours per cycle",
        help_text="For readings counted in cycles: how long one cycle takes, so maintenance planning can turn "
                  "remaining life in cycles into days. Leave empty for readings with timestamps.")

    def __init__(self, *args: Any, document: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.original = document
        self.initial.setdefault("name", document.get("name", ""))
        self.initial.setdefault("description", document.get("description", ""))
        self.initial.setdefault("hours_per_cycle", document.get("hours_per_cycle"))
        for index, sensor in enumerate(document.get("sensors", [])):
            self._sensor_fields(index, sensor)
        for index, mode in enumerate(document.get("failure_modes", [])):
            self.fields[f"mode_{index}_recommended_action"] = forms.CharField(
                label=mode.get("label", mode["name"]), widget=forms.Textarea(attrs={"rows": 2}))
            self.initial.setdefault(f"mode_{index}_recommended_action", mode.get("recommended_action", ""))

    def _sensor_fields(self, index: int, sensor: dict[str, Any]) -> None:
        prefix = f"sensor_{index}"
        self.fields[f"{prefix}_unit"] = forms.CharField(max_length=32, required=False, label="Unit")
        self.initial.setdefault(f"{prefix}_unit", sensor.get("unit", ""))
        for zone, (low, high) in (sensor.get("ranges") or {}).items():
            for end, value in (("low", low), ("high", high)):
                name = f"{prefix}_{zone}_{end}"
                self.fields[name] = forms.FloatField(label=f"{zone} {end}")
                self.initial.setdefault(name, value)

    def sensor_rows(self) -> list[dict[str, Any]]:
        """Bound fields grouped per sensor, for a table of one row per sensor."""
        rows = []
        for index, sensor in enumerate(self.original.get("sensors", [])):
            prefix = f"sensor_{index}"
            zones = [(zone, self[f"{prefix}_{zone}_low"], self[f"{prefix}_{zone}_high"])
                     for zone in ZONES if f"{prefix}_{zone}_low" in self.fields]
            rows.append({"sensor": sensor, "unit": self[f"{prefix}_unit"], "zones": zones})
        return rows

    def mode_rows(self) -> list[dict[str, Any]]:
        return [{"mode": mode, "action": self[f"mode_{index}_recommended_action"]}
                for index, mode in enumerate(self.original.get("failure_modes", []))]

    def document(self) -> dict[str, Any]:
        """The full document with the edited values; the service validates it as a whole."""
        data, document = self.cleaned_data, copy.deepcopy(self.original)
        document["name"] = data["name"]
        if data.get("description") or "description" in document:
            document["description"] = data.get("description", "")
        document.pop("hours_per_cycle", None)
        if data.get("hours_per_cycle") is not None:
            document["hours_per_cycle"] = data["hours_per_cycle"]
        for index, sensor in enumerate(document.get("sensors", [])):
            prefix = f"sensor_{index}"
            sensor["unit"] = data.get(f"{prefix}_unit", "")
            if "ranges" in sensor:
                sensor["ranges"] = {zone: [data[f"{prefix}_{zone}_low"], data[f"{prefix}_{zone}_high"]]
                                    for zone in ZONES}
        for index, mode in enumerate(document.get("failure_modes", [])):
            mode["recommended_action"] = data[f"mode_{index}_recommended_action"]
        return document


_PATH_FIELDS = [
    (re.compile(r"^\$\.(name|description|hours_per_cycle)$"), "{0}"),
    (re.compile(r"^\$\.sensors\[(\d+)\]\.unit$"), "sensor_{0}_unit"),
    (re.compile(r"^\$\.sensors\[(\d+)\]\.ranges\.(normal|warning|critical)(\[\d\])?$"), "sensor_{0}_{1}_low"),
    (re.compile(r"^\$\.failure_modes\[(\d+)\]\.recommended_action$"), "mode_{0}_recommended_action"),
]


def problems_of(details: Any) -> list[dict[str, str]]:
    """The `[{"path", "message"}]` list a metadata error carries (empty for other errors)."""
    problems = details.get("problems", []) if isinstance(details, dict) else []
    return [p for p in problems if isinstance(p, dict) and "path" in p]


def problems_attach(form: forms.Form, problems: Sequence[dict[str, str]]) -> None:
    """Show each problem next to the field its JSON path names; the rest above the form,
    with their path."""
    for problem in problems:
        field = _field_for(problem["path"])
        if field is not None and field in form.fields:
            form.add_error(field, problem["message"])
        else:
            form.add_error(None, f"{problem['path']}: {problem['message']}")


def _field_for(path: str) -> str | None:
    for pattern, template in _PATH_FIELDS:
        match = pattern.match(path)
        if match:
            return template.format(*match.groups())
    return None


# --- sensor-file uploads ----------------------------------------------------------------------


class UploadStartForm(forms.Form):
    machine_type = forms.ModelChoiceField(
        queryset=MachineType.objects.all(), to_field_name="key", empty_label="Choose a machine type…",
        error_messages={"invalid_choice": "Unknown machine type: choose one of your machine types."})
    file = forms.FileField(help_text="CSV (, ; tab |; UTF-8 or Latin-1) or Parquet.",
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.parquet"}))


# A column's role in the mapping: the special roles, "sensor:<name>", "mode:<name>" (a 0/1
# flag column of one failure mode), or "label:<name>" (an observation type's per-row label).
ROLE_TIME, ROLE_MACHINE, ROLE_FAILURE, ROLE_FAILURE_MODE = "time", "machine", "failure", "failure_mode"
SPECIAL_ROLES = {ROLE_TIME: "time_column", ROLE_MACHINE: "machine_column", ROLE_FAILURE: "failure_column",
                 ROLE_FAILURE_MODE: "failure_mode_column"}


class MappingForm(forms.Form):
    """One select per file column (ignore / timestamp / machine id / failure flag / failure mode /
    a 0/1 flag of one failure mode / a label of an observation type's rows / a sensor of the type),
    plus the options of a `ColumnMapping`."""

    time_format = forms.ChoiceField(choices=[(f, f) for f in TIME_FORMATS], initial="iso",
                                    help_text="iso: 2026-03-01T12:00:00Z; epoch_s / epoch_ms; cycle: 1, 2, 3…")
    # Picked from the organization's machines, never typed: a typo filed readings under a
    # machine nobody meant (issue 16). A new machine is named apart, and only with creation on.
    machine_name = forms.ChoiceField(required=False, label="Machine",
                                     help_text="For a file of one machine (no machine column).")
    new_machine_name = forms.CharField(required=False, max_length=120, label="…or a new machine",
                                       help_text="Its name; needs “Create machines that do not exist yet”.")
    create_unknown_machines = forms.BooleanField(required=False, initial=False,
                                                 label="Create machines that do not exist yet")
    confirm_mapping = forms.BooleanField(required=False,
                                         label="I have checked: import the file as mapped")
    time_zone = forms.ChoiceField(required=False, label="The plant's time zone",
                                  help_text="The file's times have no offset: they are read as local times "
                                            "there. Asked once; change it later in Settings.")
    save_preset_as = forms.CharField(required=False, max_length=100, label="Save this mapping as",
                                     help_text="A name to reuse this mapping for the next file of this layout.")

    def __init__(self, *args: Any, columns: Sequence[str], machine_type: MachineType,
                 mapping: dict[str, Any] | None = None, ask_time_zone: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.columns, self.extra = list(columns), dict((mapping or {}).get("extra") or {})
        self._machine_fields(machine_type, mapping)
        if ask_time_zone:
            cast(forms.ChoiceField, self.fields["time_zone"]).choices = time_zone_choices()
            self.fields["time_zone"].required = True
            self.initial.setdefault("time_zone", DEFAULT_ZONE)
        else:
            del self.fields["time_zone"]
        choices = [("", "— ignore —"), (ROLE_TIME, "Timestamp"), (ROLE_MACHINE, "Machine id"),
                   (ROLE_FAILURE, "Failure flag (0/1)"), (ROLE_FAILURE_MODE, "Failure mode")]
        choices += [(f"mode:{mode['name']}", f"Failure flag (0/1) of {mode.get('label') or mode['name']}")
                    for mode in machine_type.metadata.get("failure_modes") or []]
        choices += [(f"label:{item['name']}", f"Label: {item.get('label') or item['name']} ({item['name']})")
                    for item in observation_labels(machine_type.metadata)]
        choices += [(f"sensor:{sensor['name']}", _sensor_choice(sensor)) for sensor in machine_type.sensors]
        roles = _roles_of(mapping) if mapping else _roles_guessed(self.columns, machine_type)
        for index, column in enumerate(self.columns):
            self.fields[f"col_{index}"] = forms.ChoiceField(choices=choices, required=False, label=column)
            self.initial.setdefault(f"col_{index}", roles.get(column, ""))
        for option in ("time_format", "create_unknown_machines"):
            if mapping and option in mapping and mapping[option] is not None:
                self.initial[option] = mapping[option]

    def _machine_fields(self, machine_type: MachineType, mapping: dict[str, Any] | None) -> None:
        names = list(Machine.objects.filter(machine_type=machine_type).values_list("name", flat=True))
        cast(forms.ChoiceField, self.fields["machine_name"]).choices = [("", "— none: the file has a machine column —"),
                                               *((name, name) for name in names)]
        saved = (mapping or {}).get("machine_name")
        if saved:  # a saved mapping's machine, or a new one's name when it no longer exists
            self.initial["machine_name" if saved in names else "new_machine_name"] = saved

    def column_fields(self) -> list[forms.BoundField]:
        return [self[f"col_{index}"] for index in range(len(self.columns))]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        picked = [(column, data.get(f"col_{index}") or "") for index, column in enumerate(self.columns)]
        for role, what in ((ROLE_TIME, "timestamp"), (ROLE_MACHINE, "machine id"), (ROLE_FAILURE, "failure flag"),
                           (ROLE_FAILURE_MODE, "failure mode")):
            count = sum(1 for _, chosen in picked if chosen == role)
            if count > 1:
                self.add_error(None, f"Choose one {what} column, not {count}.")
        if not any(chosen == ROLE_TIME for _, chosen in picked):
            self.add_error(None, "Choose the column that holds the timestamp.")
        self._machine_clean(data, has_column=any(chosen == ROLE_MACHINE for _, chosen in picked))
        return data

    def _machine_clean(self, data: dict[str, Any], *, has_column: bool) -> None:
        picked, new = data.get("machine_name") or "", (data.get("new_machine_name") or "").strip()
        if picked and new:
            self.add_error("new_machine_name", "Pick a machine or name a new one, not both.")
        elif new and not data.get("create_unknown_machines"):
            self.add_error("new_machine_name", f"{new} does not exist yet: tick “Create machines that do not "
                                               "exist yet” to create it, or pick one of your machines.")
        elif not has_column and not (picked or new):
            self.add_error("machine_name", "Pick the machine this file is from, or map its machine column.")
        elif has_column and (picked or new):
            self.add_error("machine_name", "The file has a machine column: leave the machine empty, or set "
                                           "the column to ignore.")

    def mapping(self) -> dict[str, Any]:
        """The `ColumnMapping` as a dict; the service checks it against the file and the type."""
        data = self.cleaned_data
        mapping: dict[str, Any] = {"sensors": {}, "time_format": data["time_format"],
                                   "machine_name": data.get("machine_name") or
                                   (data.get("new_machine_name") or "").strip() or None,
                                   "create_unknown_machines": bool(data.get("create_unknown_machines"))}
        for index, column in enumerate(self.columns):
            role = data.get(f"col_{index}") or ""
            if role.startswith("sensor:"):
                mapping["sensors"][column] = role.removeprefix("sensor:")
            elif role.startswith("mode:"):
                mapping.setdefault("failure_mode_flags", {})[column] = role.removeprefix("mode:")
            elif role.startswith("label:"):
                mapping.setdefault("labels", {})[column] = role.removeprefix("label:")
            elif role in SPECIAL_ROLES:
                mapping[SPECIAL_ROLES[role]] = column
        if self.extra:
            mapping["extra"] = self.extra
        return mapping


def _sensor_choice(sensor: dict[str, Any]) -> str:
    unit = f", {sensor['unit']}" if sensor.get("unit") else ""
    return f"{sensor.get('label', sensor['name'])} ({sensor['name']}{unit})"


def _roles_of(mapping: dict[str, Any]) -> dict[str, str]:
    roles = {column: f"sensor:{sensor}" for column, sensor in (mapping.get("sensors") or {}).items()}
    flags = mapping.get("failure_mode_flags") or {}
    roles.update({column: f"mode:{mode}" for column, mode in (flags.items() if isinstance(flags, dict)
                                                              else zip(flags, flags, strict=True))})
    roles.update({column: f"label:{label}" for column, label in (mapping.get("labels") or {}).items()})
    roles.update({mapping[field]: role for role, field in SPECIAL_ROLES.items() if mapping.get(field)})
    return roles


def _roles_guessed(columns: Sequence[str], machine_type: MachineType) -> dict[str, str]:
    """A first guess for a file with no saved mapping: the one `ingest_file` and the API make
    (`mapping_complete`), so an observation type's label columns are labels, not failure flags."""
    return _roles_of(mapping_complete({}, columns=columns, machine_type=machine_type))
