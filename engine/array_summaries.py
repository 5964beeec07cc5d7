"""Summaries of array cells (one test cycle's curve in one cell), one reading slot per statistic.

Uploads store an array sensor's cell as these summaries (machines/observations.py), and models read
them as features (engine/training/observations.py): both name the slots through `summary_slots`.
"""

from __future__ import annotations

import numpy as np

# Summaries of one row's array, in slot order. `segN` is the mean of the N-th of SEGMENTS equal
# parts of the array: the curve's shape in time (where a valve lags, when a pressure drops), which
# a single mean or spread cannot tell. The step statistics read the differences between
# neighbouring values: the steepest rise and fall, where they happen, and the mean absolute step
# (a switching moment that comes late, a noisy signal). Positions (`argmin`, `argmax`,
# `argrise`, `argfall`) are a share of the length.
SEGMENTS = 10
STATISTICS: tuple[str, ...] = ("mean", "std", "min", "max", "q10", "q25", "median", "q75", "q90", "slope",
                               "first", "last", "argmin", "argmax", *(f"seg{k}" for k in range(SEGMENTS)),
                               "rise", "fall", "argrise", "argfall", "step")


def summary_slots(sensor: str) -> list[str]:
    """The reading slots an array sensor's summaries are stored in."""
    return [f"{sensor}__{statistic}" for statistic in STATISTICS]


def array_summaries(matrix: np.ndarray) -> np.ndarray:
    """(rows, length) float64 -> (rows, len(STATISTICS)): every statistic of every row at once."""
    rows, length = matrix.shape
    if length == 0:
        return np.full((rows, len(STATISTICS)), np.nan)
    steps = np.arange(length, dtype=np.float64) - (length - 1) / 2
    spread = float(steps @ steps)
    centred = matrix - matrix.mean(axis=1, keepdims=True)
    slope = centred @ steps / spread if spread else np.zeros(rows)
    quantiles = np.percentile(matrix, [10, 25, 50, 75, 90], axis=1).T
    segments = [part.mean(axis=1) if part.shape[1] else matrix[:, -1]
                for part in np.array_split(matrix, SEGMENTS, axis=1)]
    steps_taken = np.diff(matrix, axis=1) if length > 1 else np.zeros((rows, 1))
    return np.column_stack([
        matrix.mean(axis=1), matrix.std(axis=1), matrix.min(axis=1), matrix.max(axis=1), quantiles, slope,
        matrix[:, 0], matrix[:, -1], matrix.argmin(axis=1) / length, matrix.argmax(axis=1) / length, *segments,
        steps_taken.max(axis=1), steps_taken.min(axis=1), steps_taken.argmax(axis=1) / length,
        steps_taken.argmin(axis=1) / length, np.abs(steps_taken).mean(axis=1),
    ])
