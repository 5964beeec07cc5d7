"""Model search: which learner, which hyperparameters and (for remaining life) which target cap,
chosen on validation runs within a time budget. No Django imports.

How a search runs (`search_regressor` for remaining life, `search_classifier` for the failure
classifier; one trial loop serves both, each scoring candidates by its own `Objective`):

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
   stopping on the validation runs and is scored by validation RMSE (a classifier: by validation F1
   at the threshold chosen under the false-positive limit, ties broken by PR-AUC; positives
   weighted by negatives / positives, early stopping on PR-AUC). The first two trials are
   each library's defaults, so the leaderboard always shows them. Candidates are proposed in
   batches of `BATCH`, each batch from the results of the batches before it, and a batch's
   candidates can be trained side by side: by this process alone (`run_locally`) or by every
   `train` worker through Optuna's database storage (`predictions.services.search_workers`). The
   batch size is fixed, not the number of workers, so more workers shorten the wall time and
   never change the result. New batches stop at the time budget (default 300 s; a batch begun is
   finished) or at `max_trials`, whichever comes first.
3. **Blend.** The mean of the best XGBoost and the best LightGBM model (of their probabilities,
   for a classifier) is scored on the same validation runs and kept only when it beats the best
   single model on the same score.
4. **Refit** (remaining life). The winner is trained again on training plus validation runs with
   the rounds early stopping chose (scaled up for the larger set), so no labelled run is wasted;
   the search model's validation residuals remain for the conformal interval. A classifier keeps
   the search model: its threshold is chosen on that model's validation scores
   (`search_classifier` says why).

Same seed, same data and the same number of trials give the same model, whichever process
trained each candidate (the libraries run deterministically on one thread). A time budget can end
a search after a different number of trials on a busier machine, so the job records the number
of trials it ran: rerunning with `max_trials` set to it reproduces the model exactly.

Longer than 400 lines because the search's settings, its trial loop and its blend share
private types (`Problem`, `Candidate`, `Trial`) that workers on other machines also use.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from engine.training.learners import BLOB_NAMES, LEARNERS, LIGHTGBM, XGBOOST, TreeModel, fit
from engine.training.thresholds import binary_metrics, choose_threshold

Array = np.ndarray
Progress = Callable[[int, str], None]
REGRESSION = "regression"  # objectives, as engine.training.learners.fit names them
BINARY = "binary"

DEFAULT_BUDGET_S = 300.0
DEFAULT_MAX_TRIALS = 60
MAX_ROUNDS = 2_000
EARLY_STOPPING = 50
PLAIN_ROUNDS = 100  # XGBoost's own default number of trees
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
    """The mean of several boosters' predictions (probabilities, for classifiers). SHAP values add,
    so the mean of the members' contributions is the blend's own for a regressor; a classifier's
    contributions are in log-odds, and their mean explains the mean of the members' log-odds: close to,
    not exactly, the log-odds of the blend's mean probability."""

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


@dataclass(frozen=True)
class Objective:
    """What the candidates learn and how validation scores them. "regression": by RMSE, lower is
    better. "binary": by F1 at the threshold `choose_threshold` picks under the false-positive
    limit, the threshold the model will be used at; higher is better."""

    kind: str  # the learners' objective: "regression" or "binary"
    max_fpr: float = 0.05  # binary: the validation false-positive rate a threshold may have

    @property
    def direction(self) -> Literal["minimize", "maximize"]:
        return "minimize" if self.kind == REGRESSION else "maximize"

    def score(self, truth: Array, prediction: Array) -> dict[str, float]:
        if self.kind == REGRESSION:
            return {"validation_rmse": _rmse(truth, prediction)}
        threshold, _ = choose_threshold(truth, prediction, max_fpr=self.max_fpr)
        measured = binary_metrics(truth, prediction, prediction >= threshold)
        return {"validation_f1": measured["f1"], "validation_pr_auc": measured["pr_auc"],
                "validation_recall": measured["recall"], "validation_fpr": measured["fpr"]}

    def rank(self, scores: Mapping[str, Any]) -> tuple[float, ...]:
        """Sort key, best first."""
        if self.kind == REGRESSION:
            return (scores["validation_rmse"],)
        # F1 at the constrained threshold moves in steps of one caught failure, and with the few
        # failures a validation set holds many candidates tie on it; PR-AUC, over every threshold,
        # breaks the tie for the candidate that orders the rows better.
        return (-scores["validation_f1"], -_finite(scores["validation_pr_auc"]))

    def value(self, scores: Mapping[str, Any]) -> float:
        """What the Optuna sampler learns from: the rank as one number (PR-AUC weighs 1/1000 of F1)."""
        if self.kind == REGRESSION:
            return float(scores["validation_rmse"])
        return float(scores["validation_f1"] + 1e-3 * _finite(scores["validation_pr_auc"]))

    def fixed_params(self, learner: str, target: Array) -> dict[str, Any]:
        """Settings every fit of this objective gets, whatever the search proposes: a binary fit
        weighs the positives by negatives / positives (failures are rare) and stops early on the
        validation PR-AUC, which, unlike log-loss, the weighting does not bias."""
        if self.kind == REGRESSION:
            return {}
        positives = float(np.sum(target))
        weight = (len(target) - positives) / positives if positives else 1.0
        metric = {"eval_metric": "aucpr"} if learner == XGBOOST else {"metric": "average_precision"}
        return {"scale_pos_weight": weight, **metric}

    def headline(self, scores: Mapping[str, Any]) -> str:
        if self.kind == REGRESSION:
            return f"best validation RMSE {scores['validation_rmse']:.2f}"
        return f"best validation F1 {scores['validation_f1']:.2f} at FPR <= {self.max_fpr:g}"


