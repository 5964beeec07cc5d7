"""The gradient-boosting learners a model search chooses between, behind one small interface.

XGBoost and LightGBM both grow trees on histograms and both give exact SHAP contributions for
their trees, so a model of either kind predicts, explains and saves the same way. A model is saved
in its library's own format (XGBoost UBJSON, LightGBM's text model), never pickled. LightGBM is
imported only when a LightGBM model is trained or loaded. No Django imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb

Array = np.ndarray
XGBOOST = "xgboost"
LIGHTGBM = "lightgbm"
LEARNERS = (XGBOOST, LIGHTGBM)
BLOB_NAMES = {XGBOOST: "model.ubj", LIGHTGBM: "model.lgb.txt"}  # each library's own format
# One thread per fit: trials run side by side, and on a busy 2-core machine one thread per model
# was many times faster than two (docs/STACK.md).
THREADS = 1


@dataclass
class TreeModel:
    """A trained booster of either library; `raw` is the library's own booster object."""

    learner: str
    raw: Any
    names: list[str]

    def predict(self, features: Array) -> Array:
        matrix = np.asarray(features, dtype=np.float32)
        if self.learner == XGBOOST:
            return np.asarray(self.raw.inplace_predict(matrix), dtype=np.float64)
        return np.asarray(self.raw.predict(matrix, num_threads=THREADS), dtype=np.float64)

    def contributions(self, features: Array) -> Array:
        """(rows, features + 1): SHAP values per feature and the bias, in the model's output units."""
        matrix = np.asarray(features, dtype=np.float32)
        if self.learner == XGBOOST:
            return np.asarray(self.raw.predict(xgb.DMatrix(matrix, feature_names=self.names), pred_contribs=True))
        return np.asarray(self.raw.predict(matrix, pred_contrib=True, num_threads=THREADS))

    def gains(self) -> dict[str, float]:
        """Total gain per feature (features never split on are absent)."""
        if self.learner == XGBOOST:
            return {name: float(value) for name, value in self.raw.get_score(importance_type="total_gain").items()
                    if isinstance(value, int | float)}
        gains = self.raw.feature_importance(importance_type="gain")
        return {name: float(g) for name, g in zip(self.names, gains, strict=True) if g > 0}

    def to_bytes(self) -> bytes:
        if self.learner == XGBOOST:
            return bytes(self.raw.save_raw("ubj"))
        return str(self.raw.model_to_string()).encode()

    @classmethod
    def from_bytes(cls, learner: str, raw: bytes | bytearray, names: Sequence[str]) -> TreeModel:
        if learner == XGBOOST:
            booster = xgb.Booster()
            booster.load_model(bytearray(raw))
            booster.set_param({"nthread": THREADS})
            return cls(learner, booster, list(names))
        import lightgbm as lgb

        return cls(learner, lgb.Booster(model_str=bytes(raw).decode()), list(names))

    @property
    def blob_name(self) -> str:
        return BLOB_NAMES[self.learner]


def fit(learner: str, objective: str, params: Mapping[str, Any], features: Array, target: Array, names: Sequence[str],
        *, rounds: int, seed: int, weights: Array | None = None, valid: tuple[Array, Array] | None = None,
        early_stopping: int = 0) -> tuple[TreeModel, int]:
    """Train one booster; with `valid` and `early_stopping`, stop when the validation loss has not
    improved for that many rounds. Returns the model and the rounds it kept."""
    if learner == XGBOOST:
        return _fit_xgboost(objective, params, features, target, names, rounds=rounds, seed=seed, weights=weights,
                            valid=valid, early_stopping=early_stopping)
    if learner == LIGHTGBM:
        return _fit_lightgbm(objective, params, features, target, names, rounds=rounds, seed=seed, weights=weights,
                             valid=valid, early_stopping=early_stopping)
    raise ValueError(f"unknown learner {learner!r}; known: {', '.join(LEARNERS)}")


# Objectives by what they do, in each library's words.
_XGB_OBJECTIVES = {"regression": "reg:squarederror", "binary": "binary:logistic"}
_LGB_OBJECTIVES = {"regression": "regression", "binary": "binary"}


def _fit_xgboost(objective: str, params: Mapping[str, Any], features: Array, target: Array, names: Sequence[str], *,
                 rounds: int, seed: int, weights: Array | None, valid: tuple[Array, Array] | None,
                 early_stopping: int) -> tuple[TreeModel, int]:
    settings = {"tree_method": "hist", "nthread": THREADS, "seed": seed, "verbosity": 0, **params,
                "objective": _XGB_OBJECTIVES[objective]}
    train = xgb.DMatrix(np.asarray(features, np.float32), target, weight=weights, feature_names=list(names))
    evals = [(xgb.DMatrix(np.asarray(valid[0], np.float32), valid[1], feature_names=list(names)), "valid")] \
        if valid is not None else []
    booster = xgb.train(settings, train, rounds, evals=evals, verbose_eval=False,
                        early_stopping_rounds=early_stopping or None if evals else None)
    kept = rounds
    if evals and early_stopping:
        kept = int(booster.best_iteration) + 1
        booster = booster[:kept]
    return TreeModel(XGBOOST, booster, list(names)), kept


def _fit_lightgbm(objective: str, params: Mapping[str, Any], features: Array, target: Array, names: Sequence[str], *,
                  rounds: int, seed: int, weights: Array | None, valid: tuple[Array, Array] | None,
                  early_stopping: int) -> tuple[TreeModel, int]:
    import lightgbm as lgb

    settings = {"num_threads": THREADS, "seed": seed, "deterministic": True, "force_row_wise": True,
                "verbosity": -1, **params, "objective": _LGB_OBJECTIVES[objective]}
    train = lgb.Dataset(np.asarray(features, np.float32), target, weight=weights, feature_name=list(names),
                        free_raw_data=True)
    sets = [lgb.Dataset(np.asarray(valid[0], np.float32), valid[1], reference=train)] if valid is not None else []
    callbacks: list[Callable[..., Any]] = []
    if sets and early_stopping:
        callbacks.append(lgb.early_stopping(early_stopping, verbose=False))
    booster = lgb.train(settings, train, rounds, valid_sets=sets, callbacks=callbacks)
    kept = int(booster.best_iteration) if callbacks and booster.best_iteration > 0 else rounds
    if kept < booster.current_iteration():
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=kept))
    return TreeModel(LIGHTGBM, booster, list(names)), kept
