"""Sensor forecaster: project each signal of a machine forward and say when it leaves its normal
range (enters warning) and its warning range (enters critical). No Django imports.

Methods
-------
- Local trend (no training; used when no trained model is given): a Theil-Sen line through the
  signal's last `LOCAL_WINDOW` valid points against time in hours. The slope is kept only when it
  is at least `TREND_GATE` standard errors from 0 (residual scale 1.4826 MAD), so a flat, noisy
  healthy signal projects flat. The projection is level + slope * h, so a clean ramp crosses at
  the analytic hour.
- Learned global model (`train_sensor_forecaster`): one XGBoost regressor (absolute error),
  pooled over every signal and every horizon in `HORIZONS_H`, predicting the change (value at
  t + h minus the last value) in units of the signal's normal span (1.4826 MAD on the training
  machines for signals without ranges). Features: Theil-Sen slope, level offset and slope
  t-statistic over the last 6, 24 and 48 rows, the windows' mean offset and spread, and the
  distance of the last value to both normal edges; the horizon is a feature, so one booster
  call serves every horizon. Horizons beyond the last trained one (48 h) are not projected.

Measured with this module (`train_sensor_forecaster(simulate_fleet(doc, machines=100, seed=1),
doc, seed=0)`, 80 train / 20 test machines; `metrics`). MAE in normal spans at 6 / 12 / 24 h:

| type, rows | learned | last value | local trend |
| --- | --- | --- | --- |
| motor (siemens-1la7), degrading | 0.061 / 0.103 / 0.192 | 0.070 / 0.110 / 0.195 | 0.077 / 0.115 / 0.211 |
| pump, degrading | 0.184 / 0.297 / 0.421 | 0.221 / 0.299 / 0.422 | 0.244 / 0.296 / 0.416 |
| milling (ai4i), degrading | 0.177 / 0.326 / 0.659 | 0.188 / 0.331 / 0.671 | 0.248 / 0.364 / 0.683 |
| motor, every signal and row | 0.030 / 0.043 / 0.061 | 0.033 / 0.046 / 0.065 | 0.048 / 0.066 / 0.096 |
| pump, every signal and row | 0.082 / 0.112 / 0.145 | 0.090 / 0.119 / 0.155 | 0.118 / 0.158 / 0.222 |

"Degrading": the failure mode's affected signals, origins with time to failure <= the RUL cap
(20th percentile). Leaving normal within 48 h on those windows (recall / false-crossing rate /
MAE of the hour when both say it crosses):

| type | learned | local trend |
| --- | --- | --- |
| motor | 0.09 / 0.00 / 2.3 h | 0.23 / 0.01 / 10.2 h |
| pump | 0.03 / 0.01 / 4.5 h | 0.19 / 0.05 / 12.6 h |
| milling | 0.04 / 0.00 / 1.4 h | 0.10 / 0.18 / 19.7 h |

The learned model has the lowest MAE everywhere but the pump's degrading 12-24 h, where the three
are within 0.005 (gains elsewhere 1-20%, largest at short horizons); being a
median forecast, it rarely projects a crossing: when it does, the hour is right within a few
hours. The local line catches two to five times more crossings, hours less precisely and with
more false alarms. Regime switches look like trends to a local line, and degradation shapes
accelerate late. Chosen: the learned model when one is trained for the machine type (precise,
quiet), the local trend otherwise. Crossing times are read off the projected path, linearly
interpolated between horizon points. Serving one machine (8-10 signals, 2 CPU cores shared, load
average ~6): local trend 1.6-2.6 ms, learned 4.4-8.8 ms (three Theil-Sen fits per signal and one
booster call; 0.3-0.4 ms of it is XGBoost).

History rows are rows, not hours, as in `engine.features`: train and serve at the same
sampling. Horizons are hours from the time column; the learned model assumes regular sampling
(the target at h is the row round(h / median step) ahead).

Longer than 400 lines because training and serving share the trend features: one file keeps
the forecaster trained on exactly what it is later served.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import xgboost as xgb

from engine.features import document_signals
from engine.metadata import MachineTypeLike, machine_type_schema, range_zone
from engine.splits import split_train_validation_test
from engine.training.anomaly import DEFAULT_CAP_QUANTILE, check_table
from engine.training.classifier import column_numpy, load_booster, row_hours

Array = np.ndarray
HORIZONS_H: tuple[float, ...] = (1.0, 3.0, 6.0, 12.0, 24.0, 48.0)
MAX_AHEAD_STEPS = 20_000  # steps to the longest horizon; beyond, training is refused (ValueError)
HISTORY_ROWS = 48
TREND_WINDOWS = (6, 24, 48)  # LOCAL_WINDOW among them: its fit is shared
# The learned model's inputs in words, in trend_features' order, then the horizon: what a forecast's
# `drivers` name (SHAP of the furthest horizon's projected change).
DRIVER_WORDS = [*(f"{word} over the last {window} readings" for window in TREND_WINDOWS
                  for word in ("trend", "level against the latest reading", "trend strength",
                               "mean against the latest reading", "spread")),
                "room to the low edge of normal", "room to the high edge of normal", "the horizon"]
DRIVERS = 3
LOCAL_WINDOW = 24
TREND_GATE = 3.0
DEFAULT_HORIZON_H = 168.0
PATH_POINTS = 24  # projected values returned per signal, for charts
PARAMS: dict[str, Any] = {
    "tree_method": "hist", "max_depth": 4, "learning_rate": 0.1, "subsample": 0.8, "nthread": 2,
    "objective": "reg:absoluteerror",
}


@dataclass
class ForecasterResult:
    booster: xgb.Booster  # features + horizon (hours) -> change in scales
    horizons_h: list[float]
    signals: list[str]
    scales: dict[str, float]  # unit of change per signal: the normal span, else 1.4826 MAD on training
    history_rows: int = HISTORY_ROWS
    metrics: dict[str, Any] = field(default_factory=dict)  # test machines, per method and horizon
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def horizons(self) -> list[float]:
        return self.horizons_h

    def predict_change(self, features: Array) -> Array:
        """(rows, horizons) predicted change in scales (normal spans), one booster call."""
        raw = self.booster.inplace_predict(with_horizons(features, self.horizons_h))
        return np.asarray(raw, dtype=np.float64).reshape(len(features), len(self.horizons_h))

    def save(self) -> bytes:
        """An .npz archive (no pickle): a JSON header and the booster's UBJSON bytes."""
        header = {"signals": self.signals, "scales": self.scales, "history_rows": self.history_rows,
                  "horizons": self.horizons, "metrics": self.metrics, "sizes": self.sizes}
        buffer = io.BytesIO()
        np.savez(buffer, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                 booster=np.frombuffer(bytes(self.booster.save_raw("ubj")), dtype=np.uint8))
        return buffer.getvalue()

    @classmethod
    def load(cls, raw: bytes) -> ForecasterResult:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            header = json.loads(archive["header"].tobytes().decode())
            booster = load_booster(archive["booster"].tobytes())
            booster.set_param({"nthread": 1})
        return cls(booster=booster, horizons_h=[float(h) for h in header["horizons"]],
                   signals=header["signals"], scales=header["scales"],
                   history_rows=header["history_rows"], metrics=header["metrics"], sizes=header["sizes"])


