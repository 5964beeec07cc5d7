"""Failure labels taken from an upload, in the shapes people export them:

- a 0/1 failure column (`failure_column`): a flagged row is a failure;
- a failure-mode column (`failure_mode_column`): the mode of a row's failure, by name or alias
  (`TWF`, `Tool Wear Failure`); blank, `0`, `none`, `No Failure`, `normal` or `ok` mean no failure;
- one 0/1 column per mode (`failure_mode_flags`, AI4I's TWF / HDF / PWF / OSF / RNF);
- run-to-failure (each machine's last reading in the file is a failure).

A named mode implies a failure: a row whose mode column names a mode or whose mode flag is set is
a failure even where the failure column says 0 (the mode is the more specific statement; AI4I
has such rows). A flagged row naming no mode is a failure of unknown mode. Where several mode
flags are set on one row, the event takes the first in the type's list of failure modes and its
notes name them all. A run of consecutive failure rows of one machine is one failure, at its
first row, unless the mode changes within it. A value or header that names no failure mode of
the type stops the upload with the value and the known modes: nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.metadata import failure_mode_for_label, failure_modes_listed
from machines.ingest.mapping import ColumnMapping
from machines.ingest.parse import ParsedBatch
from pdm_saas.errors import InvalidInput

TRUE = {"1", "true", "1.0"}
FALSE = {"0", "false", "0.0", ""}
TRUE_FLAG, ANY_FLAG = pa.array(sorted(TRUE)), pa.array(sorted(TRUE | FALSE))
# Mode-column values meaning "no failure", compared in lower case without spaces.
NO_FAILURE = {"", "0", "0.0", "false", "none", "nofailure", "normal", "ok", "healthy"}
Array = np.ndarray


class LabelCollector:
    """Collects failure events while the readings stream past; `events()` lists them."""

    def __init__(self, mapping: ColumnMapping, document: Mapping[str, Any]) -> None:
        self.document = document
        self.flag_column = mapping.failure_column
        self.mode_column = mapping.failure_mode_column
        order = [str(mode["name"]) for mode in document.get("failure_modes") or []]
        flags = {header: self._mode_of(label, f"the failure-mode flag column '{header}'")
                 for header, label in mapping.failure_mode_flags.items()}
        self.mode_flags = sorted(flags.items(), key=lambda item: order.index(item[1]))  # the type's order
        self.run_to_failure = bool(mapping.extra.get("run_to_failure"))
        self.before: dict[int, tuple[bool, str]] = {}  # per machine: the previous row's (failed, mode)
        self.found: list[tuple[int, int, str, str]] = []  # (machine id, time in µs, failure mode, notes)
        self.last: dict[int, int] = {}  # per machine: latest time (run-to-failure)

    @property
    def labelled(self) -> bool:
        return bool(self.flag_column or self.mode_column or self.mode_flags)

    def add(self, batch: pa.RecordBatch, parsed: ParsedBatch) -> None:
        ok = parsed.ok()
        assert parsed.machine_ids is not None
        machines = parsed.machine_ids.to_numpy(zero_copy_only=False)[ok].astype(np.int64)
        times = parsed.ts_us.to_numpy(zero_copy_only=False)[ok].astype(np.int64)
        if self.labelled:
            failed, modes, notes = self._row_labels(batch, parsed)
            self._rising_edges(machines, times, failed[ok], modes[ok], notes[ok])
        if self.run_to_failure and machines.size:
            for machine in np.unique(machines):
                latest = int(times[machines == machine].max())
                self.last[int(machine)] = max(latest, self.last.get(int(machine), latest))

    def _row_labels(self, batch: pa.RecordBatch, parsed: ParsedBatch) -> tuple[Array, Array, Array]:
        """Per row of the batch: failed?, its mode ("" unknown), notes."""
        size = batch.num_rows
        failed = self._flags(batch.column(self.flag_column), parsed, self.flag_column) if self.flag_column \
            else np.zeros(size, dtype=bool)
        modes, notes = np.full(size, "", dtype=object), np.full(size, "", dtype=object)
        if self.mode_flags:
            hits = np.column_stack([self._flags(batch.column(header), parsed, header) for header, _ in self.mode_flags])
            for index in reversed(range(len(self.mode_flags))):  # the first flagged mode in the type's order wins
                modes[hits[:, index]] = self.mode_flags[index][1]
            for row in np.flatnonzero(hits.sum(axis=1) > 1):
                notes[row] = "modes flagged: " + ", ".join(m for (_, m), hit in zip(self.mode_flags, hits[row],
                                                                                      strict=True) if hit)
            failed |= hits.any(axis=1)
        if self.mode_column:
            named = self._mode_values(batch.column(self.mode_column), parsed)
            modes = np.where(named != "", named, modes)
            failed |= named != ""
        return failed, modes, notes

    def _flags(self, column: pa.Array, parsed: ParsedBatch, name: str) -> Array:
        text = pc.fill_null(pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(column, pa.string()))), "")
        bad = ~np.asarray(pc.is_in(text, value_set=ANY_FLAG).to_numpy(zero_copy_only=False), dtype=bool)
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            line, value = parsed.line(index), str(column[index].as_py())[:40]
            raise InvalidInput(
                f"The failure column '{name}' must hold 0/1/true/false; line "
                f"{line} has '{value}'. Nothing was imported.", code="bad_label", details={"line": line},
            )
        return np.asarray(pc.is_in(text, value_set=TRUE_FLAG).to_numpy(zero_copy_only=False), dtype=bool)

    def _mode_values(self, column: pa.Array, parsed: ParsedBatch) -> Array:
        """The failure mode each row names ("" for none), by name or alias; an unknown one stops the upload."""
        text = pc.fill_null(pc.utf8_trim_whitespace(pc.cast(column, pa.string())), "")
        values = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
        uniques, inverse = np.unique(values.astype(str), return_inverse=True)
        resolved = []
        for value in uniques.tolist():
            if "".join(value.casefold().split()) in NO_FAILURE:
                resolved.append("")
                continue
            line = parsed.line(int(np.flatnonzero(inverse == len(resolved))[0]))
            resolved.append(self._mode_of(value, f"the failure-mode column '{self.mode_column}' on line {line}"))
        return np.asarray(resolved, dtype=object)[inverse] if resolved else values

    def _mode_of(self, label: str, where: str) -> str:
        mode = failure_mode_for_label(self.document, label)
        if mode is None:
            known = failure_modes_listed(self.document)  # last: a long list is what a short message cuts
            raise InvalidInput(f"Nothing was imported: {where} says '{label[:40]}', which names no failure mode of "
                               f"this machine type, by name or alias. Known: {known}.",
                               code="unknown_failure_mode", details={"value": label[:40], "known": known})
        return mode

    def _rising_edges(self, machines: Array, times: Array, failed: Array, modes: Array, notes: Array) -> None:
        """A run of failure rows is one failure, at its first row; a new mode within it is another."""
        for machine in np.unique(machines):
            rows = machines == machine
            machine_failed, machine_modes = failed[rows], modes[rows]
            was_failed, was_mode = self.before.get(int(machine), (False, ""))
            failed_before = np.concatenate(([was_failed], machine_failed[:-1]))
            mode_before = np.concatenate((np.array([was_mode], dtype=object), machine_modes[:-1]))
            mode_changed = (machine_modes != "") & (mode_before != "") & (machine_modes != mode_before)
            starts = np.flatnonzero(machine_failed & (~failed_before | mode_changed))
            self.found += zip([int(machine)] * len(starts), times[rows][starts].tolist(),
                              machine_modes[starts].astype(str).tolist(), notes[rows][starts].astype(str).tolist(),
                              strict=True)
            self.before[int(machine)] = (bool(machine_failed[-1]), str(machine_modes[-1]))

    def events(self) -> list[dict[str, Any]]:
        found = [{"machine_id": m, "ts_us": t, "failure_mode": mode, "notes": notes}
                 for m, t, mode, notes in self.found]
        found += [{"machine_id": m, "ts_us": t, "failure_mode": "", "notes": ""} for m, t in self.last.items()]
        return found
