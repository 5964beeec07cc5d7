"""Similar past cases (engine.explain.CaseBase): simulated training rows and the tenant's own real
failures in one base, real cases first within the similarity radius; pure and fast."""

from __future__ import annotations

import numpy as np
import pytest

from engine.explain import SIMILAR_RADIUS, CaseBase

FEATURES = 30
FAILED_AT = "2026-03-01T06:00:00+00:00"


def _simulated(seed: int = 0, rows: int = 2_000) -> tuple[CaseBase, np.ndarray]:
    """A case base from random training rows (the first 500 labelled positive) and those rows."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, FEATURES)) * np.arange(1, FEATURES + 1)
    positive = np.arange(rows) < 500
    cases = CaseBase.build(features, positive, machines=np.array([f"SIM-{i % 7}" for i in range(rows)]),
                           modes=np.array(["bearing"] * rows), time_to_failure=np.linspace(0, 48, rows),
                           importance_order=list(range(FEATURES - 1, -1, -1)), seed=seed)
    return cases, features


def _rms(cases: CaseBase, rows: np.ndarray) -> np.ndarray:
    """The distance by its definition, the slow way: (rows, cases) RMS standardised difference."""
    query = np.nan_to_num((rows[:, cases.columns] - cases.centre) / cases.scale)
    return np.sqrt(((query[:, None, :] - cases.vectors[None, :, :].astype(np.float64)) ** 2).mean(axis=2))


def test_arrays_stored_before_cases_had_a_source_load_as_simulated_and_real_ones_round_trip() -> None:
    simulated, features = _simulated()
    old = {key: value for key, value in simulated.to_arrays().items() if key not in ("source", "failed_at")}
    loaded = CaseBase.from_arrays(old)
    assert loaded.source == ["simulated"] * len(simulated) and loaded.failed_at == [None] * len(simulated)
    real = CaseBase.from_real(features[:2], like=simulated, machines=["M-1", "M-2"], modes=["winding", "bearing"],
                              hours_before=[6.0, 0.0], failed_at=[FAILED_AT, FAILED_AT])
    again = CaseBase.from_arrays(simulated.combined(real).to_arrays())
    assert again.source[-2:] == ["real", "real"] and again.failed_at[-2:] == [FAILED_AT, FAILED_AT]
    assert again.source[0] == "simulated" and again.failed_at[0] is None
    np.testing.assert_allclose(again.vectors, simulated.combined(real).vectors)


def test_real_cases_are_standardised_like_the_simulated_ones_so_distances_compare() -> None:
    simulated, features = _simulated()
    real = CaseBase.from_real(features[:1], like=simulated, machines=["M-1"], modes=["bearing"],
                              hours_before=[3.0], failed_at=[FAILED_AT])
    # The first training row is a simulated case too: as a real case it must land on the same point.
    np.testing.assert_allclose(real.vectors[0], simulated.vectors[0], atol=1e-6)
    np.testing.assert_allclose(_rms(real, features[5:6]), _rms(simulated, features[5:6])[:, :1], atol=1e-5)


def test_cases_standardised_differently_are_refused_and_none_adds_nothing() -> None:
    simulated, features = _simulated()
    other, _ = _simulated(seed=1)
    foreign = CaseBase.from_real(features[:1], like=other, machines=["M-1"], modes=["bearing"], hours_before=[1.0],
                                 failed_at=[FAILED_AT])
    with pytest.raises(ValueError, match="standardised differently"):
        simulated.combined(foreign)
    assert simulated.combined(None) is simulated


def test_nearest_matches_the_distance_by_definition_over_many_chunks() -> None:
    simulated, features = _simulated()
    rows = np.random.default_rng(7).normal(size=(12_000, FEATURES)) * np.arange(1, FEATURES + 1)
    rows[::11, 3] = np.nan  # missing values sit at the centre
    found = simulated.nearest(rows, k=3)
    expected = _rms(simulated, rows[:300])
    for row in range(300):
        best = np.sort(expected[row])[:3]
        assert [case["similarity"] for case in found[row]] == pytest.approx(np.round(1 / (1 + best), 3), abs=1e-3)
    assert len(found) == len(rows) and all(len(cases) == 3 for cases in found)
    many = simulated.nearest(rows[:50], k=12)  # past SCAN_K: a partial sort finds them
    for row in range(50):
        best = np.sort(expected[row])[:12]
        assert [case["similarity"] for case in many[row]] == pytest.approx(np.round(1 / (1 + best), 3), abs=1e-3)
    assert {case["source"] for cases in found for case in cases} == {"simulated"}


def test_a_real_case_within_the_radius_ranks_before_a_closer_simulated_one() -> None:
    simulated, features = _simulated()
    row = features[:1].copy()  # exactly the first simulated case: distance 0
    near = row.copy()
    near[0, simulated.columns] += simulated.scale * 0.8  # RMS distance 0.8: inside the radius
    real = CaseBase.from_real(near, like=simulated, machines=["Pump-7"], modes=["seal"], hours_before=[12.0],
                              failed_at=[FAILED_AT])
    first, second = simulated.combined(real).nearest(row, k=2)[0]
    assert first == {"machine": "Pump-7", "failure_mode": "seal", "hours_before_failure": 12.0,
                     "similarity": pytest.approx(1 / 1.8, abs=1e-3), "source": "real", "failed_at": FAILED_AT}
    assert second["source"] == "simulated" and second["similarity"] == 1.0


def test_a_real_case_outside_the_radius_waits_behind_closer_simulated_ones() -> None:
    simulated, features = _simulated()
    row = features[:1].copy()
    far = row.copy()
    far[0, simulated.columns] += simulated.scale * (SIMILAR_RADIUS + 0.5)
    real = CaseBase.from_real(far, like=simulated, machines=["Pump-7"], modes=["seal"], hours_before=[12.0],
                              failed_at=[FAILED_AT])
    distances = _rms(simulated, row)[0]
    closer = int((distances < SIMILAR_RADIUS + 0.5).sum())
    found = simulated.combined(real).nearest(row, k=closer + 1)[0]
    assert [case["source"] for case in found] == ["simulated"] * closer + ["real"]


def test_count_similar_counts_cases_within_the_radius_by_source() -> None:
    simulated, features = _simulated()
    real = CaseBase.from_real(features[:40], like=simulated, machines=["M-1"] * 40, modes=["bearing"] * 40,
                              hours_before=list(range(40)), failed_at=[FAILED_AT] * 40)
    both = simulated.combined(real)
    far = (np.random.default_rng(3).normal(size=(9_000, FEATURES)) + 50) * np.arange(1, FEATURES + 1)
    rows = np.concatenate([features[:200], far])  # over many chunks of DISTANCE_CELLS
    counts = both.count_similar(rows)
    expected = _rms(both, rows[:200]) <= SIMILAR_RADIUS
    assert counts.dtype.kind == "i" and counts[:200].tolist() == expected.sum(axis=1).tolist()
    assert both.count_similar(rows[:200], source="real").tolist() == expected[:, len(simulated):].sum(axis=1).tolist()
    assert counts[:200].min() >= 1  # each training row is near itself or its neighbours
    assert counts[-1000:].max() == 0  # rows 50 spreads away resemble nothing
    assert CaseBase.from_real(features[:0], like=simulated, machines=[], modes=[], hours_before=[],
                              failed_at=[]).count_similar(rows[:5]).tolist() == [0] * 5
    nearest, counted = both.similar(rows, k=2)  # both from one pass
    assert counted.tolist() == counts.tolist() and nearest == both.nearest(rows, k=2)
