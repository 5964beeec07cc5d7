"""Validation of machine-type metadata documents, zones, and column-header mapping."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from engine.metadata import (
    derived_evaluate,
    header_to_identifier,
    numeric_sensors,
    range_zone,
    sensor_for_header,
    signal_names,
    signal_ranges,
)
from engine.metadata_checks import (
    MetadataInvalid,
    MetadataProblem,
    json_path,
    metadata_check,
    metadata_schema,
    metadata_validate,
)
from machines.library import library_get

ROOT = Path(__file__).resolve().parents[2]


def small_document() -> dict[str, Any]:
    """A deliberately small, valid document that each broken-document case breaks in one place."""
    return {
        "schema_version": 1,
        "key": "test-motor",
        "name": "Test motor",
        "category": "motor",
        "sensors": [
            {"name": "speed_rpm", "label": "Speed", "unit": "rpm", "kind": "numeric", "sampling_interval_s": 10,
             "ranges": {"normal": [0, 1500], "warning": [0, 1600], "critical": [0, 3000]},
             "aliases": ["Rotational speed [rpm]"]},
            {"name": "torque_nm", "label": "Torque", "unit": "N·m", "kind": "numeric", "sampling_interval_s": 10,
             "ranges": {"normal": [0, 60], "warning": [0, 70], "critical": [-10, 100]}},
            {"name": "winding_temp_c", "label": "Winding temperature", "unit": "°C", "kind": "numeric",
             "sampling_interval_s": 60, "ranges": {"normal": [40, 80], "warning": [20, 130], "critical": [-40, 180]}},
            {"name": "mode", "label": "Mode", "unit": "", "kind": "categorical", "sampling_interval_s": 60,
             "categories": ["auto", "manual"]},
        ],
        "derived_signals": [
            {"name": "power_w", "label": "Power", "unit": "W", "formula": "torque_nm * speed_rpm * 2 * pi / 60"},
            {"name": "power_kw", "label": "Power", "unit": "kW", "formula": "power_w / 1000",
             "ranges": {"normal": [0, 9], "warning": [0, 11], "critical": [0, 30]}},
        ],
        "failure_modes": [
            {"name": "overheating", "label": "Overheating",
             "affected_signals": [{"signal": "winding_temp_c", "direction": "increase",
                                   "progression": "thermal_runaway", "magnitude": 0.5}],
             "symptoms": ["Hot winding"], "recommended_action": "Clean the fins.", "repair_cost": 200,
             "downtime_hours": 2, "mean_time_to_failure_hours": 10000, "pf_interval_hours": 500},
        ],
        "operating_regimes": [
            {"name": "full_load", "label": "Full load", "share": 0.7, "signal_levels": {"speed_rpm": 1450}},
            {"name": "part_load", "label": "Part load", "share": 0.3, "signal_levels": {"torque_nm": 20}},
        ],
        "costs": {"currency": "USD", "downtime_per_hour": 500, "planned_maintenance": 200,
                  "unplanned_failure_multiplier": 3},
    }


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(metadata_schema())
    assert metadata_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_small_document_is_valid() -> None:
    document = small_document()
    assert metadata_validate(document) == []
    assert metadata_check(document) is document


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: object) -> Mutation:
    """A mutation writing `value` at a dotted path such as `sensors.0.ranges.warning`."""
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        target: Any = document
        for part in parents:
            target = target[part]
        target[last] = value
    return mutate


def _delete(path: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        target: Any = document
        for part in parents:
            target = target[part]
        del target[last]
    return mutate


RANGES_OF_MODE = {"normal": [0, 1], "warning": [0, 2], "critical": [0, 3]}

BROKEN: list[tuple[str, Mutation, str, str]] = [
    ("wrong type", _set("sensors.2.sampling_interval_s", "hot"), "$.sensors[2].sampling_interval_s",
     "expected a number, got 'hot'"),
    ("boolean is not a number", _set("costs.downtime_per_hour", True), "$.costs.downtime_per_hour",
     "expected a number, got true"),
    ("missing field", _delete("sensors.1.unit"), "$.sensors[1].unit", "required field is missing"),
    ("missing top-level field", _delete("costs"), "$.costs", "required field is missing"),
    ("unknown field", _set("sensors.0.colour", "red"), "$.sensors[0].colour", "unknown field; expected one of"),
    ("bad identifier", _set("sensors.1.name", "Torque Nm"), "$.sensors[1].name",
     "expected a safe identifier: a lowercase letter, then lowercase letters, digits or underscores, "
     "at most 63 characters, got 'Torque Nm'"),
    ("bad key", _set("key", "X"), "$.key", "expected a key of 3 to 64 characters"),
    ("bad enum", _set("sensors.0.kind", "analog"), "$.sensors[0].kind",
     "expected one of 'numeric', 'categorical'; got 'analog'"),
    ("bad category", _set("category", "robot"), "$.category", "expected one of 'motor', 'pump'"),
    ("negative cost", _set("failure_modes.0.repair_cost", -5), "$.failure_modes[0].repair_cost",
     "expected a number >= 0, got -5"),
    ("range with three numbers", _set("sensors.0.ranges.normal", [0, 1, 2]), "$.sensors[0].ranges.normal",
     "expected exactly 2 items"),
    ("empty sensor list", _set("sensors", []), "$.sensors", "expected at least 1 item(s), got 0"),
    ("duplicate category", _set("sensors.3.categories", ["auto", "auto"]), "$.sensors[3].categories",
     "expected unique items; 'auto' appears more than once"),
    ("empty label", _set("name", ""), "$.name", "expected a non-empty string"),
    ("bad currency", _set("costs.currency", "usd"), "$.costs.currency", "expected an ISO 4217 currency code"),
    ("not finite", _set("costs.planned_maintenance", math.inf), "$.costs.planned_maintenance",
     "expected a finite number, got Infinity"),
    ("reversed range", _set("sensors.2.ranges.normal", [80, 40]), "$.sensors[2].ranges.normal",
     "expected low < high, got [80, 40]"),
    ("warning not containing normal", _set("sensors.2.ranges.warning", [50, 130]), "$.sensors[2].ranges.warning",
     "warning range must contain the normal range [40, 80], got [50, 130]"),
    ("overlapping critical", _set("sensors.2.ranges.critical", [0, 120]), "$.sensors[2].ranges.critical",
     "critical range must contain the warning range [20, 130], got [0, 120]"),
    ("derived ranges are checked too", _set("derived_signals.1.ranges.warning", [1, 11]),
     "$.derived_signals[1].ranges.warning", "warning range must contain the normal range [0, 9]"),
    ("duplicate signal name", _set("derived_signals.0.name", "speed_rpm"), "$.derived_signals[0].name",
     "duplicate signal name 'speed_rpm' (already used at $.sensors[0].name)"),
    ("reserved name", _set("sensors.3.name", "pi"), "$.sensors[3].name", "'pi' is reserved by the formula language"),
    ("duplicate failure mode", _set("failure_modes", [small_document()["failure_modes"][0]] * 2),
     "$.failure_modes[1].name", "duplicate failure mode name 'overheating'"),
    ("alias used twice", _set("sensors.1.aliases", ["rotational speed[RPM]"]), "$.sensors[1].aliases[0]",
     "alias 'rotational speed[RPM]' already refers to 'speed_rpm'"),
    ("unknown signal in formula", _set("derived_signals.0.formula", "torque_nm * spead_rpm"),
     "$.derived_signals[0].formula", "unknown signal 'spead_rpm' (did you mean 'speed_rpm'?)"),
    ("forbidden function in formula", _set("derived_signals.0.formula", "open(torque_nm)"),
     "$.derived_signals[0].formula", "function 'open' is not allowed"),
    ("formula cycle", _set("derived_signals.0.formula", "power_kw * 1000"), "$.derived_signals[0].formula",
     "formula cycle: power_w -> power_kw -> power_w"),
    ("formula uses itself", _set("derived_signals.1.formula", "power_kw + 1"), "$.derived_signals[1].formula",
     "formula cycle: 'power_kw' uses itself"),
    ("formula reads a later signal", lambda document: document["derived_signals"].reverse(),
     "$.derived_signals[0].formula", "'power_w' is defined later (derived_signals[1])"),
    ("categorical in formula", _set("derived_signals.0.formula", "mode * 2"), "$.derived_signals[0].formula",
     "'mode' is a categorical sensor"),
    ("unknown affected signal", _set("failure_modes.0.affected_signals.0.signal", "winding_temp"),
     "$.failure_modes[0].affected_signals[0].signal", "unknown signal 'winding_temp'; known: speed_rpm"),
    ("categorical affected signal", _set("failure_modes.0.affected_signals.0.signal", "mode"),
     "$.failure_modes[0].affected_signals[0].signal", "'mode' is categorical"),
    ("P-F interval longer than life", _set("failure_modes.0.pf_interval_hours", 20000),
     "$.failure_modes[0].pf_interval_hours", "expected at most mean_time_to_failure_hours (10000)"),
    ("shares not summing to 1", _set("operating_regimes.1.share", 0.2), "$.operating_regimes",
     "regime shares must sum to 1 (±0.01), got 0.9"),
    ("regime level of unknown sensor", _set("operating_regimes.0.signal_levels", {"speed": 1}),
     "$.operating_regimes[0].signal_levels.speed", "unknown numeric sensor 'speed'"),
    ("regime level of categorical sensor", _set("operating_regimes.0.signal_levels", {"mode": 1}),
     "$.operating_regimes[0].signal_levels.mode", "unknown numeric sensor 'mode'"),
    ("regime level key not an identifier", _set("operating_regimes.0.signal_levels", {"Speed [rpm]": 1}),
     "$.operating_regimes[0].signal_levels['Speed [rpm]']", "expected a safe identifier"),
    ("implausible regime level", _set("operating_regimes.0.signal_levels.speed_rpm", 5000),
     "$.operating_regimes[0].signal_levels.speed_rpm",
     "level 5000 is outside the plausible (critical) range [0, 3000]"),
    ("categorical with ranges", _set("sensors.3.ranges", RANGES_OF_MODE), "$.sensors[3].ranges",
     "a categorical sensor has no ranges; remove them or change its kind"),
    ("categorical without categories", _delete("sensors.3.categories"), "$.sensors[3].categories",
     "required for a categorical sensor: the list of values it can take"),
    ("numeric with categories", _set("sensors.0.categories", ["x"]), "$.sensors[0].categories",
     "a numeric sensor has no categories; remove them or change its kind"),
    ("numeric without ranges", _delete("sensors.0.ranges"), "$.sensors[0].ranges",
     "required for a numeric sensor: normal, warning and critical ranges"),
    ("future version", _set("schema_version", 2), "$.schema_version", "unsupported schema_version 2; expected 1"),
    ("version as text", _set("schema_version", "1"), "$.schema_version", "expected 1, got '1'"),
]


@pytest.mark.parametrize(("mutate", "path", "message"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_broken_documents_name_the_path_and_what_was_expected(mutate: Mutation, path: str, message: str) -> None:
    document = small_document()
    mutate(document)
    problems = metadata_validate(document)
    assert any(problem.path == path and message in problem.message for problem in problems), problems


def test_a_future_version_gives_one_problem_not_a_cascade() -> None:
    document = {"schema_version": 2, "whatever": "v2 looks like"}
    assert metadata_validate(document) == [
        MetadataProblem("$.schema_version", "unsupported schema_version 2; expected 1"),
    ]


@pytest.mark.parametrize(("root", "got"), [([], "an array"), ("motor", "'motor'"), (None, "null"), (3, "3")])
def test_the_root_must_be_an_object(root: object, got: str) -> None:
    assert metadata_validate(root) == [MetadataProblem("$", f"expected an object, got {got}")]


def test_every_problem_is_reported_at_once() -> None:
    document = small_document()
    document["sensors"][0]["unit"] = 5
    del document["sensors"][1]["label"]
    document["costs"]["unplanned_failure_multiplier"] = 0.5
    paths = {problem.path for problem in metadata_validate(document)}
    assert paths == {"$.sensors[0].unit", "$.sensors[1].label", "$.costs.unplanned_failure_multiplier"}


def test_metadata_check_raises_with_the_problems() -> None:
    document = small_document()
    document["operating_regimes"][0]["share"] = 0.1
    with pytest.raises(MetadataInvalid) as caught:
        metadata_check(document)
    assert [problem.path for problem in caught.value.problems] == ["$.operating_regimes"]
    assert "$.operating_regimes: regime shares must sum to 1" in str(caught.value)


def test_problems_are_frozen_values() -> None:
    problem = MetadataProblem("$.key", "expected a key")
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.path = "$"  # type: ignore[misc]
    assert str(problem) == "$.key: expected a key"


def test_shares_within_tolerance_are_accepted() -> None:
    document = small_document()
    document["operating_regimes"][1]["share"] = 0.309
    assert metadata_validate(document) == []


def test_validation_does_not_change_the_document() -> None:
    document = small_document()
    before = copy.deepcopy(document)
    metadata_validate(document)
    assert document == before


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([], "$"),
        (["sensors", 2, "ranges", "warning"], "$.sensors[2].ranges.warning"),
        (["signal_levels", "Speed [rpm]"], "$.signal_levels['Speed [rpm]']"),
        (["x", "it's"], "$.x['it\\'s']"),
    ],
)
def test_json_path(parts: list[str | int], expected: str) -> None:
    assert json_path(parts) == expected


# --- zones ---------------------------------------------------------------------------------------

WINDING = {"normal": [40, 110], "warning": [20, 130], "critical": [-40, 180]}


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        (40, "normal"), (75, "normal"), (110, "normal"),
        (110.01, "warning"), (130, "warning"), (39.9, "warning"), (20, "warning"),
        (131, "critical"), (180, "critical"), (0, "critical"), (-40, "critical"),
        (180.5, "implausible"), (-41, "implausible"), (373.15, "implausible"),
    ],
)
def test_range_zone(value: float, zone: str) -> None:
    assert range_zone(WINDING, value) == zone


def test_range_zone_refuses_nan() -> None:
    with pytest.raises(ValueError, match="missing"):
        range_zone(WINDING, math.nan)


# --- document helpers --------------------------------------------------------------------------


def test_signal_helpers() -> None:
    document = small_document()
    assert signal_names(document) == ["speed_rpm", "torque_nm", "winding_temp_c", "mode", "power_w", "power_kw"]
    assert [sensor["name"] for sensor in numeric_sensors(document)] == ["speed_rpm", "torque_nm", "winding_temp_c"]
    assert set(signal_ranges(document)) == {"speed_rpm", "torque_nm", "winding_temp_c", "power_kw"}


def test_derived_signals_evaluate_in_order_on_arrays() -> None:
    results = derived_evaluate(small_document(), {"torque_nm": np.array([40.0, 0.0]), "speed_rpm": 1500.0})
    np.testing.assert_allclose(results["power_w"], [6283.185307, 0.0])
    np.testing.assert_allclose(results["power_kw"], [6.283185307, 0.0])


# --- column headers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "identifier"),
    [
        ("Air temperature [K]", "air_temperature_k"),
        ("Process temperature [K]", "process_temperature_k"),
        ("Rotational speed [rpm]", "rotational_speed_rpm"),
        ("Torque [Nm]", "torque_nm"),
        ("Tool wear [min]", "tool_wear_min"),
        ("Type", "type"),
        ("s_11", "s_11"),
        ("S11", "s11"),
        ("winding_temp_c", "winding_temp_c"),
        ("Temp. (°C)", "temp_c"),
        ("Température moteur", "temperature_moteur"),
        ("Druck (bar) ", "druck_bar"),
        ("Vibration (µm)", "vibration_um"),
        ("Fläche m²", "flache_m2"),
        ("Load %", "load_pct"),
        ("Δp [mbar]", "delta_p_mbar"),
        ("Straße", "strasse"),
        ("1st stage", "c_1st_stage"),
        ("2", "c_2"),
        ("__private__", "private"),
        ("E", "c_e"),  # `e` is the formula constant
        ("max", "c_max"),  # a formula function
        ("a--b", "a_b"),
    ],
)
def test_header_to_identifier(header: str, identifier: str) -> None:
    assert header_to_identifier(header) == identifier


@pytest.mark.parametrize("header", ["", "   ", "\t\n"])
def test_empty_headers_are_refused(header: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        header_to_identifier(header)


def test_headers_with_nothing_ascii_get_a_stable_hashed_name() -> None:
    first = header_to_identifier("温度")
    assert re.fullmatch(r"col_[0-9a-f]{8}", first)
    assert header_to_identifier("温度") == first
    assert header_to_identifier("压力") != first


@pytest.mark.parametrize("header", ["x" * 200, "Very long header " * 10, "9" * 100, "ab_" * 40])
def test_identifiers_are_always_safe_and_short(header: str) -> None:
    identifier = header_to_identifier(header)
    assert re.fullmatch(r"[a-z][a-z0-9_]{0,62}", identifier)
    assert not identifier.endswith("_")


def test_sensor_for_header_by_name_alias_and_identifier() -> None:
    document = small_document()
    assert sensor_for_header(document, "speed_rpm") == "speed_rpm"
    assert sensor_for_header(document, "Rotational speed [rpm]") == "speed_rpm"
    assert sensor_for_header(document, "  rotational SPEED  [RPM]") == "speed_rpm"
    assert sensor_for_header(document, "rotational_speed_rpm") == "speed_rpm"
    assert sensor_for_header(document, "Torque Nm") == "torque_nm"
    assert sensor_for_header(document, "Winding temp") is None
    assert sensor_for_header(document, "") is None


def test_ai4i_headers_map_to_sensors() -> None:
    document = library_get("ai4i-milling-machine")
    mapping = {header: sensor_for_header(document, header) for header in [
        "Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
        "Tool wear [min]", "UDI", "Product ID", "Machine failure",
    ]}
    assert mapping == {
        "Type": "product_type", "Air temperature [K]": "air_temp_k", "Process temperature [K]": "process_temp_k",
        "Rotational speed [rpm]": "speed_rpm", "Torque [Nm]": "torque_nm", "Tool wear [min]": "tool_wear_min",
        "UDI": None, "Product ID": None, "Machine failure": None,
    }


def test_cmapss_sensor_columns_map_to_sensors() -> None:
    document = library_get("turbofan-engine-cmapss")
    assert sensor_for_header(document, "s_11") == "ps30_psia"
    assert sensor_for_header(document, "s11") == "ps30_psia"
    assert sensor_for_header(document, "sensor 11") == "ps30_psia"
    assert sensor_for_header(document, "Ps30") == "ps30_psia"
    assert sensor_for_header(document, "setting_3") == "op_setting_3"
    mapped = {sensor_for_header(document, f"s_{number}") for number in range(1, 22)}
    assert None not in mapped and len(mapped) == 21


def test_modules_import_without_django() -> None:
    code = (
        "import sys, engine.metadata, engine.formulas, machines.library;"
        "assert not any(name == 'django' or name.startswith('django.') for name in sys.modules), 'django imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_failure_mode_label_reads_the_metadata_else_the_name():
    from engine.metadata import failure_mode_label

    document = {"failure_modes": [{"name": "bearing_wear", "label": "Drive-end bearing wear"},
                                  {"name": "misalignment"}]}
    assert failure_mode_label(document, "bearing_wear") == "Drive-end bearing wear"
    assert failure_mode_label(document, "misalignment") == "misalignment"  # no label: its name
    assert failure_mode_label(document, "rotor_bar_crack") == "rotor bar crack"  # not in the metadata
    assert failure_mode_label(document, "") == failure_mode_label({}, None) == "failure"
