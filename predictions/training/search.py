"""Model search: which learner, which hyperparameters and (for remaining life) which target cap,
chosen on validation runs within a time budget. No Django imports.

How a search runs (`search_regressor`):

1. **Cap** (remaining-life models, unless the user set one). Candidate caps are fractions of the
   median failing run's length (`CAP_FRACTIONS`). For each, a default LightGBM learns the capped
   target on the training runs and is scored on the validation runs by its RMSE relative to the
   cap. A cap above the point where the signals start to show wear asks the model to tell apart
   healthy rows that look alike, and the relative error climbs. The largest cap up to which
   remaining life is told to within `CAP_RELATIVE_ERROR` (10%) of the cap is kept: the longest
   remaining life the data can still tell (when no cap is that good, the one with the smallest
   relative error). The test runs are never read.
2. **Learners and hyperparameters.** An Optuna study (TPE sampler seeded with the job's seed)
   proposes a learner (XGBoost or LightGBM) and its learning rate, tree size, minimum leaf size,
   row and column sampling and L2 penalty; each trial trains on the training runs with early
   stopping on the validation runs and is scored by validation RMSE. The first two trials are
   each library's defaults, so the leaderboard always shows them. Candidates are proposed in
   batches of `BATCH`, each batch from the results of the batches before it, and a batch's
   candidates can be trained side by side: by this process alone (`run_locally`) or by every
   `train` worker through Optuna's database storage (`predictions.services.search_workers`). The
   batch size is fixed, not the number of workers, so more workers shorten the wall time and
   never change the result. New batches stop at the time budget (default 300 s; a batch begun is
   finished) or at `max_trials`, whichever comes first.
3. **Blend.** The mean of the best XGBoost and the best LightGBM model is scored on the same
   validation runs and kept only when it beats the best single model.
4. **Refit.** The winner is trained again on training plus validation runs with the rounds early
   stopping chose (scaled up for the larger set), so no labelled run is wasted; the validation
   residuals of the search model remain for the conformal interval.

Same seed, same data and the same number of trials give the same model, whichever process
trained each candidate (the libraries run deterministically on one thread). A time budget can end
a search after a different number of trials on a busier machine, so the job records the number
of trials it ran: rerunning with `max_trials` set to it reproduces the model exactly.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from predictions.training.learners import LIGHTGBM, XGBOOST, TreeModel, fit

Array = np.ndarray
Progress = Callable[[int, str], None]

DEFAULT_BUDGET_S = 300.0
DEFAULT_MAX_TRIALS = 60
MAX_ROUNDS = 2_000
EARLY_STOPPING = 50
CAP_FRACTIONS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CAP_RELATIVE_ERROR = 0.1
# Candidates proposed together from the results so far; part of what the seed reproduces, so a
# constant and not the number of workers. Four keeps up to four workers busy and still lets the
# sampler learn from most results (60 candidates: 15 rounds of proposals).
BATCH = 4
# Each library's defaults, the first two trials (and the "plain" model a user would fit).
DEFAULTS: dict[str, dict[str, Any]] = {
    XGBOOST: {"learning_rate": 0.3, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
              "colsample_bytree": 1.0, "reg_lambda": 1.0},
    LIGHTGBM: {"learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20, "bagging_fraction": 1.0,
               "bagging_freq": 0, "feature_fraction": 1.0, "lambda_l2": 1e-3},
}


@dataclass(frozen=True)
class Candidate:
    """One learner and its hyperparameters, as the sampler proposed them."""

    number: int
    learner: str
    params: dict[str, Any]


@dataclass
class Problem:
    """What every candidate is trained and scored on; the same arrays in whichever process
    trains it (`to_bytes` / `from_bytes` carry it to the workers)."""

    features: Array
    target: Array
    train: Array  # boolean masks over the rows
    validation: Array
    names: list[str]
    seed: int

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        # float32 is what both libraries train on, so the copy trains exactly the same trees.
        np.savez(buffer, features=np.asarray(self.features, np.float32), target=self.target, train=self.train,
                 validation=self.validation, names=np.array(self.names, dtype=str), seed=np.int64(self.seed))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Problem:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            return cls(features=data["features"], target=data["target"], train=data["train"],
                       validation=data["validation"], names=[str(n) for n in data["names"]], seed=int(data["seed"]))


class TrialPool(Protocol):
    """Trains a batch of candidates and returns their trials in the candidates' order."""

    def __call__(self, problem: Problem, candidates: Sequence[Candidate]) -> list[Trial]: ...


