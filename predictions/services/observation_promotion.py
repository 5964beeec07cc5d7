"""Whether a new observation model earns the champion's place (docs/models.md, "Observation types").

Decided like real-data training decides for the time-series kinds (`real_training._decide_measured`,
`better_by`): the new model is promoted when the type has no champion, when the champion never
saw this fleet's real data, or when it beats the champion's out-of-fold macro-F1 by the margin
(default 10%). Per label, the champion is re-measured on the same rows with the same folds: its
stored learner (`TargetModel.learner`) is refitted on its own feature list fold by fold
(`out_of_fold_metrics`). Where that cannot be done (its features are no longer in the data, or its
learner is unknown), its own out-of-fold macro-F1 from training (its rows, its folds) is compared,
and the reason says so.

All labels live in one version, so the version goes live or not as a whole: it is promoted when
some label earns it and no label would lose (a label the new model does worse on by the margin, or
no longer predicts). Every label's decision says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.bundles import OBSERVATION, bundle_load
from engine.training.observations import LEARNERS, ObservationModel, TargetModel, out_of_fold_metrics
from engine.training.real import better_by
from predictions.models import Dataset, ModelVersion
from predictions.services.registry import artifact_read, json_safe


@dataclass(frozen=True)
class TrainingData:
    """What the new model was trained and validated on: the rows' features and labels."""

    matrix: np.ndarray
    names: list[str]
    labels: Mapping[str, np.ndarray]
    classes: Mapping[str, Sequence[str]]
    folds: int
    seed: int


@dataclass(frozen=True)
class Verdict:
    """One label: does it earn a promotion, would promoting lose something, and why."""

    label: str
    earned: bool
    loses: bool
    reason: str
    champion: dict[str, Any] | None = None  # the champion's measured row for the comparison


def observation_verdicts(model: ObservationModel, champion: ModelVersion | None, data: TrainingData,
                         *, margin: float) -> tuple[bool, list[Verdict]]:
    """Promote or not, and each label's verdict (also for the champion's labels the new model lacks)."""
    if champion is None or champion.data_source != Dataset.Source.REAL:
        why = "no champion yet" if champion is None else (
            f"the champion v{champion.number} never saw this fleet's real data ({champion.data_source})")
        return True, [Verdict(target.name, earned=True, loses=False, reason=why) for target in model.targets]
    held = bundle_load(artifact_read(champion.artifact_path, sha256=champion.artifact_sha256)).model
    theirs = {target.name: target for target in held.targets}
    verdicts = [_label_verdict(target.name, model.metrics[target.name], theirs.get(target.name), held, champion,
                               data, margin) for target in model.targets]
    ours = {target.name for target in model.targets}
    verdicts += [Verdict(name, earned=False, loses=True,
                         reason=f"the new model has no classifier for this label ({model.skipped.get(name, 'skipped')})"
                                f"; the champion v{champion.number} has one")
                 for name in theirs if name not in ours]
    return any(v.earned for v in verdicts) and not any(v.loses for v in verdicts), verdicts


def _label_verdict(name: str, new: Mapping[str, Any], theirs: TargetModel | None, held: ObservationModel,
                   champion: ModelVersion, data: TrainingData, margin: float) -> Verdict:
    if theirs is None:
        return Verdict(name, earned=True, loses=False,
                       reason=f"the champion v{champion.number} has no classifier for this label")
    measured, how = _champion_measured(theirs, held, champion, data)
    old = float(measured.get("macro_f1", np.nan))
    said = f"macro-F1 {new['macro_f1']:.3f} against the champion's {old:.3f} ({how})"
    if better_by(new, measured, kind=OBSERVATION, margin=margin):
        return Verdict(name, earned=True, loses=False, reason=f"{said}: at least {margin:.0%} better",
                       champion=measured)
    if better_by(measured, new, kind=OBSERVATION, margin=margin):
        return Verdict(name, earned=False, loses=True, reason=f"{said}: the champion is {margin:.0%} better",
                       champion=measured)
    return Verdict(name, earned=False, loses=False, reason=f"{said}: not {margin:.0%} better", champion=measured)


def _champion_measured(theirs: TargetModel, held: ObservationModel, champion: ModelVersion,
                       data: TrainingData) -> tuple[dict[str, Any], str]:
    """The champion's out-of-fold metrics on the same rows and folds, else its own from training."""
    learner = LEARNERS.get(theirs.learner)
    missing = [name for name in held.feature_names if name not in data.names]
    if learner is not None and not missing:
        columns = [data.names.index(name) for name in held.feature_names]
        measured = out_of_fold_metrics(data.matrix[:, columns], data.labels[theirs.name], data.classes[theirs.name],
                                       learner, folds=data.folds, seed=data.seed)
        return measured, (f"v{champion.number}'s learner and features re-measured on the same "
                          f"{measured['rows']} rows and folds")
    why = (f"its learner '{theirs.learner}' cannot be re-run" if learner is None
           else f"its features {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''} are not in the data now")
    stored = dict((champion.metrics or {}).get(theirs.name) or {})
    return stored, (f"v{champion.number} cannot be re-measured on the same folds: {why}; compared with its own "
                    f"out-of-fold macro-F1 from training, on its {stored.get('rows', '?')} rows and its folds")


def observation_decisions(model: ObservationModel, verdicts: Sequence[Verdict], *, version: ModelVersion,
                          promoted: bool) -> list[dict[str, Any]]:
    """Per label, the job's decision: the kept learner beside the plain baseline (both out of fold
    on the same folds) and the champion as re-measured, promoted or not, and why."""
    keys = ("accuracy", "macro_f1")
    earned = [v.label for v in verdicts if v.earned]
    decisions = []
    for verdict in verdicts:
        comparison = []
        if verdict.champion is not None:
            comparison.append({"model": "champion", **{k: verdict.champion.get(k) for k in keys}})
        if verdict.label in model.metrics:
            target = next(t for t in model.targets if t.name == verdict.label)
            comparison += [{"model": f"v{version.number} kept ({target.learner})",
                            **{k: model.metrics[verdict.label][k] for k in keys}},
                           {"model": "plain XGBoost baseline", **{k: model.baseline[verdict.label][k] for k in keys}}]
        decisions.append(json_safe({"kind": f"{OBSERVATION}: {verdict.label}", "best": version.id,
                                    "promoted": promoted, "earned": verdict.earned,
                                    "reason": _reason(verdict, promoted, earned), "comparison": comparison}))
    return decisions


def _reason(verdict: Verdict, promoted: bool, earned: Sequence[str]) -> str:
    if promoted and not verdict.earned:
        return f"{verdict.reason}; promoted with the model, which {', '.join(earned)} earned"
    if not promoted and verdict.earned:
        return f"{verdict.reason}; not promoted: another label would lose (see its reason)"
    if not promoted:
        return f"{verdict.reason}; the champion stays"
    return verdict.reason
