"""Leakage-free train / validation / test splits: by whole machine, or by time within each machine.

Splitting rows at random would put neighbouring, nearly identical rows of one machine on both sides
and flatter every score. Assignment depends only on the set of machine ids and the seed, never on
row order. No Django imports.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def split_by_machine(machines: Array, *, test_fraction: float = 0.2, seed: int = 0) -> tuple[Array, Array]:
    """(train_mask, test_mask): every machine's rows land on one side only."""
    _, _, test = split_train_validation_test(machines, validation_fraction=0.0, test_fraction=test_fraction, seed=seed)
    return ~test, test


def split_train_validation_test(
    machines: Array, *, validation_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0,
) -> tuple[Array, Array, Array]:
    """(train, validation, test) masks by machine; validation is for choosing the decision threshold.
    Each non-zero fraction gets at least one machine while at least one is left to train on."""
    if validation_fraction < 0 or test_fraction < 0 or validation_fraction + test_fraction >= 1:
        raise ValueError("fractions must be non-negative and leave some machines to train on")
    labels, codes = np.unique(np.asarray(machines).astype(str), return_inverse=True)
    shuffled = np.random.default_rng(seed).permutation(len(labels))
    n_test = _share(len(labels), test_fraction, room=len(labels) - 1)
    n_validation = _share(len(labels), validation_fraction, room=len(labels) - 1 - n_test)
    side = np.zeros(len(labels), np.int8)  # 0 train, 1 validation, 2 test
    side[shuffled[:n_test]] = 2
    side[shuffled[n_test : n_test + n_validation]] = 1
    row_side = side[codes]
    return row_side == 0, row_side == 1, row_side == 2


def split_by_time(times: Array, machines: Array, *, cutoff_fraction: float = 0.8, gap: int = 24) -> tuple[Array, Array]:
    """(train_mask, test_mask) within each machine: its first `cutoff_fraction` of rows (by time)
    train, and test starts `gap` rows after the cutoff. The gap rows belong to neither side, so a
    test row's window (pass max(spec.windows) - 1 or more) never reaches back into training rows."""
    if not 0 < cutoff_fraction < 1 or gap < 0:
        raise ValueError("cutoff_fraction must be in (0, 1) and gap non-negative")
    _, codes = np.unique(np.asarray(machines).astype(str), return_inverse=True)
    order = np.lexsort((np.asarray(times), codes))
    sizes = np.bincount(codes)
    first = np.cumsum(sizes) - sizes  # sorted index of each machine's first row
    rank = np.empty(len(codes), np.int64)
    rank[order] = np.arange(len(codes)) - first[codes[order]]
    cutoff = np.floor(sizes * cutoff_fraction).astype(np.int64)[codes]
    return rank < cutoff, rank >= cutoff + gap


def _share(total: int, fraction: float, *, room: int) -> int:
    if fraction == 0 or room <= 0:
        return 0
    return int(min(max(1, round(total * fraction)), room))
