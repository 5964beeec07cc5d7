"""Failure labels taken from an upload: a 0/1 failure column (with an optional failure-mode
column), or run-to-failure (each machine's last reading in the file is a failure)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from machines.ingest.mapping import ColumnMapping
from machines.ingest.parse import ParsedBatch
from pdm_saas.errors import InvalidInput

TRUE = {"1", "true", "1.0"}
FALSE = {"0", "false", "0.0", ""}


class LabelCollector:
    """Collects failure events while the readings stream past; `events()` lists them."""

    def __init__(self, mapping: ColumnMapping) -> None:
        self.flag_column = mapping.failure_column
        self.mode_column = mapping.failure_mode_column
        self.run_to_failure = bool(mapping.extra.get("run_to_failure"))
        self.flag_before: dict[int, bool] = {}  # per machine: was the previous row flagged?
        self.found: list[tuple[int, int, str]] = []  # (machine id, time in µs, failure mode)
        self.last: dict[int, int] = {}  # per machine: latest time (run-to-failure)

    def add(self, batch: pa.RecordBatch, parsed: ParsedBatch) -> None:
        ok = parsed.ok()
        assert parsed.machine_ids is not None
        machines = parsed.machine_ids.to_numpy(zero_copy_only=False)[ok].astype(np.int64)
        times = parsed.ts_us.to_numpy(zero_copy_only=False)[ok].astype(np.int64)
        if self.flag_column:
            flags = self._flags(batch.column(self.flag_column), parsed)[ok]
            modes = self._modes(batch, ok, flags.size)
            self._rising_edges(machines, times, flags, modes)
        if self.run_to_failure and machines.size:
            for machine in np.unique(machines):
                latest = int(times[machines == machine].max())
                self.last[int(machine)] = max(latest, self.last.get(int(machine), latest))

    def _flags(self, column: pa.Array, parsed: ParsedBatch) -> np.ndarray:
        text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(column, pa.string())))
        text = pc.fill_null(text, "")
        bad = ~np.isin(text.to_numpy(zero_copy_only=False), list(TRUE | FALSE))
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            line, value = parsed.line(index), str(column[index].as_py())[:40]
            raise InvalidInput(
                f"The failure column '{self.flag_column}' must hold 0/1/true/false; line "
                f"{line} has '{value}'. Nothing was imported.", code="bad_label", details={"line": line},
            )
        return np.isin(text.to_numpy(zero_copy_only=False), list(TRUE))

    def _modes(self, batch: pa.RecordBatch, ok: np.ndarray, size: int) -> np.ndarray:
        if not self.mode_column:
            return np.full(size, "", dtype=object)
        column = pc.fill_null(pc.cast(batch.column(self.mode_column), pa.string()), "")
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)[ok]

    def _rising_edges(self, machines: np.ndarray, times: np.ndarray, flags: np.ndarray, modes: np.ndarray) -> None:
        """A run of flagged rows is one failure, at its first row."""
        for machine in np.unique(machines):
            rows = machines == machine
            machine_flags = flags[rows]
            before = np.concatenate(([self.flag_before.get(int(machine), False)], machine_flags[:-1]))
            for index in np.flatnonzero(machine_flags & ~before):
                self.found.append((int(machine), int(times[rows][index]), str(modes[rows][index])))
            self.flag_before[int(machine)] = bool(machine_flags[-1])

    def events(self) -> list[dict[str, Any]]:
        found = [{"machine_id": m, "ts_us": t, "failure_mode": mode} for m, t, mode in self.found]
        found += [{"machine_id": m, "ts_us": t, "failure_mode": ""} for m, t in self.last.items()]
        return found
