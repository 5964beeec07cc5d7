"""The typed machine-type schema: built once per document, and the same answers as the document."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine.metadata import (
    derived_evaluate,
    failure_mode_label,
    machine_type_schema,
    numeric_sensors,
    signal_names,
    signal_ranges,
)
from machines.library import library_get, library_list


def test_the_same_document_is_read_once_and_an_edited_one_again() -> None:
    document = library_get("ai4i-milling-machine")
    schema = machine_type_schema(document)
    assert machine_type_schema(copy.deepcopy(document)) is schema  # by content, not by identity
    edited = copy.deepcopy(document)
    edited["sensors"][0]["label"] = "Something else"
    assert machine_type_schema(edited) is not schema
    assert machine_type_schema(edited).signals[0].label == "Something else"


@pytest.mark.parametrize("key", [item["key"] for item in library_list()])
def test_every_library_type_reads_as_its_document_says(key: str) -> None:
    document = library_get(key)
    schema = machine_type_schema(document)
    assert list(schema.signal_names) == signal_names(document)
    assert [signal.name for signal in schema.numeric_sensors] == [s["name"] for s in numeric_sensors(document)]
    assert {name: {zone: list(bounds) for zone, bounds in ranges.items()}
            for name, ranges in schema.ranges.items()} == signal_ranges(document)
    assert [mode.label for mode in schema.failure_modes] == [
        failure_mode_label(document, mode["name"]) for mode in document.get("failure_modes") or []]
    assert {signal.name for signal in schema.categorical_sensors} == {
        s["name"] for s in document["sensors"] if s["kind"] == "categorical"}


def test_derived_signals_evaluate_in_order_from_compiled_formulas() -> None:
    document = library_get("ai4i-milling-machine")
    schema = machine_type_schema(document)
    assert schema.formulas, "the AI4I type derives power and temperature difference"
    values = {sensor.name: np.array([300.0, 310.0]) for sensor in schema.numeric_sensors}
    derived = schema.derived_evaluate(values)
    assert list(derived) == [name for name, _ in schema.formulas]
    for name, value in derived_evaluate(document, values).items():
        assert np.allclose(value, derived[name])


def test_a_signal_knows_its_zone_and_a_categorical_one_has_no_ranges() -> None:
    schema = machine_type_schema(library_get("ai4i-milling-machine"))
    numeric = schema.numeric_sensors[0]
    assert numeric.ranges is not None
    low, high = numeric.ranges["normal"]
    assert numeric.zone((low + high) / 2) == "normal"
    categorical = schema.categorical_sensors[0]
    assert categorical.ranges is None and categorical.categories
    with pytest.raises(ValueError, match="has no ranges"):
        categorical.zone(1.0)
