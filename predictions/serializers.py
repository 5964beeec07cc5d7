"""Shapes of the ML engine's API: datasets, model versions, predictions, onboarding."""

from __future__ import annotations

from typing import Any

import numpy as np
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from engine.decision import risk_levels
from engine.frames import window_end_cycle
from machines.models import Machine, MachineType
from machines.serializers import MachineRef
from predictions.models import Dataset, DriftReport, ModelEvent, ModelVersion, OutcomeSnapshot, Prediction
from predictions.services.training import DEFAULT_HORIZON_H, DEFAULT_MACHINES, LIMITS


class DatasetSerializer(serializers.ModelSerializer[Dataset]):
    machine_type = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "machine_type", "source", "parent", "params", "rows", "machines", "failures", "fingerprint",
                  "quality_report", "job", "created_at"]
        read_only_fields = fields


class ModelVersionSerializer(serializers.ModelSerializer[ModelVersion]):
    machine_type = serializers.SlugRelatedField(slug_field="key", read_only=True)
    machine = MachineRef(read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "machine_type", "machine", "kind", "number", "status", "dataset", "data_source",
                  "data_fingerprint", "parent", "params", "metrics", "baseline", "feature_importance",
                  "training_seconds", "artifact_sha256", "job", "created_at", "promoted_at"]
        read_only_fields = fields


class ModelEventSerializer(serializers.ModelSerializer[ModelEvent]):
    class Meta:
        model = ModelEvent
        fields = ["id", "version", "action", "actor", "note", "details", "at"]
        read_only_fields = fields


class FactorSerializer(serializers.Serializer[Any]):
    """One signal's part in a prediction (the shape of every factor list of an explanation)."""

    feature = serializers.CharField(help_text="the signal's name (as in readings)")
    signal = serializers.CharField(help_text="the same name (kept for clients written before the contract)")
    label = serializers.CharField(help_text="the signal in words")
    value = serializers.JSONField(allow_null=True, help_text="its reading at the scored step (a category for a "
                                                             "categorical sensor), in `unit`")
    unit = serializers.CharField(allow_blank=True)
    zone = serializers.CharField(allow_null=True, help_text="normal / warning / critical / implausible")
    contribution = serializers.FloatField(help_text="its share of the total |SHAP| over all signals (0-1; the shares "
                                                    "of all signals sum to 1)")
    shap = serializers.FloatField(help_text="its raw SHAP value, summed over its window features, in the explained "
                                            "output's units (`shap_output`); positive raises the output")
    direction = serializers.CharField()
    window_feature = serializers.CharField(help_text="its window feature with the largest |SHAP|")
    feature_label = serializers.CharField()
    feature_value = serializers.FloatField(allow_null=True)


class RuleConditionSerializer(serializers.Serializer[Any]):
    signal = serializers.CharField()
    label = serializers.CharField()
    op = serializers.ChoiceField(choices=[">", "<="])
    value = serializers.FloatField(help_text="threshold in `unit`, on the signal's latest reading")
    unit = serializers.CharField(allow_blank=True)
    text = serializers.CharField()


class RuleSerializer(serializers.Serializer[Any]):
    """A local rule around this prediction, in sensor units (engine/local_rule.py)."""

    text = serializers.CharField(help_text='"IF winding temperature > 140 °C AND ... THEN 85% chance of failure '
                                           'within 7 days"')
    conditions = RuleConditionSerializer(many=True)
    outcome = serializers.ChoiceField(choices=["failure", "normal"], help_text="always this prediction's own")
    probability = serializers.FloatField(help_text="the model's mean failure probability where the conditions hold")
    fidelity = serializers.FloatField(help_text="share of perturbed windows within the conditions where the model "
                                                "gives the same verdict")
    coverage = serializers.FloatField(help_text="share of perturbed windows within the conditions")
    method = serializers.CharField()


class SimilarCaseSerializer(serializers.Serializer[Any]):
    machine = serializers.CharField()
    failure_mode = serializers.CharField()
    hours_before_failure = serializers.FloatField(help_text="in `time_unit`")
    similarity = serializers.FloatField(help_text="1 / (1 + RMS distance in interquartile ranges)")


class TemporalSignalSerializer(serializers.Serializer[Any]):
    signal = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField(allow_blank=True)
    attribution = serializers.ListField(child=serializers.FloatField(), help_text="per step, oldest first; sums to "
                                                                                  "`total`")
    total = serializers.FloatField(help_text="the signal's SHAP value (its factor's `shap`)")