# --- the local trend and the features -------------------------------------------------------------


def theil_sen(t: Array, y: Array) -> tuple[Array, Array, Array]:
    """Per row of (n, k) times (hours, 0 = now) and values (NaN missing): slope per hour, level at
    t = 0 and the slope's standard error (inf with fewer than two distinct valid times)."""
    i, j = np.triu_indices(y.shape[1], 1)
    dt = t[:, j] - t[:, i]
    with np.errstate(invalid="ignore", divide="ignore"):
        pairs = np.where(dt > 0, (y[:, j] - y[:, i]) / np.where(dt > 0, dt, 1.0), np.nan)
        valid_pairs = ~np.isnan(pairs).all(axis=1)
        slope = np.nan_to_num(_nanmedian_rows(pairs))
        valid = ~np.isnan(y)
        level = _nanmedian_rows(y - slope[:, None] * t)
        scale = 1.4826 * _nanmedian_rows(np.abs(y - slope[:, None] * t - level[:, None]))
        count = valid.sum(axis=1)
        t_mean = np.where(valid, t, 0.0).sum(axis=1) / np.maximum(count, 1)
        sxx = np.where(valid, (t - t_mean[:, None]) ** 2, 0.0).sum(axis=1)
        se = np.where(valid_pairs & (sxx > 0), scale / np.sqrt(np.where(sxx > 0, sxx, 1.0)), np.inf)
    return slope, level, se


