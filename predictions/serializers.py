"""Shapes of the ML engine's API: datasets, model versions, predictions, onboarding."""

from __future__ import annotations

from typing import Any

import numpy as np
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


class PredictionSerializer(serializers.ModelSerializer[Prediction]):
    machine = MachineRef(read_only=True)
    window_end_cycle = serializers.SerializerMethodField(
        help_text="for cycle-indexed data, the cycle of window_end (which is then a 1970 date); else null")
    time_unit = serializers.SerializerMethodField(
        help_text='"cycles" for cycle-indexed data, else "h": the unit of horizon_h, rul_h and the durations '
                  "of the explanation (similar cases, forecast)")

    class Meta:
        model = Prediction
        fields = ["id", "machine", "source", "window_end", "window_end_cycle", "time_unit", "horizon_h",
                  "probability", "predicted_failure", "failure_mode", "rul_h", "rul_lower_h", "rul_upper_h",
                  "anomaly_score", "health_score", "confidence", "explanation", "model_version", "versions",
                  "created_at", "state", "risk", "risk_level", "threshold", "rul_beyond_h", "learning", "alarm"]
        read_only_fields = fields

    risk_level = serializers.SerializerMethodField(
        help_text="the risk in words against the alert level (the threshold): low, raised, high, very high")

    def get_risk_level(self, prediction: Prediction) -> str | None:
        if prediction.risk is None or prediction.threshold is None:
            return None  # stored before verdicts were
        return str(risk_levels(np.array([prediction.risk]), prediction.threshold)[0])

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