class TemporalSerializer(serializers.Serializer[Any]):
    """When in the window it happened (engine/temporal.py); latest-step predictions only."""

    steps_ago = serializers.ListField(child=serializers.IntegerField())
    hours_ago = serializers.ListField(child=serializers.FloatField(allow_null=True),
                                      help_text="per step, in `time_unit`; null before the run's first reading")
    signals = TemporalSignalSerializer(many=True)
    summary = serializers.CharField(allow_blank=True)
    output = serializers.CharField()


class ExplanationSerializer(serializers.Serializer[Any]):
    """Every prediction's explanation (docs/models.md, "The explanation contract")."""

    top_factors = FactorSerializer(many=True, help_text="what weighs on the failure risk, largest share first")
    other_signals_share = serializers.FloatField(help_text="the share of the signals not listed")
    shap_base = serializers.FloatField(help_text="the model's expected output: base + sum of every feature's SHAP "
                                                 "value = this prediction's output")
    shap_output = serializers.CharField(help_text="what the SHAP values add up to")
    recommendation = serializers.CharField(help_text="what to do (a failure) or what to watch (normal)")
    confidence = serializers.ChoiceField(choices=["high", "medium", "low"])
    confidence_value = serializers.FloatField(help_text="0 at the decision threshold, 1 at certainty")
    similar_past_cases = serializers.IntegerField(help_text="past failures whose windows lie within one interquartile "
                                                            "range (RMS) of this one")
    similar_cases = SimilarCaseSerializer(many=True, help_text="the nearest of them")
    rule = RuleSerializer(allow_null=True, help_text="null in a batch for rows not predicted to fail")
    rul_factors = FactorSerializer(many=True, help_text="what shortens or lengthens the remaining life (SHAP in "
                                                        "hours)")
    anomaly_factors = FactorSerializer(many=True, help_text="what makes the window unusual")
    mode_factors = FactorSerializer(many=True, help_text="for a predicted failure: what points to its failure mode")
    temporal = TemporalSerializer(required=False)
    failure_mode_label = serializers.CharField(allow_blank=True)
    time_unit = serializers.CharField()


@extend_schema_field(ExplanationSerializer)
class ExplanationField(serializers.JSONField):
    """The stored explanation JSON, documented by ExplanationSerializer in the OpenAPI schema."""


class PredictionSerializer(serializers.ModelSerializer[Prediction]):
    machine = MachineRef(read_only=True)
    machine_id = serializers.CharField(source="machine.name", read_only=True,
                                       help_text="the machine's name, as the roadmap's contract calls it")
    prediction = serializers.SerializerMethodField(help_text='"failure" or "normal" (predicted_failure in words)')
    explanation = ExplanationField(read_only=True, help_text="empty when scored without explanations (a batch "
                                                             "without `explain`)")
    window_end_cycle = serializers.SerializerMethodField(
        help_text="for cycle-indexed data, the cycle of window_end (which is then a 1970 date); else null")
    time_unit = serializers.SerializerMethodField(
        help_text='"cycles" for cycle-indexed data, else "h": the unit of horizon_h, rul_h and the durations '
                  "of the explanation (similar cases, forecast)")

    class Meta:
        model = Prediction
        fields = ["id", "machine", "machine_id", "source", "window_end", "window_end_cycle", "time_unit", "horizon_h",
                  "prediction", "probability", "predicted_failure", "failure_mode", "rul_h", "rul_lower_h",
                  "rul_upper_h", "anomaly_score", "health_score", "confidence", "explanation", "model_version",
                  "versions", "created_at", "state", "risk", "risk_level", "threshold", "rul_beyond_h", "learning",
                  "alarm"]
        read_only_fields = fields

    risk_level = serializers.SerializerMethodField(
        help_text="the risk in words against the alert level (the threshold): low, raised, high, very high")

    def get_risk_level(self, prediction: Prediction) -> str | None:
        if prediction.risk is None or prediction.threshold is None:
            return None  # stored before verdicts were
        return str(risk_levels(np.array([prediction.risk]), prediction.threshold)[0])

    def get_prediction(self, prediction: Prediction) -> str:
        return "failure" if prediction.predicted_failure else "normal"

    def get_window_end_cycle(self, prediction: Prediction) -> int | None:
        return window_end_cycle(prediction.window_end)

    def get_time_unit(self, prediction: Prediction) -> str:
        return prediction.time_unit