def _nanmedian_rows(values: Array) -> Array:
    """Row medians ignoring NaN, by one sort (np.nanmedian is ten times slower on small rows)."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = (~np.isnan(values)).sum(axis=1)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[:, None], axis=1)[:, 0]
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[:, None], axis=1)[:, 0]
    return np.where(count > 0, (low + high) / 2, np.nan)


def with_horizons(features: Array, horizons: Sequence[float]) -> Array:
    """Each row repeated once per horizon, the horizon appended as the last column (float32)."""
    rows = np.repeat(np.asarray(features, dtype=np.float32), len(horizons), axis=0)
    return np.hstack([rows, np.tile(np.asarray(horizons, dtype=np.float32), len(features))[:, None]])


def local_trend(t: Array, y: Array, fit: tuple[Array, Array, Array] | None = None) -> tuple[Array, Array]:
    """(slope, level): the gated Theil-Sen line over the last LOCAL_WINDOW columns (or a given fit)."""
    slope, level, se = fit or theil_sen(t[:, -LOCAL_WINDOW:], y[:, -LOCAL_WINDOW:])
    return np.where(np.abs(slope) >= TREND_GATE * se, slope, 0.0), level


def last_valid(y: Array) -> Array:
    found = ~np.isnan(y)
    index = y.shape[1] - 1 - np.argmax(found[:, ::-1], axis=1)
    return np.where(found.any(axis=1), y[np.arange(len(y)), index], np.nan)


def trend_features(
    t: Array, y: Array, span: Array, low: Array, high: Array,
) -> tuple[Array, Array, tuple[Array, Array, Array]]:
    """(features, last value, the LOCAL_WINDOW fit) of (n, HISTORY_ROWS) windows; span, low, high
    per row (NaN: no range)."""
    last = last_valid(y)
    columns = []
    fits = {}
    for window in TREND_WINDOWS:
        slope, level, se = fits[window] = theil_sen(t[:, -window:], y[:, -window:])
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN features
            columns += [
                slope / span, (level - last) / span, np.minimum(np.abs(slope) / se, 50.0),
                (np.nanmean(y[:, -window:], axis=1) - last) / span, np.nanstd(y[:, -window:], axis=1) / span,
            ]
    columns += [(last - low) / span, (high - last) / span]
    return np.stack(columns, axis=1), last, fits[LOCAL_WINDOW]


def signal_scales(table: pa.Table, document: MachineTypeLike, signals: Sequence[str]) -> dict[str, float]:
    ranges = machine_type_schema(document).ranges
    out = {}
    for signal in signals:
        if signal in ranges:
            low, high = ranges[signal]["normal"]
            out[signal] = float(high - low)
            continue
        values = column_numpy(table, signal).astype(np.float64)
        mad = 1.4826 * float(np.nanmedian(np.abs(values - np.nanmedian(values)))) if table.num_rows else 0.0
        out[signal] = mad if mad > 0 else 1.0
    return out


def _normal_bounds(document: MachineTypeLike, signals: Sequence[str]) -> tuple[Array, Array]:
    ranges = machine_type_schema(document).ranges
    low = np.array([ranges[s]["normal"][0] if s in ranges else np.nan for s in signals], dtype=np.float64)
    high = np.array([ranges[s]["normal"][1] if s in ranges else np.nan for s in signals], dtype=np.float64)
    return low, high


# --- training and held-out evaluation ----------------------------------------------------------------


@dataclass
class _Windows:
    """Forecast origins of many (machine, signal) series, stacked."""

    t: Array  # (n, HISTORY_ROWS) hours relative to the origin
    y: Array  # (n, HISTORY_ROWS)
    future: Array  # (n, horizons) observed value at each horizon, NaN past the run's end
    ahead: Array  # (n, max steps) observed values ahead, for crossing times
    signal: Array  # (n,) signal index
    ttf: Array  # (n,) time to failure at the origin (NaN censored)
    affected: Array  # (n,) the run's failure mode drives this signal


def _windows(
    table: pa.Table, document: MachineTypeLike, signals: list[str], mask: Array, horizons: Sequence[float],
    stride: int,
) -> _Windows:
    machines = column_numpy(table, "machine").astype(str)
    hours = row_hours(table)
    ttf = column_numpy(table, "time_to_failure_h").astype(np.float64)
    modes = column_numpy(table, "failure_mode").astype(str)
    drives = {m.name: {a.signal for a in m.affected} for m in machine_type_schema(document).failure_modes}
    values = np.stack([column_numpy(table, s).astype(np.float64) for s in signals], axis=1)
    step = float(np.median(np.diff(np.sort(hours[machines == machines[0]])))) if table.num_rows > 1 else 1.0
    offsets = np.maximum(np.round(np.asarray(horizons) / step).astype(int), 1)
    if offsets[-1] > MAX_AHEAD_STEPS:  # the (origins, steps ahead) arrays would not fit in memory
        raise ValueError(f"a {horizons[-1]:g} h forecast is {offsets[-1]:,} steps of {step * 3600:g} s ahead (at "
                         f"most {MAX_AHEAD_STEPS:,}): the forecaster's hour-scale horizons do not fit data sampled "
                         "this fast")
    parts: list[tuple[Array, ...]] = []
    for machine in np.unique(machines[mask]):
        rows = np.flatnonzero(machines == machine)
        rows = rows[np.argsort(hours[rows], kind="stable")]
        origins = np.arange(HISTORY_ROWS - 1, len(rows), stride)
        if not len(origins):
            continue
        back = origins[:, None] + np.arange(1 - HISTORY_ROWS, 1)[None, :]
        forward = origins[:, None] + np.arange(1, offsets[-1] + 1)[None, :]
        padded_hours = np.r_[hours[rows], np.full(offsets[-1], np.nan)]
        for index, signal in enumerate(signals):
            padded = np.r_[values[rows, index], np.full(offsets[-1], np.nan)]
            ahead = padded[forward]
            affected = signal in drives.get(modes[rows[0]], set())
            parts.append((
                padded_hours[back] - padded_hours[origins][:, None], padded[back], ahead[:, offsets - 1], ahead,
                np.full(len(origins), index), ttf[rows][origins], np.full(len(origins), affected),
            ))
    if not parts:
        raise ValueError(f"no machine has {HISTORY_ROWS} rows of history: simulate longer runs")
    return _Windows(*(np.concatenate([part[i] for part in parts]) for i in range(7)))


def train_sensor_forecaster(
    table: pa.Table, document: MachineTypeLike, *, seed: int = 0, horizons: Sequence[float] = HORIZONS_H,
    rounds: int = 100, stride: int = 4, params: Mapping[str, Any] | None = None, test_fraction: float = 0.2,
) -> ForecasterResult:
    """The learned global model, with held-out metrics next to the last value and the local trend."""
    signals = document_signals(document)
    check_table(table, ["machine", "ts", "time_to_failure_h", "failure_mode", *signals])
    horizons = sorted(float(h) for h in horizons)
    if not horizons or horizons[0] <= 0:
        raise ValueError("horizons must be positive hours")
    machines = column_numpy(table, "machine").astype(str)
    train, _, test = split_train_validation_test(machines, validation_fraction=0.0, test_fraction=test_fraction,
                                                 seed=seed)
    scales = signal_scales(table.filter(pa.array(train)), document, signals)
    low, high = _normal_bounds(document, signals)
    span = np.array([scales[s] for s in signals])
    windows = _windows(table, document, signals, train, horizons, stride)
    features, last, _ = trend_features(windows.t, windows.y, span[windows.signal], low[windows.signal],
                                       high[windows.signal])
    target = ((windows.future - last[:, None]) / span[windows.signal][:, None]).ravel()
    keep = ~np.isnan(target)
    dmatrix = xgb.DMatrix(with_horizons(features, horizons)[keep], target[keep])
    booster = xgb.train({**PARAMS, **(params or {}), "seed": seed}, dmatrix, rounds)
    booster.set_param({"nthread": 1})  # serving predicts a few dozen rows: threads cost more than they save
    result = ForecasterResult(booster=booster, horizons_h=horizons, signals=signals, scales=scales,
                              sizes={"train_windows": len(last), "train_machines": len(np.unique(machines[train]))})
    ttf = column_numpy(table, "time_to_failure_h").astype(np.float64)
    known = train & ~np.isnan(ttf)
    cap_h = float(np.quantile(ttf[known], DEFAULT_CAP_QUANTILE)) if known.any() else 0.0
    result.metrics = _held_out(result, _windows(table, document, signals, test, horizons, 2), span, low, high, cap_h)
    return result


def _held_out(
    result: ForecasterResult, windows: _Windows, span: Array, low: Array, high: Array, cap_h: float,
) -> dict[str, Any]:
    """MAE in normal spans per horizon and crossing-time errors, on the test machines' windows."""
    scale, lo, hi = span[windows.signal], low[windows.signal], high[windows.signal]
    features, last, fit = trend_features(windows.t, windows.y, scale, lo, hi)
    horizons = np.array(result.horizons)
    slope, level = local_trend(windows.t, windows.y, fit)
    paths = {
        "learned": last[:, None] + scale[:, None] * result.predict_change(features),
        "last_value": np.repeat(last[:, None], len(horizons), axis=1),
        "local_trend": level[:, None] + slope[:, None] * horizons[None, :],
    }
    starts = {"learned": last, "last_value": last, "local_trend": level}
    degrading = windows.affected & (np.nan_to_num(windows.ttf, nan=np.inf) <= cap_h)
    out: dict[str, Any] = {"horizons_h": horizons.tolist(), "cap_h": cap_h, "degrading_windows": int(degrading.sum())}
    for name, path in paths.items():
        error = np.abs(path - windows.future) / scale[:, None]
        out[name] = {
            "mae_all": _column_means(error, np.ones(len(error), bool)),
            "mae_degrading": _column_means(error, degrading),
            "crossing": _crossing_errors(starts[name], path, horizons, windows, lo, hi, degrading),
        }
    return out