@dataclass
class Trial:
    number: int
    learner: str
    params: dict[str, Any]
    rounds: int
    scores: dict[str, float]  # the objective's validation scores
    seconds: float
    worker: str = ""  # host:pid of the process that trained it

    def row(self) -> dict[str, Any]:
        return {"trial": self.number, "learner": self.learner, "params": self.params, "rounds": self.rounds,
                **_rounded(self.scores), "seconds": round(self.seconds, 2), "worker": self.worker}

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "learner": self.learner, "params": self.params, "rounds": self.rounds,
                "scores": self.scores, "seconds": self.seconds, "worker": self.worker}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trial:
        return cls(**data)


@dataclass
class SearchOutcome:
    model: Model  # refitted on training + validation runs (the search model itself, for a classifier)
    search_model: Model  # the winner as the search trained it (training runs only)
    winner: str  # "trial 7 (lightgbm)" or "blend"
    cap: float | None
    cap_scores: list[dict[str, float]]
    trials: list[Trial]
    blend_scores: dict[str, float] | None
    seconds: float
    stopped_by: str  # "budget" or "max_trials"
    settings: SearchSettings
    objective: Objective = field(default_factory=lambda: Objective(REGRESSION))
    leaderboard: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What the model's version keeps of its search (metrics.search)."""
        return {
            "winner": self.winner, "learner": self.model.learner, "cap": self.cap, "cap_scores": self.cap_scores,
            "leaderboard": self.leaderboard, "trials": len(self.trials), "seconds": self.seconds,
            "stopped_by": self.stopped_by, "budget_s": self.settings.budget_s, "max_trials": self.settings.max_trials,
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
    objective: Objective = field(default_factory=lambda: Objective(REGRESSION))

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        # float32 is what both libraries train on, so the copy trains exactly the same trees.
        np.savez(buffer, features=np.asarray(self.features, np.float32), target=self.target, train=self.train,
                 validation=self.validation, names=np.array(self.names, dtype=str), seed=np.int64(self.seed),
                 objective=np.array(self.objective.kind), max_fpr=np.float64(self.objective.max_fpr))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Problem:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            return cls(features=data["features"], target=data["target"], train=data["train"],
                       validation=data["validation"], names=[str(n) for n in data["names"]], seed=int(data["seed"]),
                       objective=Objective(str(data["objective"]), max_fpr=float(data["max_fpr"])))


class TrialPool(Protocol):
    """Trains a batch of candidates and returns their trials in the candidates' order."""

    def __call__(self, problem: Problem, candidates: Sequence[Candidate]) -> list[Trial]: ...


def run_locally(problem: Problem, candidates: Sequence[Candidate]) -> list[Trial]:
    return [evaluate(problem, candidate) for candidate in candidates]


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
    outcome = _search(Problem(features, capped, train, validation, list(names), seed), settings=settings,
                      started=started, report=report, refit=True)
    outcome.cap, outcome.cap_scores = cap, cap_scores
    return outcome


def search_classifier(features: Array, label: Array, train: Array, validation: Array, names: Sequence[str], *,
                      seed: int, settings: SearchSettings, max_fpr: float = 0.05,
                      progress: Progress | None = None) -> SearchOutcome:
    """The same search for a failure classifier (boolean `label`): candidates scored by validation
    F1 at the threshold chosen under `max_fpr`, a blend as the mean of the probabilities.

    The winner is not refitted on training + validation runs: its decision threshold is chosen on
    the validation runs' scores and holds only for the model that produced them. A refit (more
    rows, more trees) moves the scores; measured on a simulated 40-motor fleet, the same threshold
    then let the test false-positive rate climb from 0.058 to 0.121 against a limit of 0.05."""
    problem = Problem(features, np.asarray(label, dtype=np.float64), train, validation, list(names), seed,
                      Objective(BINARY, max_fpr=max_fpr))
    return _search(problem, settings=settings, started=time.perf_counter(),
                   report=progress or (lambda percent, message: None), refit=False)


def _search(problem: Problem, *, settings: SearchSettings, started: float, report: Progress,
            refit: bool) -> SearchOutcome:
    objective = problem.objective
    trials = _run_trials(problem, settings=settings, deadline=started + settings.budget_s, report=report)
    best = min(trials, key=lambda t: (objective.rank(t.scores), t.number))
    blend_scores, use_blend, members = _blend(trials, problem)
    chosen = members if use_blend else [best]
    search_model = _refit(chosen, problem, problem.train, scale=1.0)
    model = search_model
    if refit:
        report(92, "Refitting the winner on training and validation runs")
        both = problem.train | problem.validation
        model = _refit(chosen, problem, both, scale=float(both.sum()) / max(1, int(problem.train.sum())))
    outcome = SearchOutcome(
        model=model, search_model=search_model,
        winner="blend" if use_blend else f"trial {best.number} ({best.learner})",
        cap=None, cap_scores=[], trials=trials, blend_scores=blend_scores,
        seconds=round(time.perf_counter() - started, 2),
        stopped_by="max_trials" if len(trials) >= settings.max_trials else "budget", settings=settings,
        objective=objective)
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
    rows = [t.row() for t in outcome.trials]
    if outcome.blend_scores is not None:
        rows.append({"trial": None, "learner": "blend of best xgboost and lightgbm", "params": {}, "rounds": None,
                     **_rounded(outcome.blend_scores), "seconds": None})
    # The blend (no trial number) goes before the trials it ties with.
    return sorted(rows, key=lambda r: (outcome.objective.rank(r), r["trial"] if r["trial"] is not None else -1))


# --- the trial loop: suggest settings, fit and score one candidate, repeat --------------------------


def _run_trials(problem: Problem, *, settings: SearchSettings, deadline: float, report: Progress) -> list[Trial]:
    import optuna

    objective = problem.objective
    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(direction=objective.direction, sampler=optuna.samplers.TPESampler(seed=problem.seed))
    for learner, params in DEFAULTS.items():
        study.enqueue_trial({"learner": learner, **{f"{learner}.{k}": v for k, v in params.items()
                                                    if k in _SPACE_KEYS[learner]}})
    pool = settings.pool or run_locally
    budget = max(1e-9, deadline - time.perf_counter())
    trials: list[Trial] = []
    # The first batch always runs, whatever the budget: a search always has its baselines.
    while len(trials) < settings.max_trials and (not trials or time.perf_counter() < deadline):
        asked = [study.ask() for _ in range(min(BATCH, settings.max_trials - len(trials)))]
        batch = pool(problem, [Candidate(trial.number, *_suggest(trial)) for trial in asked])
        for trial, result in zip(asked, batch, strict=True):
            study.tell(trial, objective.value(result.scores))
        trials.extend(batch)
        spent = 1 - max(0.0, deadline - time.perf_counter()) / budget
        best = min(trials, key=lambda t: (objective.rank(t.scores), t.number))
        report(5 + int(85 * min(1.0, max(spent, len(trials) / settings.max_trials))),
               f"Model search: {len(trials)} candidates tried, {objective.headline(best.scores)}")
    return trials


def evaluate(problem: Problem, candidate: Candidate) -> Trial:
    """Train one candidate on the training rows, with early stopping on the validation rows, and
    score it there by the problem's objective. Called by the search's own process or by a worker
    helping it."""
    begun = time.perf_counter()
    x_valid, y_valid = problem.features[problem.validation], problem.target[problem.validation]
    model, rounds = _fit(problem, candidate.learner, candidate.params, problem.train, rounds=MAX_ROUNDS,
                         valid=(x_valid, y_valid))
    return Trial(candidate.number, candidate.learner, candidate.params, rounds,
                 problem.objective.score(y_valid, model.predict(x_valid)), time.perf_counter() - begun,
                 worker=f"{socket.gethostname()}:{os.getpid()}")


def _fit(problem: Problem, learner: str, params: Mapping[str, Any], rows: Array, *, rounds: int,
         valid: tuple[Array, Array] | None = None) -> tuple[TreeModel, int]:
    objective, target = problem.objective, problem.target[rows]
    return fit(learner, objective.kind, {**params, **objective.fixed_params(learner, target)}, problem.features[rows],
               target, problem.names, rounds=rounds, seed=problem.seed, valid=valid,
               early_stopping=EARLY_STOPPING if valid is not None else 0)


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


def _blend(trials: list[Trial], problem: Problem) -> tuple[dict[str, float] | None, bool, list[Trial]]:
    """The mean of the best XGBoost and the best LightGBM (of their probabilities, for a
    classifier), and whether it beats the best single candidate on validation."""
    objective = problem.objective

    def key(t: Trial) -> tuple[tuple[float, ...], int]:
        return objective.rank(t.scores), t.number

    best = min(trials, key=key)
    per_learner = [min((t for t in trials if t.learner == learner), key=key, default=None)
                   for learner in (XGBOOST, LIGHTGBM)]
    members = [t for t in per_learner if t is not None]
    if len(members) < 2:
        return None, False, [best]
    models = [_fit(problem, t.learner, t.params, problem.train, rounds=t.rounds)[0] for t in members]
    scores = objective.score(problem.target[problem.validation],
                             Blend(models).predict(problem.features[problem.validation]))
    return scores, objective.rank(scores) < objective.rank(best.scores), members


def _refit(chosen: list[Trial], problem: Problem, rows: Array, *, scale: float) -> Model:
    models = [_fit(problem, t.learner, t.params, rows, rounds=max(1, round(t.rounds * scale)))[0] for t in chosen]
    return models[0] if len(models) == 1 else Blend(models)


def model_blobs(model: Model, prefix: str) -> dict[str, bytes]:
    """A model as named blobs in its libraries' own formats (`<prefix>-<i>.<format>`, one per member)."""
    members = model.members if isinstance(model, Blend) else [model]
    return {f"{prefix}-{i}.{m.blob_name}": m.to_bytes() for i, m in enumerate(members)}


def model_from_blobs(blobs: Mapping[str, bytes], prefix: str, names: Sequence[str]) -> Model:
    """The model `model_blobs` saved; each blob's name says its library."""
    members: list[TreeModel] = []
    while found := [(learner, f"{prefix}-{len(members)}.{BLOB_NAMES[learner]}") for learner in LEARNERS
                    if f"{prefix}-{len(members)}.{BLOB_NAMES[learner]}" in blobs]:
        learner, name = found[0]
        members.append(TreeModel.from_bytes(learner, blobs[name], names))
    if not members:
        raise ValueError(f"no {prefix!r} model among the blobs {sorted(blobs)}")
    return members[0] if len(members) == 1 else Blend(members)


def plain_model(kind: str, features: Array, target: Array, names: Sequence[str], *, seed: int) -> TreeModel:
    """XGBoost with its default settings, as a data scientist's first notebook cell has it: the
    baseline a searched model is shown beside (`kind`: "regression" or "binary")."""
    return fit(XGBOOST, kind, DEFAULTS[XGBOOST], features, target, names, rounds=PLAIN_ROUNDS, seed=seed)[0]


def _rmse(truth: Array, prediction: Array) -> float:
    return float(np.sqrt(np.mean((np.asarray(prediction) - np.asarray(truth)) ** 2))) if len(truth) else float("nan")


def _finite(value: float) -> float:
    """An undefined score (a PR-AUC on one class) ranks as the worst."""
    return 0.0 if value is None or np.isnan(value) else float(value)


def _rounded(scores: Mapping[str, float]) -> dict[str, float]:
    return {name: round(value, 4) for name, value in scores.items()}