class OnboardSerializer(serializers.Serializer[Any]):
    machine_type = serializers.SlugRelatedField(slug_field="key", queryset=MachineType.objects.all())
    machines = serializers.IntegerField(default=DEFAULT_MACHINES, min_value=LIMITS["machines"][0],
                                        max_value=LIMITS["machines"][1],
                                        help_text="simulated machines to train on")
    horizon_h = serializers.FloatField(default=DEFAULT_HORIZON_H, min_value=LIMITS["horizon_h"][0], allow_null=True,
                                       max_value=LIMITS["horizon_h"][1],
                                       help_text="failure within this many hours (cycles for a type with "
                                                 "hours_per_cycle; 0: this reading is a failure); null: half "
                                                 "the warning time of three quarters of the type's failures")
    seed = serializers.IntegerField(default=0, min_value=0)
    synthesizer = serializers.ChoiceField(choices=["gaussian_copula", "tvae", "ctgan", "hybrid"], allow_null=True,
                                          default="gaussian_copula",
                                          help_text="SDV synthesizer for the quality report; null skips it")


class TrainRealSerializer(serializers.Serializer[Any]):
    machine_type = serializers.SlugRelatedField(slug_field="key", queryset=MachineType.objects.all())
    margin = serializers.FloatField(default=0.10, min_value=0, max_value=10,
                                    help_text="promote only when better than the champion by this share")
    horizon_h = serializers.FloatField(default=DEFAULT_HORIZON_H, min_value=LIMITS["horizon_h"][0], allow_null=True,
                                       max_value=LIMITS["horizon_h"][1],
                                       help_text="failure within this long, in the data's own unit: hours, or "
                                                 "cycles for cycle-indexed data; null: 10% of the median run")
    seed = serializers.IntegerField(default=0, min_value=0)
    budget_s = serializers.FloatField(required=False, min_value=10, max_value=3600,
                                      help_text="seconds for each model search, the classifier's and "
                                                "the RUL model's (default 300)")
    max_trials = serializers.IntegerField(required=False, min_value=2, max_value=500,
                                          help_text="at most this many candidate models per search (default 60)")
    rul_cap = serializers.FloatField(required=False, allow_null=True, min_value=1,
                                     help_text="cap on remaining life in the data's own unit; null: chosen on "
                                               "validation runs")


class SynthesizeSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["gaussian_copula", "tvae", "ctgan", "hybrid"], default="gaussian_copula")
    level = serializers.ChoiceField(choices=["window", "row"], default="window")
    rows = serializers.IntegerField(required=False, min_value=1, max_value=200_000)
    epochs = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    seed = serializers.IntegerField(default=0, min_value=0)


class PredictRequestSerializer(serializers.Serializer[Any]):
    # With its type: scoring reads the type's models, sensors and failure modes right after.
    machine = MachineRef(queryset=Machine.objects.select_related("machine_type"))
    readings = serializers.ListField(child=serializers.DictField(), required=False, allow_empty=False,
                                     help_text="[{ts, values}]; omit to use the machine's latest stored window")
    forecast = serializers.BooleanField(default=False, help_text="add each signal's projection and crossing times")


class BatchRequestSerializer(serializers.Serializer[Any]):
    readings = serializers.ListField(child=serializers.DictField(), allow_empty=False,
                                     help_text="[{machine, ts, values}], up to 10,000 rows of one machine type")
    explain = serializers.BooleanField(default=False)


class RollbackSerializer(serializers.Serializer[Any]):
    machine_type = serializers.SlugRelatedField(slug_field="key", queryset=MachineType.objects.all())
    kind = serializers.ChoiceField(choices=ModelVersion.Kind.choices)
    machine = MachineRef(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class DriftReportSerializer(serializers.ModelSerializer[DriftReport]):
    class Meta:
        model = DriftReport
        fields = ["id", "version", "status", "trigger", "window_start", "window_end", "basis", "window_steps",
                  "machines", "rows",
                  "drift_share", "threshold", "prediction_psi", "predictions", "features", "data_quality",
                  "created_at"]
        read_only_fields = fields


class OutcomeSnapshotSerializer(serializers.ModelSerializer[OutcomeSnapshot]):
    class Meta:
        model = OutcomeSnapshot
        fields = ["id", "version", "window_start", "window_end", "tp", "fp", "tn", "fn", "pending", "precision",
                  "recall", "fpr", "rul_mae_h", "rul_count", "created_at"]
        read_only_fields = fields


class RetrainSerializer(serializers.Serializer[Any]):
    machine_type = serializers.SlugRelatedField(slug_field="key", queryset=MachineType.objects.all())


class ChallengerStatusSerializer(serializers.Serializer[Any]):
    """The challenger of a version's type (or the version itself): shadow, outcomes, decisions."""

    challenger = serializers.DictField(allow_null=True)
    comparison = serializers.DictField(allow_null=True, required=False)
    decisions = serializers.ListField(child=serializers.DictField(), required=False)