def _column_means(error: Array, rows: Array) -> list[float | None]:
    picked = error[rows]
    return [float(np.nanmean(c)) if np.isfinite(c).any() else None for c in picked.T]


def _crossing_errors(
    start: Array, path: Array, horizons: Array, windows: _Windows, low: Array, high: Array, rows: Array,
) -> dict[str, float]:
    """Leaving normal within the last horizon, on degrading windows whose last value is normal: the
    observed first row outside normal (before the failure) against the projected path."""
    current = last_valid(windows.y)
    rows = rows & (current >= low) & (current <= high)  # NaN ahead (after the failure) counts as inside
    outside = (windows.ahead[rows] < low[rows, None]) | (windows.ahead[rows] > high[rows, None])
    steps = windows.ahead.shape[1]
    truth = np.where(outside.any(axis=1), outside.argmax(axis=1) + 1.0, np.inf) * horizons[-1] / steps
    predicted = np.array([
        _first_exit(np.r_[0.0, horizons], np.r_[s, p], lo, hi)[0]
        for s, p, lo, hi in zip(start[rows], path[rows], low[rows], high[rows], strict=True)
    ], dtype=np.float64)
    predicted = np.where(np.isnan(predicted), np.inf, predicted)
    crossed, flagged = np.isfinite(truth), np.isfinite(predicted)
    both = crossed & flagged
    return {
        "windows": float(rows.sum()), "crossings": float(crossed.sum()),
        "recall": float(both.sum() / crossed.sum()) if crossed.any() else float("nan"),
        "false_rate": float((flagged & ~crossed).sum() / (~crossed).sum()) if (~crossed).any() else float("nan"),
        "mae_h": float(np.mean(np.abs(truth[both] - predicted[both]))) if both.any() else float("nan"),
    }


