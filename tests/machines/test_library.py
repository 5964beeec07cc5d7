"""The built-in machine-type library, and JSON import / export."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from engine.metadata import derived_formulas, range_zone, signal_ranges
from engine.metadata_checks import MetadataInvalid, metadata_validate
from machines.library import (
    LIBRARY_DIR,
    MAX_IMPORT_BYTES,
    library_get,
    library_list,
    metadata_export,
    metadata_import,
)

FILES = sorted(LIBRARY_DIR.glob("*.json"))
KEYS = [path.stem for path in FILES]

REQUIRED_TYPES = {
    "induction-motor-siemens-1la7", "induction-motor-abb-m3bp", "induction-motor-weg-w22", "centrifugal-pump",
    "progressive-cavity-pump", "screw-compressor-oil-injected", "reciprocating-compressor", "cnc-spindle",
    "milling-tool-wear", "gearbox-parallel-shaft", "gearbox-planetary", "industrial-centrifugal-fan",
    "belt-conveyor", "hydraulic-press", "gas-turbine-industrial", "steam-turbine-industrial",
    "chiller-water-cooled", "transformer-oil-distribution", "turbofan-engine-cmapss", "ai4i-milling-machine",
    "wind-turbine-gearbox",
}
REQUIRED_CATEGORIES = {
    "motor", "pump", "compressor", "cnc", "gearbox", "fan", "conveyor", "press", "turbine", "chiller", "transformer",
}
# C-MAPSS has 21 sensors and 3 operational settings; a real file carries all of them.
MANY_SENSORS = {"turbofan-engine-cmapss"}

# Unit a signal must have when its name ends with the suffix (longest suffix wins). Ratios named
# `<x>_per_<y>` are skipped: their unit is a quotient the suffix alone cannot tell.
UNIT_SUFFIXES = {
    "_c": "°C", "_k": "K", "_r": "°R", "_bar": "bar", "_mbar": "mbar", "_pa": "Pa", "_kpa": "kPa", "_psia": "psia",
    "_rpm": "rpm", "_a": "A", "_v": "V", "_hz": "Hz", "_mm_s": "mm/s", "_um": "µm", "_g": "g", "_ppm": "ppm",
    "_pct": "%", "_w": "W", "_kw": "kW", "_mw": "MW", "_kva": "kVA", "_nm": "N·m", "_knm": "kN·m", "_mm": "mm",
    "_kn": "kN", "_m_s": "m/s", "_l_min": "l/min", "_l_s": "l/s", "_m3_h": "m³/h", "_m3_s": "m³/s",
    "_min_nm": "min·N·m", "_t_h": "t/h", "_kg_s": "kg/s", "_lbm_s": "lbm/s", "_min": "min", "_s": "s", "_ms": "ms",
    "_m": "m", "_kj_kwh": "kJ/kWh", "_kg_kwh": "kg/kWh", "_mm_min": "mm/min", "_m3_min": "m³/min",
}


def documents() -> list[dict[str, Any]]:
    return [library_get(key) for key in KEYS]


def test_at_least_21_types() -> None:
    assert len(FILES) >= 21
    assert len(library_list()) == len(FILES)


def test_the_types_the_issue_asks_for_are_present() -> None:
    assert REQUIRED_TYPES <= set(KEYS)


def test_categories_cover_the_machine_families() -> None:
    assert REQUIRED_CATEGORIES <= {summary["category"] for summary in library_list()}


@pytest.mark.parametrize("path", FILES, ids=KEYS)
def test_every_file_is_valid_and_named_after_its_key(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert metadata_validate(document) == []
    assert document["key"] == path.stem


@pytest.mark.parametrize("path", FILES, ids=KEYS)
def test_files_are_stored_in_export_form(path: Path) -> None:
    """So that editing a type through import / export leaves a diff of only what changed."""
    assert path.read_text(encoding="utf-8") == metadata_export(library_get(path.stem))


def test_keys_are_unique() -> None:
    keys = [json.loads(path.read_text(encoding="utf-8"))["key"] for path in FILES]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("key", KEYS)
def test_each_type_is_complete(key: str) -> None:
    document = library_get(key)
    if key not in MANY_SENSORS:
        assert 5 <= len(document["sensors"]) <= 12
    assert document["derived_signals"]
    assert 2 <= len(document["failure_modes"]) <= 5
    assert 1 <= len(document["operating_regimes"]) <= 3
    assert document["description"] and document["manufacturer_examples"]
    for mode in document["failure_modes"]:
        assert mode["symptoms"] and mode["recommended_action"]
        assert mode["repair_cost"] > 0 and mode["downtime_hours"] > 0
        # Only a failure with no precursor (AI4I's random failure) may leave its signals empty.
        assert mode["affected_signals"] or mode["name"] == "random_failure"


@pytest.mark.parametrize("key", KEYS)
def test_units_match_signal_names(key: str) -> None:
    document = library_get(key)
    for signal in [*document["sensors"], *document["derived_signals"]]:
        suffixes = [suffix for suffix in UNIT_SUFFIXES if signal["name"].endswith(suffix)]
        if suffixes and "_per_" not in signal["name"]:
            expected = UNIT_SUFFIXES[max(suffixes, key=len)]
            assert signal["unit"] == expected, f"{signal['name']} should be in {expected}, not {signal['unit']}"


@pytest.mark.parametrize("key", KEYS)
def test_operating_regimes_sit_in_the_normal_zone(key: str) -> None:
    """A regime is how the healthy machine runs, so its levels, and any derived signal computable from
    them, must read as normal; this catches ranges in the wrong unit or with a slipped digit."""
    document = library_get(key)
    ranges = signal_ranges(document)
    for regime in document["operating_regimes"]:
        values: dict[str, Any] = dict(regime["signal_levels"])
        for name, formula in derived_formulas(document):
            if formula.names <= values.keys():
                values[name] = formula.evaluate(values)
        for name, value in values.items():
            if name in ranges and not math.isnan(value):
                assert range_zone(ranges[name], value) == "normal", (regime["name"], name, value)


def test_ai4i_type_matches_the_dataset() -> None:
    document = library_get("ai4i-milling-machine")
    aliases = {alias for sensor in document["sensors"] for alias in sensor.get("aliases", [])}
    assert {"Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
            "Tool wear [min]", "Type"} <= aliases
    product_type = next(sensor for sensor in document["sensors"] if sensor["aliases"] == ["Type"])
    assert product_type["kind"] == "categorical" and product_type["categories"] == ["L", "M", "H"]
    modes = {alias for mode in document["failure_modes"] for alias in mode.get("aliases", [])}
    assert modes == {"TWF", "HDF", "PWF", "OSF", "RNF", "Random Failures"}  # the last: its Kaggle copy's words
    power = next(signal for signal in document["derived_signals"] if signal["name"] == "power_w")
    assert power["formula"] == "torque_nm * speed_rpm * 2 * pi / 60"


def test_library_list_summarises_each_type() -> None:
    summaries = library_list()
    assert summaries == sorted(summaries, key=lambda summary: (summary["category"], summary["name"]))
    motor = next(summary for summary in summaries if summary["key"] == "induction-motor-siemens-1la7")
    document = library_get("induction-motor-siemens-1la7")
    assert motor["name"] == document["name"] and motor["category"] == "motor"
    assert motor["sensor_count"] == len(document["sensors"])
    assert motor["derived_signal_count"] == len(document["derived_signals"])
    assert motor["failure_mode_count"] == len(document["failure_modes"])
    assert motor["operating_regime_count"] == len(document["operating_regimes"])


def test_library_get_returns_a_copy() -> None:
    document = library_get("centrifugal-pump")
    document["sensors"].clear()
    assert library_get("centrifugal-pump")["sensors"]


def test_unknown_key_is_a_clear_key_error() -> None:
    with pytest.raises(KeyError) as caught:
        library_get("flux-capacitor")
    assert str(caught.value).startswith("unknown machine type 'flux-capacitor'; the built-in library has: ")
    assert "centrifugal-pump" in str(caught.value)


@pytest.mark.parametrize("key", KEYS)
def test_export_then_import_gives_the_same_document(key: str) -> None:
    document = library_get(key)
    text = metadata_export(document)
    assert metadata_import(text) == document
    assert metadata_import(text.encode("utf-8")) == document
    assert metadata_export(metadata_import(text)) == text


def test_export_is_stable_pretty_and_keeps_key_order() -> None:
    document = library_get("belt-conveyor")
    text = metadata_export(document)
    assert text == metadata_export(library_get("belt-conveyor"))
    assert text.endswith("}\n") and '\n  "schema_version": 1,' in text
    assert list(json.loads(text)) == list(document)
    assert "°C" in text  # readable, not \u00b0C


def test_import_accepts_a_byte_order_mark() -> None:
    text = metadata_export(library_get("belt-conveyor"))
    assert metadata_import(b"\xef\xbb\xbf" + text.encode("utf-8"))["key"] == "belt-conveyor"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"key": "x",\n  "name" "y"}', "not valid JSON: line 2 column 10: Expecting ':' delimiter"),
        ("", "not valid JSON: line 1 column 1: Expecting value"),
        ("[1, 2]", "expected a JSON object at $, got an array"),
        ('"motor"', "expected a JSON object at $, got a string"),
        ("null", "expected a JSON object at $, got null"),
        ('{"schema_version": NaN}', "not valid JSON: NaN is not a JSON number"),
        (b"\xff\xfe{}", "not valid JSON: not UTF-8 text"),
        (" " * (MAX_IMPORT_BYTES + 1), "document is too large"),
    ],
)
def test_import_errors_are_clear(text: str | bytes, message: str) -> None:
    with pytest.raises(MetadataInvalid) as caught:
        metadata_import(text)
    [problem] = caught.value.problems
    assert problem.path == "$"
    assert problem.message.startswith(message)


def test_import_reports_validation_problems_with_paths() -> None:
    document = library_get("belt-conveyor")
    document["sensors"][0]["ranges"]["warning"] = [1, 2]
    with pytest.raises(MetadataInvalid) as caught:
        metadata_import(json.dumps(document))
    assert [problem.path for problem in caught.value.problems] == ["$.sensors[0].ranges.warning"]


DOC = Path(__file__).resolve().parents[2] / "docs" / "metadata.md"


def test_the_documented_example_is_valid() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    assert metadata_validate(json.loads(example)) == []


def test_the_documented_library_table_lists_every_type() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Built-in library", 1)[1]
    for summary in library_list():
        row = (f"| `{summary['key']}` | {summary['name']} | {summary['category']} | {summary['sensor_count']} | "
               f"{summary['derived_signal_count']} | {summary['failure_mode_count']} |")
        assert row in table
