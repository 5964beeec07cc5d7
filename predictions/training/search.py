"""Model search: which learner, which hyperparameters and (for remaining life) which target cap,
chosen on validation runs within a time budget. No Django imports.

How a search runs (`search_regressor`):

1. **Cap** (remaining-life models, unless the user set one). Candidate caps are fractions of the
   median failing run's length (`CAP_FRACTIONS`). For each, a default LightGBM learns the capped
   target on the training runs and is scored on the validation runs by R^2, the share of the
   capped target's variance it explains. A cap above the point where the signals start to show
   wear asks the model to tell apart healthy rows that look alike, and R^2 falls; below it R^2
   stays high. The largest cap whose R^2 is within `CAP_TOLERANCE` of the best is kept: the
   longest remaining life the data can still tell. The test runs are never read.
2. **Learners and hyperparameters.** An Optuna study (TPE sampler seeded with the job's seed)
   proposes a learner (XGBoost or LightGBM) and its learning rate, tree size, minimum leaf size,
   row and column sampling and L2 penalty; each trial trains on the training runs with early
   stopping on the validation runs and is scored by validation RMSE. The first two trials are
   each library's defaults, so the leaderboard always shows them. Trials stop at the time budget
   (default 300 s) or at `max_trials`, whichever comes first.
3. **Blend.** The mean of the best XGBoost and the best LightGBM model is scored on the same
   validation runs and kept only when it beats the best single model.
4. **Refit.** The winner is trained again on training plus validation runs with the rounds early
   stopping chose (scaled up for the larger set), so no labelled run is wasted; the validation
   residuals of the search model remain for the conformal interval.

Same seed, same data and the same number of trials give the same model (the libraries run
deterministically on one thread). A time budget can end a search after a different number of
trials on a busier machine, so the job records the number of trials it ran: rerunning with
`max_trials` set to it reproduces the model exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from predictions.training.learners import LIGHTGBM, XGBOOST, TreeModel, fit

Array = np.ndarray
Progress = Callable[[int, str], None]

DEFAULT_BUDGET_S = 300.0
DEFAULT_MAX_TRIALS = 60
MAX_ROUNDS = 2_000
EARLY_STOPPING = 50
CAP_FRACTIONS = (0.3, 0.45, 0.6, 0.75, 0.9)
CAP_TOLERANCE = 0.05
# Each library's defaults, the first two trials (and the "plain" model a user would fit).
DEFAULTS: dict[str, dict[str, Any]] = {
    XGBOOST: {"learning_rate": 0.3, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
              "colsample_bytree": 1.0, "reg_lambda": 1.0},
    LIGHTGBM: {"learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20, "bagging_fraction": 1.0,
               "bagging_freq": 0, "feature_fraction": 1.0, "lambda_l2": 1e-3},
}


@dataclass(frozen=True)
class SearchSettings:
    budget_s: float = DEFAULT_BUDGET_S
    max_trials: int = DEFAULT_MAX_TRIALS
    cap: float | None = None  # remaining-life target cap set by the user (time units); None: chosen

    def __post_init__(self) -> None:
        if not self.budget_s > 0 or self.max_trials < 2:
            raise ValueError("the search needs a positive time budget and at least two trials")
        if self.cap is not None and not self.cap > 0:
            raise ValueError(f"the remaining-life cap must be positive, got {self.cap}")


@dataclass
class Blend:
    """The mean of several boosters' predictions. SHAP values add, so the mean of the members'
    contributions is the blend's own."""

    members: list[TreeModel]

    @property
    def learner(self) -> str:
        return "blend of " + " and ".join(m.learner for m in self.members)

    @property
    def names(self) -> list[str]:
        return self.members[0].names

    def predict(self, features: Array) -> Array:
        return np.mean([m.predict(features) for m in self.members], axis=0)

    def contributions(self, features: Array) -> Array:
        return np.mean([m.contributions(features) for m in self.members], axis=0)

    def gains(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for member in self.members:
            gains = member.gains()
            total = sum(gains.values()) or 1.0
            for name, gain in gains.items():
                out[name] = out.get(name, 0.0) + gain / total
        return out


Model = TreeModel | Blend


@dataclass
class Trial:
    number: int
    learner: str
    params: dict[str, Any]
    rounds: int
    validation_rmse: float
    seconds: float

    def row(self) -> dict[str, Any]:
        return {"trial": self.number, "learner": self.learner, "params": self.params, "rounds": self.rounds,
                "validation_rmse": round(self.validation_rmse, 4), "seconds": round(self.seconds, 2)}


@dataclass
class SearchOutcome:
    model: Model  # refitted on training + validation runs
    search_model: Model  # the winner as the search trained it (training runs only)
    winner: str  # "trial 7 (lightgbm)" or "blend"
    cap: float | None
    cap_scores: list[dict[str, float]]
    trials: list[Trial]
    blend_rmse: float | None
    seconds: float
    stopped_by: str  # "budget" or "max_trials"
    settings: SearchSettings
    leaderboard: list[dict[str, Any]] = field(default_factory=list)


def search_regressor(features: Array, target: Array, train: Array, validation: Array, names: Sequence[str], *,
                     seed: int, settings: SearchSettings, run_lengths: Array | None = None,
                     progress: Progress | None = None) -> SearchOutcome:
    """Search on `train` rows, choose on `validation` rows (boolean masks, disjoint runs).
    `run_lengths` (time units, failing runs of the training rows) turns on the cap search; the
    target is then capped at the chosen cap."""
    report = progress or (lambda percent, message: None)
    started = time.perf_counter()
    cap, cap_scores = settings.cap, list[dict[str, float]]()
    if cap is None and run_lengths is not None and len(run_lengths):
        report(0, "Choosing how far ahead remaining life can be told")
        cap, cap_scores = choose_cap(features, target, train, validation, names, run_lengths, seed=seed)
    capped = np.minimum(target, cap) if cap is not None else target
    deadline = started + settings.budget_s
    trials = _run_trials(features, capped, train, validation, names, seed=seed, settings=settings,
                         deadline=deadline, report=report)
    best = min(trials, key=lambda t: (t.validation_rmse, t.number))
    blend_rmse, use_blend, members = _blend(trials, features, capped, train, validation, names, seed)
    report(92, "Refitting the winner on training and validation runs")
    chosen = members if use_blend else [best]
    search_model = _refit(chosen, features, capped, train, names, seed, scale=1.0)
    model = _refit(chosen, features, capped, train | validation, names, seed,
                   scale=float((train | validation).sum()) / max(1, int(train.sum())))
    outcome = SearchOutcome(
        model=model, search_model=search_model,
        winner="blend" if use_blend else f"trial {best.number} ({best.learner})",
        cap=cap, cap_scores=cap_scores, trials=trials, blend_rmse=blend_rmse,
        seconds=round(time.perf_counter() - started, 2),
        stopped_by="max_trials" if len(trials) >= settings.max_trials else "budget", settings=settings)
    outcome.leaderboard = leaderboard(outcome)
    return outcome


def choose_cap(features: Array, target: Array, train: Array, validation: Array, names: Sequence[str],
               run_lengths: Array, *, seed: int) -> tuple[float, list[dict[str, float]]]:
    """The largest candidate cap whose validation R^2 (of the target capped there) is within
    CAP_TOLERANCE of the best: beyond the point where wear shows, raising the cap adds variance
    the signals cannot explain, and R^2 falls."""
    median = float(np.median(run_lengths))
    scores = []
    for fraction in CAP_FRACTIONS:
        cap = max(1.0, round(fraction * median))
        capped = np.minimum(target, cap)
        model, _ = fit(LIGHTGBM, "regression", {**DEFAULTS[LIGHTGBM], "learning_rate": 0.05}, features[train],
                       capped[train], names, rounds=300, seed=seed)
        truth = capped[validation]
        rmse = _rmse(truth, np.clip(model.predict(features[validation]), 0, cap))
        spread = float(np.std(truth)) if len(truth) else 0.0
        r2 = 1.0 - (rmse / spread) ** 2 if spread > 0 else float("-inf")
        scores.append({"cap": cap, "validation_rmse": round(rmse, 4), "r2": round(r2, 5)})
    best = max(s["r2"] for s in scores)
    chosen = max(s["cap"] for s in scores if s["r2"] >= best - CAP_TOLERANCE * abs(best))
    return float(chosen), scores


def leaderboard(outcome: SearchOutcome) -> list[dict[str, Any]]:
    rows = sorted((t.row() for t in outcome.trials), key=lambda r: (r["validation_rmse"], r["trial"]))
    if outcome.blend_rmse is not None:
        rows.append({"trial": None, "learner": "blend of best xgboost and lightgbm", "params": {}, "rounds": None,
                     "validation_rmse": round(outcome.blend_rmse, 4), "seconds": None})
        rows.sort(key=lambda r: (r["validation_rmse"], r["trial"] if r["trial"] is not None else -1))
    return rows


def _run_trials(features: Array, target: Array, train: Array, validation: Array, names: Sequence[str], *,
                seed: int, settings: SearchSettings, deadline: float, report: Progress) -> list[Trial]:
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    for learner, params in DEFAULTS.items():
        study.enqueue_trial({"learner": learner, **{f"{learner}.{k}": v for k, v in params.items()
                                                    if k in _SPACE_KEYS[learner]}})
    trials: list[Trial] = []
    x_train, y_train = features[train], target[train]
    x_valid, y_valid = features[validation], target[validation]
    budget = max(1e-9, deadline - time.perf_counter())

    def objective(trial: Any) -> float:
        learner, params = _suggest(trial)
        begun = time.perf_counter()
        model, rounds = fit(learner, "regression", params, x_train, y_train, names, rounds=MAX_ROUNDS, seed=seed,
                            valid=(x_valid, y_valid), early_stopping=EARLY_STOPPING)
        rmse = _rmse(y_valid, model.predict(x_valid))
        trials.append(Trial(trial.number, learner, params, rounds, rmse, time.perf_counter() - begun))
        spent = 1 - max(0.0, deadline - time.perf_counter()) / budget
        report(5 + int(85 * max(spent, len(trials) / settings.max_trials)),
               f"Model search: {len(trials)} candidates tried, best validation RMSE "
               f"{min(t.validation_rmse for t in trials):.2f}")
        return rmse

    # At least the two defaults run, whatever the budget: a search always has its baselines.
    study.optimize(objective, n_trials=2)
    remaining = settings.max_trials - 2
    left = deadline - time.perf_counter()
    if remaining > 0 and left > 0:
        study.optimize(objective, n_trials=remaining, timeout=left)
    return trials


_SPACE_KEYS = {
    XGBOOST: ("learning_rate", "max_depth", "min_child_weight", "subsample", "colsample_bytree", "reg_lambda"),
    LIGHTGBM: ("learning_rate", "num_leaves", "min_child_samples", "bagging_fraction", "feature_fraction",
               "lambda_l2"),
}


def _suggest(trial: Any) -> tuple[str, dict[str, Any]]:
    learner = trial.suggest_categorical("learner", [XGBOOST, LIGHTGBM])
    p = f"{learner}."
    if learner == XGBOOST:
        return learner, {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.01, 0.3, log=True),
            "max_depth": trial.suggest_int(p + "max_depth", 2, 10),
            "min_child_weight": trial.suggest_float(p + "min_child_weight", 0.5, 100.0, log=True),
            "subsample": trial.suggest_float(p + "subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float(p + "colsample_bytree", 0.2, 1.0),
            "reg_lambda": trial.suggest_float(p + "reg_lambda", 1e-3, 10.0, log=True),
        }
    bagging = trial.suggest_float(p + "bagging_fraction", 0.5, 1.0)
    return learner, {
        "learning_rate": trial.suggest_float(p + "learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int(p + "num_leaves", 4, 128, log=True),
        "min_child_samples": trial.suggest_int(p + "min_child_samples", 5, 300, log=True),
        "bagging_fraction": bagging, "bagging_freq": 1 if bagging < 1 else 0,
        "feature_fraction": trial.suggest_float(p + "feature_fraction", 0.2, 1.0),
        "lambda_l2": trial.suggest_float(p + "lambda_l2", 1e-3, 10.0, log=True),
    }


def _blend(trials: list[Trial], features: Array, target: Array, train: Array, validation: Array,
           names: Sequence[str], seed: int) -> tuple[float | None, bool, list[Trial]]:
    best = min(trials, key=lambda t: (t.validation_rmse, t.number))
    per_learner = [min((t for t in trials if t.learner == learner), key=lambda t: (t.validation_rmse, t.number),
                       default=None) for learner in (XGBOOST, LIGHTGBM)]
    members = [t for t in per_learner if t is not None]
    if len(members) < 2:
        return None, False, [best]
    models = [fit(t.learner, "regression", t.params, features[train], target[train], names, rounds=t.rounds,
                  seed=seed)[0] for t in members]
    rmse = _rmse(target[validation], Blend(models).predict(features[validation]))
    return rmse, rmse < best.validation_rmse, members


def _refit(chosen: list[Trial], features: Array, target: Array, rows: Array, names: Sequence[str], seed: int, *,
           scale: float) -> Model:
    models = [fit(t.learner, "regression", t.params, features[rows], target[rows], names,
                  rounds=max(1, round(t.rounds * scale)), seed=seed)[0] for t in chosen]
    return models[0] if len(models) == 1 else Blend(models)


def _rmse(truth: Array, prediction: Array) -> float:
    return float(np.sqrt(np.mean((np.asarray(prediction) - np.asarray(truth)) ** 2))) if len(truth) else float("nan")