# --- serving ------------------------------------------------------------------------------------------


def _first_exit(hours: Array, values: Array, low: float, high: float) -> tuple[float, str | None]:
    """(hours, side) where the piecewise-linear path first leaves [low, high]; (nan, None) if never."""
    if np.isnan(low) or np.isnan(values[0]):
        return float("nan"), None
    outside = (values < low) | (values > high)
    if not outside.any():
        return float("nan"), None
    k = int(np.argmax(outside))
    side = "high" if values[k] > high else "low"
    if k == 0:
        return 0.0, side
    bound = high if side == "high" else low
    fraction = (bound - values[k - 1]) / (values[k] - values[k - 1])
    return float(hours[k - 1] + fraction * (hours[k] - hours[k - 1])), side


def _history_matrix(
    history: pa.Table, document: MachineTypeLike, signals: list[str], rows: int,
) -> tuple[Array, Array]:
    """(t, values (signals, rows)): the last `rows` rows by time, t in hours relative to the last."""
    check_table(history, ["ts"])
    if "machine" in history.column_names and len(set(column_numpy(history, "machine").astype(str))) > 1:
        raise ValueError("history must hold one machine's rows")
    hours = row_hours(history)
    order = np.argsort(hours, kind="stable")[-rows:]
    columns = {name: column_numpy(history, name).astype(np.float64)[order]
               for name in history.column_names if name in signals}
    missing_derived = [s for s in signals if s not in columns]
    if missing_derived:
        try:
            columns.update(machine_type_schema(document).derived_evaluate(columns))  # type: ignore[arg-type]
        except (KeyError, NameError) as error:
            raise ValueError(f"history lacks signal columns {', '.join(missing_derived)}") from error
    missing = [s for s in signals if s not in columns]
    if missing:
        raise ValueError(f"history lacks signal columns {', '.join(missing)}")
    values = np.stack([np.broadcast_to(np.asarray(columns[s], dtype=np.float64), (len(order),)) for s in signals])
    t = hours[order] - hours[order][-1]
    pad = rows - len(order)
    return np.r_[np.full(pad, np.nan), t], np.hstack([np.full((len(signals), pad), np.nan), values])


