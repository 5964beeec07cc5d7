"""The data-quality report of an upload, accumulated batch by batch (bounded memory).

Per sensor: missing values, out-of-range counts against the machine type's zones, summary
statistics, constant and stuck signals, and a guess at unit mistakes. Per file: unknown columns,
non-monotonic timestamps per machine, rows repeating an earlier row's machine and time
(`duplicates_in_file`; the store keeps the first of them), the time span. Everything is computed
with numpy over each batch; between batches only a few numbers per sensor and per machine are
carried, and the (machine, time) pairs seen, up to REPEAT_KEYS_LIMIT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from engine.metadata import machine_type_schema
from machines.ingest.mapping import ColumnMapping
from machines.ingest.parse import ParsedBatch

STUCK_RUN = 50  # this many identical consecutive readings of one machine: a stuck sensor
# (machine, time) pairs remembered to find repeated rows: 8 bytes each, so at most 16 MB. Past
# it, repeats of pairs not remembered are missed and the report says the count is a lower bound.
REPEAT_KEYS_LIMIT = 2_000_000
UNIT_SAMPLE = 5000  # values kept per sensor to test unit conversions on
# (from unit, to unit): conversions of a value given in `from` into `to`, for likely mistakes.
CONVERSIONS: dict[str, list[tuple[str, Any]]] = {
    "°C": [("K", lambda x: x - 273.15), ("°F", lambda x: (x - 32) / 1.8)],
    "K": [("°C", lambda x: x + 273.15)],
    "bar": [("psi", lambda x: x / 14.5038), ("kPa", lambda x: x / 100), ("MPa", lambda x: x * 10)],
    "mm/s": [("in/s", lambda x: x * 25.4)],
    "rpm": [("Hz", lambda x: x * 60)],
    "kW": [("W", lambda x: x / 1000)],
    "A": [("mA", lambda x: x / 1000)],
}


@dataclass
class SensorStats:
    unit: str
    ranges: Mapping[str, tuple[float, float]] | None
    count: int = 0
    missing: int = 0
    total: float = 0.0
    squares: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")
    zones: dict[str, int] = field(default_factory=lambda: {"normal": 0, "warning": 0, "critical": 0,
                                                           "implausible": 0})
    longest_run: int = 0
    carry: tuple[int, float, int] | None = None  # (machine id, value, run length) at the batch end
    sample: list[float] = field(default_factory=list)

    def add(self, values: np.ndarray, valid: np.ndarray, machines: np.ndarray) -> None:
        self.missing += int((~valid).sum())
        present = values[valid]
        if present.size:
            self.count += present.size
            self.total += float(present.sum(dtype=np.float64))
            self.squares += float(np.square(present, dtype=np.float64).sum())
            self.low, self.high = min(self.low, float(present.min())), max(self.high, float(present.max()))
            if self.ranges:
                self._zones(present)
            if len(self.sample) < UNIT_SAMPLE:
                self.sample += present[: UNIT_SAMPLE - len(self.sample)].astype(float).tolist()
        self._runs(values, valid, machines)

    def _zones(self, present: np.ndarray) -> None:
        assert self.ranges is not None
        inside = {zone: (present >= lo) & (present <= hi) for zone, (lo, hi) in self.ranges.items()}
        self.zones["normal"] += int(inside["normal"].sum())
        self.zones["warning"] += int((inside["warning"] & ~inside["normal"]).sum())
        self.zones["critical"] += int((inside["critical"] & ~inside["warning"]).sum())
        self.zones["implausible"] += int((~inside["critical"]).sum())

    def _runs(self, values: np.ndarray, valid: np.ndarray, machines: np.ndarray) -> None:
        """Longest run of identical consecutive readings of one machine, across batches."""
        n = values.size
        if not n:
            return
        same = np.zeros(n, dtype=bool)  # same[i]: row i repeats row i-1 (same machine, same value)
        same[1:] = (values[1:] == values[:-1]) & valid[1:] & valid[:-1] & (machines[1:] == machines[:-1])
        carried = 0
        if self.carry is not None:
            machine, value, length = self.carry
            if valid[0] and machines[0] == machine and values[0] == value:
                same[0], carried = True, length
        starts = np.flatnonzero(~same)
        lengths = np.diff(np.append(starts, n))
        lead = int(starts[0] if starts.size else n) + carried  # rows continuing the carried run
        self.longest_run = max(self.longest_run, lead, int(lengths.max()) if lengths.size else 0)
        last = int(lengths[-1]) if starts.size else lead
        self.carry = (int(machines[-1]), float(values[-1]), last)

    def report(self) -> dict[str, Any]:
        mean = self.total / self.count if self.count else None
        std = (max(self.squares / self.count - mean * mean, 0.0) ** 0.5) if mean is not None else None
        seen = self.count + self.missing
        return {
            "unit": self.unit, "count": self.count, "missing": self.missing,
            "missing_pct": round(100 * self.missing / seen, 2) if seen else 0.0,
            "min": self.low if self.count else None, "max": self.high if self.count else None,
            "mean": mean, "std": std, "zones": self.zones if self.ranges else None,
            "out_of_range": self.zones["critical"] + self.zones["implausible"] if self.ranges else 0,
            "constant": bool(self.count > 1 and self.low == self.high),
            "longest_identical_run": self.longest_run, "stuck": self.longest_run >= STUCK_RUN,
            "unit_suspect": self._unit_suspect(),
        }

    def _unit_suspect(self) -> str | None:
        """When most values are implausible but a usual conversion makes them normal: say so."""
        if not self.ranges or not self.sample:
            return None
        sample = np.array(self.sample)
        lo, hi = self.ranges["critical"]
        if np.mean((sample >= lo) & (sample <= hi)) > 0.2:
            return None
        normal_lo, normal_hi = self.ranges["warning"]
        for unit, convert in CONVERSIONS.get(self.unit, []):
            converted = convert(sample)
            if np.mean((converted >= normal_lo) & (converted <= normal_hi)) > 0.8:
                return f"values look like {unit}, not {self.unit}"
        return None


class RepeatCounter:
    """Rows whose machine and time an earlier row of the file had, in any order. Per machine a
    sorted array of the times seen; a batch is checked against it and merged in with numpy."""

    def __init__(self) -> None:
        self.seen: dict[int, np.ndarray] = {}
        self.kept = 0
        self.count = 0
        self.exact = True

    def add(self, machines: np.ndarray, times: np.ndarray) -> None:
        order = np.lexsort((times, machines))
        m, t = machines[order], times[order]
        new = np.ones(m.size, dtype=bool)
        new[1:] = (m[1:] != m[:-1]) | (t[1:] != t[:-1])
        self.count += int((~new).sum())  # repeats inside the batch
        m, t = m[new], t[new]
        starts = np.flatnonzero(np.r_[True, m[1:] != m[:-1]]) if m.size else np.zeros(0, dtype=np.int64)
        for begin, end in zip(starts, np.r_[starts[1:], m.size], strict=True):
            self._machine_add(int(m[begin]), t[begin:end])

    def _machine_add(self, machine: int, times: np.ndarray) -> None:
        """`times`: sorted, unique."""
        seen = self.seen.get(machine)
        after = seen is None or not seen.size or times[0] > seen[-1]  # time-ordered files: the usual case
        if seen is not None and not after:
            where = np.minimum(np.searchsorted(seen, times), seen.size - 1)
            repeated = seen[where] == times
            self.count += int(repeated.sum())
            times = times[~repeated]
        if self.kept + times.size > REPEAT_KEYS_LIMIT:
            self.exact = False
            return
        self.kept += times.size
        if seen is None:
            self.seen[machine] = times
        else:
            merged = np.concatenate((seen, times))
            self.seen[machine] = merged if after else np.sort(merged, kind="stable")


class QualityReport:
    """Feed it every batch with `add`; `report()` gives the JSON stored on the upload."""

    def __init__(self, *, document: dict[str, Any], mapping: ColumnMapping, columns: list[str]) -> None:
        signals = machine_type_schema(document).by_name
        self.sensors = {name: SensorStats(unit=signals[name].unit if name in signals else "",
                                          ranges=signals[name].ranges if name in signals else None)
                        for name in mapping.sensors.values()}
        self.unknown_columns = [c for c in columns if c not in set(mapping.file_columns())]
        self.last_ts: dict[int, int] = {}
        self.non_monotonic = 0
        self.repeats = RepeatCounter()
        self.first_ts: int | None = None
        self.final_ts: int | None = None

    def add(self, batch: pa.RecordBatch, parsed: ParsedBatch) -> None:
        ok = parsed.ok()
        assert parsed.machine_ids is not None
        machines = parsed.machine_ids.to_numpy(zero_copy_only=False)[ok].astype(np.int64)
        times = parsed.ts_us.to_numpy(zero_copy_only=False)[ok].astype(np.int64)
        for name, stats in self.sensors.items():
            array = parsed.values[name]
            values = array.to_numpy(zero_copy_only=False)[ok].astype(np.float64)
            valid = ~np.isnan(values)
            stats.add(values, valid, machines)
        self._times(machines, times)

    def _times(self, machines: np.ndarray, times: np.ndarray) -> None:
        if not times.size:
            return
        self.first_ts = int(times.min()) if self.first_ts is None else min(self.first_ts, int(times.min()))
        self.final_ts = int(times.max()) if self.final_ts is None else max(self.final_ts, int(times.max()))
        order = np.argsort(machines, kind="stable")  # file order within each machine
        m, t = machines[order], times[order]
        previous = np.empty_like(t)
        previous[1:] = t[:-1]
        starts = np.ones(m.size, dtype=bool)
        starts[1:] = m[1:] != m[:-1]
        for index in np.flatnonzero(starts):  # one per machine in the batch: carry the last time
            previous[index] = self.last_ts.get(int(m[index]), np.iinfo(np.int64).min)
        self.non_monotonic += int((t < previous).sum())
        self.repeats.add(machines, times)
        ends = np.append(np.flatnonzero(starts)[1:] - 1, m.size - 1)
        self.last_ts.update({int(m[i]): int(t[i]) for i in ends})

    def report(self) -> dict[str, Any]:
        def iso(us: int | None) -> str | None:
            return None if us is None else np.datetime64(us, "us").astype(str) + "Z"

        return {
            "unknown_columns": self.unknown_columns,
            "sensors": {name: stats.report() for name, stats in self.sensors.items()},
            "time": {"first": iso(self.first_ts), "last": iso(self.final_ts),
                     "non_monotonic": self.non_monotonic, "duplicates_in_file": self.repeats.count,
                     "duplicates_in_file_exact": self.repeats.exact},
            "machines_seen": len(self.last_ts),
        }