def run_locally(problem: Problem, candidates: Sequence[Candidate]) -> list[Trial]:
    return [evaluate(problem, candidate) for candidate in candidates]


@dataclass(frozen=True)
class SearchSettings:
    budget_s: float = DEFAULT_BUDGET_S
    max_trials: int = DEFAULT_MAX_TRIALS
    cap: float | None = None  # remaining-life target cap set by the user (time units); None: chosen
    # Who trains the candidates (`run_locally` when None). Not a setting of the model: any pool
    # gives the same result, so it is left out of comparisons.
    pool: TrialPool | None = field(default=None, compare=False, repr=False)

    def to_params(self) -> dict[str, Any]:
        """The settings a job stores and rebuilds them from (the pool is the process's own)."""
        return {"budget_s": self.budget_s, "max_trials": self.max_trials, "cap": self.cap}

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
    worker: str = ""  # host:pid of the process that trained it

    def row(self) -> dict[str, Any]:
        return {"trial": self.number, "learner": self.learner, "params": self.params, "rounds": self.rounds,
                "validation_rmse": round(self.validation_rmse, 4), "seconds": round(self.seconds, 2),
                "worker": self.worker}

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "learner": self.learner, "params": self.params, "rounds": self.rounds,
                "validation_rmse": self.validation_rmse, "seconds": self.seconds, "worker": self.worker}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trial:
        return cls(**data)


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
    """The largest candidate cap up to which remaining life is told to within CAP_RELATIVE_ERROR
    of the cap (validation RMSE / cap); when none is, the one with the smallest relative error."""
    median = float(np.median(run_lengths))
    scores = []
    for fraction in CAP_FRACTIONS:
        cap = max(1.0, round(fraction * median))
        capped = np.minimum(target, cap)
        model, _ = fit(LIGHTGBM, "regression", {**DEFAULTS[LIGHTGBM], "learning_rate": 0.05}, features[train],
                       capped[train], names, rounds=300, seed=seed)
        rmse = _rmse(capped[validation], np.clip(model.predict(features[validation]), 0, cap))
        scores.append({"cap": cap, "validation_rmse": round(rmse, 4), "relative_error": round(rmse / cap, 5)})
    good = [s["cap"] for s in scores if s["relative_error"] <= CAP_RELATIVE_ERROR]
    chosen = max(good) if good else min(scores, key=lambda s: (s["relative_error"], s["cap"]))["cap"]
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
    problem = Problem(features, target, train, validation, list(names), seed)
    pool = settings.pool or run_locally
    budget = max(1e-9, deadline - time.perf_counter())
    trials: list[Trial] = []
    # The first batch always runs, whatever the budget: a search always has its baselines.
    while len(trials) < settings.max_trials and (not trials or time.perf_counter() < deadline):
        asked = [study.ask() for _ in range(min(BATCH, settings.max_trials - len(trials)))]
        batch = pool(problem, [Candidate(trial.number, *_suggest(trial)) for trial in asked])
        for trial, result in zip(asked, batch, strict=True):
            study.tell(trial, result.validation_rmse)
        trials.extend(batch)
        spent = 1 - max(0.0, deadline - time.perf_counter()) / budget
        report(5 + int(85 * min(1.0, max(spent, len(trials) / settings.max_trials))),
               f"Model search: {len(trials)} candidates tried, best validation RMSE "
               f"{min(t.validation_rmse for t in trials):.2f}")
    return trials


def evaluate(problem: Problem, candidate: Candidate) -> Trial:
    """Train one candidate on the training rows, with early stopping on the validation rows, and
    score it there. Called by the search's own process or by a worker helping it."""
    begun = time.perf_counter()
    x_valid, y_valid = problem.features[problem.validation], problem.target[problem.validation]
    model, rounds = fit(candidate.learner, "regression", candidate.params, problem.features[problem.train],
                        problem.target[problem.train], problem.names, rounds=MAX_ROUNDS, seed=problem.seed,
                        valid=(x_valid, y_valid), early_stopping=EARLY_STOPPING)
    return Trial(candidate.number, candidate.learner, candidate.params, rounds,
                 _rmse(y_valid, model.predict(x_valid)), time.perf_counter() - begun,
                 worker=f"{socket.gethostname()}:{os.getpid()}")


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