def forecast_crossings(
    result: ForecasterResult | None, history: pa.Table, document: MachineTypeLike, *,
    horizon_h: float = DEFAULT_HORIZON_H, points: int = PATH_POINTS,
) -> list[dict[str, Any]]:
    """Per signal of one machine, from its recent rows (at least HISTORY_ROWS for the learned model's
    full windows): current value and zone, a projected path and the hours until it enters warning
    and critical (None beyond the horizon or without ranges), with the side crossed. JSON-ready."""
    if not horizon_h > 0:
        raise ValueError(f"horizon_h must be > 0, got {horizon_h}")
    signals = document_signals(document)
    t, values = _history_matrix(history, document, signals, result.history_rows if result else HISTORY_ROWS)
    t_rows = np.broadcast_to(t, values.shape)
    current = last_valid(values)
    low, high = _normal_bounds(document, signals)
    span = np.array([result.scales.get(s, 1.0) for s in signals]) if result else np.ones(len(signals))
    features, _, fit = trend_features(t_rows, values, span, low, high) if result else (None, None, None)
    slope, level = local_trend(t_rows, values, fit)
    grid = np.linspace(0.0, horizon_h, points + 1)[1:]
    method = "local_trend"
    path_hours, path = grid, level[:, None] + slope[:, None] * grid[None, :]
    start = level
    if result is not None and features is not None:
        method = "learned"
        horizons = np.array(result.horizons)
        path_hours = horizons[horizons <= horizon_h]
        if not len(path_hours):
            path_hours = horizons[:1]
        path = (current[:, None] + span[:, None] * result.predict_change(features))[:, : len(path_hours)]
        start = current
    ranges = machine_type_schema(document).ranges
    out = [
        _signal_forecast(signal, ranges.get(signal), float(current[i]), float(start[i]), path_hours, path[i],
                         method, float(slope[i]), min(horizon_h, float(path_hours[-1])) if result else horizon_h)
        for i, signal in enumerate(signals)
    ]
    if result is not None and features is not None:
        for item, drivers in zip(out, forecast_drivers(result, features, float(path_hours[-1])), strict=True):
            item["drivers"] = drivers
    return out


