"""SDV synthesizers fitted on a simulated fleet or on a tenant's real readings, and their SDMetrics
quality report. No Django imports; sdv, torch, sdmetrics and pandas are imported inside functions,
so importing this module stays cheap for the web process.

`fit_synthesizer(table, document, kind=..., level=...)` takes the table `simulate_fleet` returns
(or real readings of the same shape) and returns a `FittedSynthesizer` whose `sample(rows, seed)`
gives a pyarrow table. Kinds: "tvae", "ctgan", "gaussian_copula" and "hybrid"; the default is
GaussianCopula at window level, chosen by measurement (below).

What is modelled
----------------
- `level="row"`: one reading per row: the categorical and numeric sensors, `regime` when the table
  has it, and two labels: `failure_mode` ("" for a censored run) and `remaining_h`, hours to the
  failure on a failing run and hours to the last observed row on a censored one (so the classifier's
  rule "drop a censored run's last horizon hours" can be applied to synthetic rows too). Derived
  signals are not modelled: they are recomputed from their formulas on the sampled sensors, so they
  always equal them. Rows carry no machine or time: SDV treats rows as independent.
- `level="window"`: one row per reading of the window-level feature table
  (`engine.features.window_features` with `WINDOW_SPEC`: the mean, std, slope and last value
  over the trailing 12 rows of every sensor and derived signal), the categorical sensors as
  categories, and the same two labels. Sampled tables also get the one-hot columns of the
  categorical sensors, so their columns match `feature_names(signals, spec)` of a classifier trained
  on them.

Both levels are fitted on at most `max_rows` rows (default 4,000), an evenly strided subsample of
the table sorted by machine and time: neighbouring readings are nearly identical (sticky regimes,
a slow load factor), and SDV's per-column mixture models and every epoch cost time linear in rows.

Range constraints: sampled sensor values are clipped to each sensor's `ranges.critical`; at window
level the mean / last of each signal that has ranges are clipped to it and std is kept >= 0. SDV's
`enforce_min_max_values` also keeps every column inside the range seen in training. Categorical
columns only take categories seen in training.

Hybrid: TVAE on normal operation, CTGAN on the failure windows. A row is in a failure window when
its run fails and `remaining_h <= failure_horizon_h`; by default that horizon is a quarter of the
median failing run's length, which covers the simulator's P-F intervals (10-30 % of a run; the
document's `pf_interval_hours` are in real hours, not in simulated steps). Sampling draws
`failure_share` of the rows (default: the share in training) from the CTGAN part.

Measured choice of the defaults
-------------------------------
`benchmarks/synthesis.py`, 50 simulated machines, synthesizers fitted on the 30 train machines
(~6,500-7,100 rows), 2 cores shared with other engineers' jobs (load 2.5-6.5, so wall seconds are
high; cpu seconds beside them). TSTR = F1 of an XGBoost trained on synthetic rows, tested on 10
held-out real machines; "real" = the same classifier trained on the real train machines.

    type, level       kind               epochs  fit s  cpu s  overall  shapes  pairs  TSTR F1 (real)
    motor, row        gaussian_copula         -    2.6    1.8    0.863   0.906  0.820   0.21 (0.86)
    motor, row        tvae                  100   27.7   22.7    0.844   0.892  0.797   0.14
    motor, row        ctgan                  50   53.3   36.8    0.707   0.848  0.567   0.00
    motor, row        hybrid             100+50   48.2   36.4    0.833   0.841  0.825   0.36
    motor, window     gaussian_copula         -    7.2    5.4    0.885   0.808  0.963   0.47 (0.86)
    motor, window     tvae                  100   76.6   59.5    0.924   0.899  0.950   0.37
    motor, window     ctgan                  50  119.1   88.0    0.693   0.766  0.620   0.05
    motor, window     hybrid             100+50   98.1   88.3    0.824   0.848  0.800   0.48
    pump, row         gaussian_copula         -    5.9    1.8    0.841   0.865  0.817   0.10 (0.84)
    pump, row         tvae                   30   22.7   12.1    0.768   0.793  0.744   0.02
    pump, row         hybrid              30+30   34.4   19.7    0.839   0.828  0.850   0.28
    pump, window      gaussian_copula         -   19.8    8.2    0.892   0.836  0.949   0.39 (0.75)
    pump, window      tvae                   30   67.1   39.6    0.857   0.822  0.892   0.06

SDV's own default (row-level TVAE, 300 epochs, every row) extrapolated from 3 timed epochs: 202 s
(motor) and 351 s (pump) of fitting. Hence the defaults: window level, because row-level synthetic
readings are independent rows that lose the failure signal (TSTR F1 0.02-0.21 for the single
models), while the classifier serves on window features anyway; GaussianCopula, because it fits in
2-20 s (TVAE at window level needs ~100 epochs to be useful and then takes 60-80 s here) and is the
best or near-best on pair trends and TSTR. TVAE (100 epochs) and the hybrid remain one argument
away; the hybrid is the best row-level choice. All synthetic data stays far below real data on
TSTR (0.4-0.5 against 0.75-0.86): train on the simulator's own fleets where possible.

Longer than 400 lines because the training frame, the SDV fit and the finishing of samples
are one round trip (what the frame encodes, `_finish` decodes) and read best side by side.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import pickle
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from engine.features import FeatureSpec, document_signals, window_features
from engine.metadata import MachineTypeLike, machine_type_schema

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("tvae", "ctgan", "gaussian_copula", "hybrid")
LEVELS = ("row", "window")
DEFAULT_KIND = "gaussian_copula"  # measured: see the module docstring; "tvae" is one argument away
DEFAULT_LEVEL = "window"
DEFAULT_EPOCHS = {"tvae": 100, "ctgan": 50}  # per neural kind; "hybrid" uses both
DEFAULT_MAX_ROWS = 4_000
DEFAULT_THREADS = 2
MIN_FAILURE_ROWS = 50
WINDOW_SPEC = FeatureSpec(windows=(12,), statistics=("mean", "std", "slope", "last"))
REMAINING = "remaining_h"
LABELS = ("failure_mode", REMAINING)
REQUIRED = ("machine", "ts", "failure_mode", "time_to_failure_h")
_TABLE = "readings"
_LOCATION_STATS = ("mean", "min", "max", "last")
_FORMAT = b"pdm-synthesizer-v1\n"

Progress = Callable[[int, str], None]


@dataclass
class FittedSynthesizer:
    """A fitted synthesizer and what it needs to sample: `models` maps a part ("all", or "normal"
    and "failure" for the hybrid) to its SDV synthesizer."""

    kind: str
    level: str
    columns: list[str]  # of sampled tables, in order
    fit_seconds: float
    epochs: int | None
    rows_fitted: int
    seed: int
    document: dict[str, Any]
    models: dict[str, Any]
    failure_share: float = 0.0
    failure_horizon_h: float | None = None
    threads: int = DEFAULT_THREADS
    provenance: dict[str, Any] = field(default_factory=dict)

    def sample(self, rows: int, seed: int = 0) -> pa.Table:
        """`rows` synthetic rows; the same seed gives the same rows."""
        if rows < 1:
            raise ValueError(f"rows must be >= 1, got {rows}")
        import pandas as pd

        with _runtime(self.threads, self.seed):
            if self.kind == "hybrid":
                failing = int(round(rows * self.failure_share))
                parts = [_sample_model(self.models["normal"], rows - failing, seed),
                         _sample_model(self.models["failure"], failing, seed + 1)]
                frame = pd.concat([part for part in parts if len(part)], ignore_index=True)
            else:
                frame = _sample_model(self.models["all"], rows, seed)
        return _finish(frame, self.document, self.level).select(self.columns)

    def save(self) -> bytes:
        """The synthesizer as bytes, for a tenant-scoped artifact. `load` unpickles: load only what
        this service saved."""
        return _FORMAT + pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, data: bytes) -> FittedSynthesizer:
        if not data.startswith(_FORMAT):
            raise ValueError("not a saved synthesizer (unknown format header)")
        import sdv  # noqa: F401  (the pickle references SDV and torch classes)

        loaded = _MovedModules(io.BytesIO(data[len(_FORMAT):])).load()
        if not isinstance(loaded, cls):
            raise ValueError("not a saved synthesizer")
        return loaded


class _MovedModules(pickle.Unpickler):
    """Reads synthesizers saved before the engine left the predictions app: their pickles name
    `predictions.synthetic.synthesizers` classes, which now live under `engine.synthetic`."""

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("predictions.synthetic."):
            module = "engine." + module.removeprefix("predictions.")
        return super().find_class(module, name)


def fit_synthesizer(
    table: pa.Table, document: MachineTypeLike, *, kind: str = DEFAULT_KIND, level: str = DEFAULT_LEVEL,
    epochs: int | None = None, seed: int = 0, max_rows: int = DEFAULT_MAX_ROWS, failure_share: float | None = None,
    failure_horizon_h: float | None = None, threads: int = DEFAULT_THREADS, progress: Progress | None = None,
) -> FittedSynthesizer:
    """Fit a synthesizer of `kind` on `table` at `level` (see the module docstring)."""
    _check_arguments(table, document, kind, level, epochs, max_rows, failure_share)
    report = progress or (lambda percent, message: None)
    started = time.perf_counter()
    report(0, "preparing the training table")
    frame = training_frame(table, document, level=level)
    document = dict(machine_type_schema(document).document)  # kept in the saved synthesizer, as written
    horizon = _failure_horizon(frame, failure_horizon_h) if kind == "hybrid" else None
    with _runtime(threads, seed):
        if kind == "hybrid":
            assert horizon is not None
            in_window = _failure_window(frame, horizon)
            if int(in_window.sum()) < MIN_FAILURE_ROWS:
                raise ValueError(
                    f"hybrid needs at least {MIN_FAILURE_ROWS} failure-window rows (failing runs, remaining_h <= "
                    f"{horizon:g} h); the table has {int(in_window.sum())}: simulate more machines or use another kind"
                )
            normal, failing = _subsample(frame[~in_window], max_rows), _subsample(frame[in_window], max_rows)
            share = float(in_window.mean()) if failure_share is None else failure_share
            models = {
                "normal": _fit_model("tvae", normal, epochs, _scaled(report, 5, 70, "normal operation (TVAE)")),
                "failure": _fit_model("ctgan", failing, epochs, _scaled(report, 70, 98, "failure windows (CTGAN)")),
            }
            rows_fitted = len(normal) + len(failing)
        else:
            fitted = _subsample(frame, max_rows)
            share, rows_fitted = 0.0, len(fitted)
            models = {"all": _fit_model(kind, fitted, epochs, _scaled(report, 5, 98, kind))}
    synthesizer = FittedSynthesizer(
        kind=kind, level=level, columns=output_columns(frame, document, level), fit_seconds=0.0,
        epochs=_epochs(kind, epochs), rows_fitted=rows_fitted, seed=seed, document=document, models=models,
        failure_share=share, failure_horizon_h=horizon, threads=threads,
        provenance={"source_rows": table.num_rows, "source_machines": len(set(_strings(table, "machine")))},
    )
    synthesizer.fit_seconds = time.perf_counter() - started
    report(100, "fitted")
    return synthesizer


QUALITY_ROWS = 5_000


def _at_most(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=0)


def quality_report(real: pa.Table, synthetic: pa.Table, document: MachineTypeLike) -> dict[str, Any]:
    """SDMetrics' quality report of `synthetic` against `real`, as plain JSON-ready values.

    `real` is either in the synthetic table's shape or raw readings (then turned into the same level's
    training frame). Scores are on the modelled columns: sensors (or window features) and labels."""
    from sdmetrics.reports import QualityReport

    level = "window" if any("__" in name for name in synthetic.column_names) else "row"
    real_frame = _as_frame(real, document, level)
    columns = [name for name in real_frame.columns if name in synthetic.column_names]
    if not columns:
        raise ValueError("the real and synthetic tables share no modelled column")
    # SDMetrics' pair trends cost (columns^2 x rows): a few thousand rows per side measure the same
    # shapes and correlations in a fraction of the time.
    real_frame = _at_most(real_frame[columns], QUALITY_ROWS)
    synthetic_frame = _at_most(_as_frame(synthetic, document, level)[columns], QUALITY_ROWS)
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(
            {_TABLE: real_frame}, {_TABLE: synthetic_frame}, {"tables": {_TABLE: _table_metadata(real_frame)}},
            verbose=False,
        )
    properties = report.get_properties().set_index("Property")["Score"]
    shapes = report.get_details("Column Shapes")
    return {
        "overall": _score(report.get_score()),
        "column_shapes": _score(properties.get("Column Shapes")),
        "column_pair_trends": _score(properties.get("Column Pair Trends")),
        "columns": {str(row.Column): _score(row.Score) for row in shapes.itertuples()},
        "level": level,
        "rows_real": len(real_frame),
        "rows_synthetic": len(synthetic_frame),
    }


# --- the training frame ---------------------------------------------------------------------------


def training_frame(table: pa.Table, document: MachineTypeLike, *, level: str) -> pd.DataFrame:
    """The table as the synthesizer models it at `level` (see the module docstring)."""
    import pandas as pd

    table = _sorted(table)
    categorical = _categorical_sensors(document)
    columns: dict[str, Any] = {name: _strings(table, name) for name in categorical}
    if level == "row":
        for sensor in machine_type_schema(document).numeric_sensors:
            columns[sensor.name] = _floats(table, sensor.name)
        if "regime" in table.column_names:
            columns["regime"] = _strings(table, "regime")
    else:
        signals = document_signals(document)
        matrix, names = window_features(_with_derived(table, document), signals=signals, spec=WINDOW_SPEC)
        columns.update({name: matrix[:, i].astype(np.float64) for i, name in enumerate(names)})
    columns["failure_mode"] = _strings(table, "failure_mode")
    columns[REMAINING] = _remaining_hours(table)
    return pd.DataFrame(columns)


def output_columns(frame: pd.DataFrame, document: MachineTypeLike, level: str) -> list[str]:
    modelled = [name for name in frame.columns if name not in LABELS]
    if level == "row":
        extra = [name for name, _ in machine_type_schema(document).formulas]
        return modelled + extra + ["failure_mode", REMAINING, "time_to_failure_h", "failed"]
    one_hot = [f"{name}__{category}" for name, categories in _categorical_sensors(document).items()
               for category in categories]
    return modelled + one_hot + ["failure_mode", REMAINING, "time_to_failure_h"]


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("machine", "ascending"), ("ts", "ascending")])


def _with_derived(table: pa.Table, document: MachineTypeLike) -> pa.Table:
    """The table with every derived signal computed from its formula (real uploads may lack them)."""
    schema = machine_type_schema(document)
    values = {sensor.name: _floats(table, sensor.name) for sensor in schema.numeric_sensors}
    for name, value in schema.derived_evaluate(values).items():
        column = pa.array(np.broadcast_to(np.asarray(value, dtype=np.float64), (table.num_rows,)), pa.float64())
        table = table.set_column(table.column_names.index(name), name, column) if name in table.column_names \
            else table.append_column(name, column)
    return table


def _remaining_hours(table: pa.Table) -> np.ndarray:
    from engine.training.classifier import remaining_observed_hours, row_hours

    ttf = _floats(table, "time_to_failure_h")
    observed = remaining_observed_hours(_strings(table, "machine"), row_hours(table))
    return np.where(np.isnan(ttf), observed, ttf)


def _subsample(frame: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """Every k-th row (the frame is sorted by machine and time), so all machines stay represented."""
    stride = max(1, math.ceil(len(frame) / max_rows))
    return frame.iloc[::stride].reset_index(drop=True)


def _failure_horizon(frame: pd.DataFrame, given: float | None) -> float:
    if given is not None:
        return float(given)
    failing = frame[frame["failure_mode"] != ""]
    if failing.empty:
        raise ValueError("hybrid needs failing runs (rows with a failure_mode); the table has none")
    # Within a run (sorted by time) remaining_h falls; it jumps up where the next run starts.
    runs = (frame[REMAINING].diff() > 0).cumsum()
    lengths = failing.groupby(runs[failing.index])[REMAINING].max()
    return 0.25 * float(np.median(lengths))


def _failure_window(frame: pd.DataFrame, horizon: float) -> np.ndarray:
    return np.asarray((frame["failure_mode"] != "") & (frame[REMAINING] <= horizon))


# --- SDV -----------------------------------------------------------------------------------------


def _fit_model(kind: str, frame: pd.DataFrame, epochs: int | None, progress: Progress) -> Any:
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer

    metadata = _metadata(frame)
    if kind == "gaussian_copula":
        model: Any = GaussianCopulaSynthesizer(metadata, enforce_min_max_values=True, default_distribution="beta")
    else:
        cls = TVAESynthesizer if kind == "tvae" else CTGANSynthesizer
        model = cls(metadata, enforce_min_max_values=True, epochs=_epochs(kind, epochs), enable_gpu=False)
    progress(0, "learning column transforms")
    with _epoch_progress(progress, _epochs(kind, epochs)):
        model.fit({_TABLE: frame})
    progress(100, "done")
    return model


def _sample_model(model: Any, rows: int, seed: int) -> pd.DataFrame:
    import pandas as pd

    if rows <= 0:
        return pd.DataFrame()
    model.reset_sampling()
    model._set_random_state(seed)  # SDV's only per-call seed; public sample() always reuses one fixed seed
    return model.sample(rows)[_TABLE]


def _metadata(frame: pd.DataFrame) -> Any:
    from sdv.metadata import Metadata

    return Metadata.load_from_dict({"tables": {_TABLE: _table_metadata(frame)}, "relationships": []})


def _table_metadata(frame: pd.DataFrame) -> dict[str, Any]:
    return {"columns": {
        name: {"sdtype": "categorical"} if frame[name].dtype == object else {"sdtype": "numerical"}
        for name in frame.columns
    }}


def _epochs(kind: str, epochs: int | None) -> int | None:
    if kind == "gaussian_copula":
        return None
    if epochs is not None:
        return epochs
    return DEFAULT_EPOCHS["tvae" if kind == "hybrid" else kind]


_CHATTY_LOGGERS = ("rdt", "copulas", "sdv", "ctgan", "SingleTableSynthesizer", "MultiTableSynthesizer")


@contextlib.contextmanager
def _runtime(threads: int, seed: int) -> Iterator[None]:
    """CPU torch with `threads` threads, seeded; joblib on threads (SDV's column transforms would
    otherwise start a process pool per call); SDV's warnings and usage log silenced."""
    import torch
    from joblib import parallel_config
    from sdv.logging.utils import disable_single_table_logger

    for name in _CHATTY_LOGGERS:  # per-column INFO lines by the hundred, in a worker's log
        logging.getLogger(name).setLevel(logging.WARNING)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    try:
        with parallel_config(backend="threading", n_jobs=threads), disable_single_table_logger(), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def _epoch_progress(progress: Progress, epochs: int | None) -> Iterator[None]:
    """Report each epoch: ctgan loops over `tqdm(range(epochs))`, the only hook it offers."""
    import ctgan.synthesizers.ctgan as ctgan_module
    import ctgan.synthesizers.tvae as tvae_module

    class _Epochs:
        def __init__(self, iterable: Any, *args: Any, **kwargs: Any) -> None:
            self.iterable = iterable

        def __iter__(self) -> Iterator[Any]:
            total = len(self.iterable)
            for done, item in enumerate(self.iterable):
                progress(5 + int(90 * done / max(total, 1)), f"epoch {done + 1} of {total}")
                yield item

        def set_description(self, *args: Any, **kwargs: Any) -> None:
            pass

    saved = ctgan_module.tqdm, tvae_module.tqdm
    ctgan_module.tqdm = tvae_module.tqdm = _Epochs  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        ctgan_module.tqdm, tvae_module.tqdm = saved