def forecast_drivers(result: ForecasterResult, features: Array, horizon_h: float) -> list[list[dict[str, Any]]]:
    """Per signal (row of trend features): what moves its projected change at `horizon_h` most,
    as SHAP values in normal spans with their share of the total |SHAP| (engine.attribution)."""
    from engine.attribution import attribute

    explained = attribute(result.booster, with_horizons(features, [horizon_h]), names=DRIVER_WORDS,
                          output="projected change, in normal spans")
    magnitude = np.abs(explained.values)
    total = np.maximum(magnitude.sum(axis=1, keepdims=True), 1e-12)
    order = np.argsort(-magnitude, axis=1)[:, :DRIVERS]
    return [[{"driver": DRIVER_WORDS[j], "contribution": round(float(magnitude[i, j] / total[i, 0]), 4),
              "shap": round(float(explained.values[i, j]), 4)} for j in order[i] if magnitude[i, j] > 0]
            for i in range(len(features))]


def _signal_forecast(
    signal: str, ranges: Mapping[str, Sequence[float]] | None, current: float, start: float, hours: Array,
    path: Array, method: str, slope: float, horizon_h: float,
) -> dict[str, Any]:
    known = not np.isnan(current)
    out: dict[str, Any] = {
        "signal": signal, "current": current if known else None,
        "zone": range_zone(ranges, current) if ranges and known else None,
        "method": method, "horizon_h": horizon_h, "trend_per_h": slope,
        "projection": [{"h": float(h), "value": None if np.isnan(v) else float(v)} for h, v in zip(hours, path,
                                                                                                  strict=True)],
        "hours_to_warning": None, "warning_side": None, "hours_to_critical": None, "critical_side": None,
    }
    if ranges is None or not known:
        return out
    line_hours, line = np.r_[0.0, hours], np.r_[start if not np.isnan(start) else current, path]
    for zone, key in (("normal", "warning"), ("warning", "critical")):
        low, high = ranges[zone]
        when, side = _first_exit(line_hours, line, float(low), float(high))
        if not np.isnan(when):
            out[f"hours_to_{key}"], out[f"{key}_side"] = when, side
    return out