def _scaled(progress: Progress, low: int, high: int, stage: str) -> Progress:
    return lambda percent, message: progress(low + (high - low) * percent // 100, f"{stage}: {message}")


# --- after sampling --------------------------------------------------------------------------------


def _finish(frame: pd.DataFrame, document: MachineTypeLike, level: str) -> pa.Table:
    """Clip to the critical ranges, recompute what follows from the sampled columns, and convert."""
    frame = frame.reset_index(drop=True)
    schema = machine_type_schema(document)
    ranges = schema.ranges
    frame[REMAINING] = frame[REMAINING].clip(lower=0.0)
    failing = frame["failure_mode"].astype(str) != ""
    frame["time_to_failure_h"] = frame[REMAINING].where(failing, np.nan)
    if level == "row":
        for sensor in schema.numeric_sensors:
            frame[sensor.name] = frame[sensor.name].clip(*ranges[sensor.name]["critical"])
        values = {sensor.name: frame[sensor.name].to_numpy(np.float64) for sensor in schema.numeric_sensors}
        for name, value in schema.derived_evaluate(values).items():
            frame[name] = np.broadcast_to(np.asarray(value, dtype=np.float64), (len(frame),))
        frame["failed"] = failing & (frame[REMAINING] <= 0)
    else:
        for name in frame.columns:
            signal, _, stat = name.partition("__")
            statistic = stat.rsplit("_", 1)[0]
            if statistic in _LOCATION_STATS and signal in ranges:
                frame[name] = frame[name].clip(*ranges[signal]["critical"])
            elif statistic == "std":
                frame[name] = frame[name].clip(lower=0.0)
        for name, categories in _categorical_sensors(document).items():
            for category in categories:
                frame[f"{name}__{category}"] = (frame[name] == category).astype(np.float64)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _as_frame(table: pa.Table, document: MachineTypeLike, level: str) -> pd.DataFrame:
    if all(name in table.column_names for name in REQUIRED) and "machine" in table.column_names:
        return training_frame(table, document, level=level)
    frame = table.to_pandas()
    for name in frame.columns:
        if frame[name].dtype == bool:
            frame[name] = frame[name].astype(np.float64)
    return frame


def _score(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# --- checks and small helpers ------------------------------------------------------------------------


def _check_arguments(
    table: pa.Table, document: MachineTypeLike, kind: str, level: str, epochs: int | None, max_rows: int,
    failure_share: float | None,
) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    if table.num_rows == 0:
        raise ValueError("the table is empty: there is nothing to learn from")
    sensors = [sensor.name for sensor in machine_type_schema(document).sensors]
    missing = [name for name in (*REQUIRED, *sensors) if name not in table.column_names]
    if missing:
        raise ValueError(f"the table lacks columns the machine type needs: {', '.join(missing)}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if max_rows < 10:
        raise ValueError(f"max_rows must be >= 10, got {max_rows}")
    if failure_share is not None and not 0 <= failure_share <= 1:
        raise ValueError(f"failure_share must be within [0, 1], got {failure_share}")


def _categorical_sensors(document: MachineTypeLike) -> dict[str, list[str]]:
    return {sensor.name: list(sensor.categories) for sensor in machine_type_schema(document).categorical_sensors}


def _strings(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name).cast(pa.string()).fill_null("")
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def _floats(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)

