"""The ML engine's API: onboarding, datasets, the model registry and predictions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from accounts.roles import Scope
from jobs.models import Job
from jobs.serializers import JobSerializer
from pdm_saas.api.base import TenantViewSet
from pdm_saas.api.bodies import NoteSerializer
from pdm_saas.api.principals import request_actor
from predictions.models import Dataset, ModelVersion, Prediction
from predictions.serializers import (
    BatchRequestSerializer,
    ChallengerStatusSerializer,
    DatasetSerializer,
    DriftReportSerializer,
    ModelEventSerializer,
    ModelVersionSerializer,
    OnboardSerializer,
    OutcomeSnapshotSerializer,
    PredictionSerializer,
    PredictRequestSerializer,
    RetrainSerializer,
    RollbackSerializer,
    SynthesizeSerializer,
    TrainRealSerializer,
)
from predictions.services import drift, real_training, registry, scoring, synthesis, training
from predictions.services.challenger import deciding, monitor, retraining
from predictions.services.inputs import scoring_readings

REPORTS_SHOWN = 50


class DatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Training data with provenance; `synthesize/` fits an SDV synthesizer on one, as a job."""

    queryset = Dataset.objects.select_related("machine_type")
    serializer_class = DatasetSerializer
    filterset_fields = ["source", "machine_type__key"]

    @extend_schema(request=SynthesizeSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def synthesize(self, request: Request, pk: str) -> Response:
        body = SynthesizeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = synthesis.synthesis_start(dataset=self.get_object(), created_by_id=request_actor(request).user_id,
                                        **body.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Trained models per machine type; admins promote, roll back and archive."""

    # The global explanation is the model page's (some 40 kB a version), not the API's.
    queryset = ModelVersion.objects.select_related("machine_type", "machine").defer("global_explanation")
    serializer_class = ModelVersionSerializer
    filterset_fields = ["kind", "status", "machine_type__key", "data_source"]
    ordering_fields = ["created_at", "number"]
    scope_map = {"promote": Scope.ADMIN, "rollback": Scope.ADMIN, "archive": Scope.ADMIN}

    @extend_schema(request=OnboardSerializer, responses={202: JobSerializer})
    @action(detail=False, methods=["post"])
    def onboard(self, request: Request) -> Response:
        """Simulate the type's fleet, train its four models and score its machines, as a job."""
        return _type_job(request, OnboardSerializer, training.onboarding_start)

    @extend_schema(request=TrainRealSerializer, responses={202: JobSerializer})
    @action(detail=False, methods=["post"], url_path="train-real")
    def train_real(self, request: Request) -> Response:
        """Train on the type's real readings and failure events, fine-tune the champions, and
        promote what beats them on held-out real data by the margin, as a job."""
        return _type_job(request, TrainRealSerializer, real_training.real_training_start)

    @extend_schema(request=NoteSerializer, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"])
    def promote(self, request: Request, pk: str) -> Response:
        return self._lifecycle(request, pk, registry.model_version_promote)

    @extend_schema(request=NoteSerializer, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str) -> Response:
        return self._lifecycle(request, pk, registry.model_version_archive)

    def _lifecycle(self, request: Request, pk: str, change: Callable[..., ModelVersion]) -> Response:
        self.get_object()
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = change(version_id=int(pk), actor_id=request_actor(request).user_id, note=body.validated_data["note"])
        return Response(ModelVersionSerializer(version).data)

    @extend_schema(request=RollbackSerializer, responses=ModelVersionSerializer)
    @action(detail=False, methods=["post"])
    def rollback(self, request: Request) -> Response:
        """Bring back the previous champion of a (type, kind[, machine])."""
        body = RollbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        version = registry.model_version_rollback(
            machine_type_id=data["machine_type"].id, kind=data["kind"],
            machine_id=data["machine"].id if data["machine"] else None,
            actor_id=request_actor(request).user_id, note=data["note"],
        )
        return Response(ModelVersionSerializer(version).data)

    @extend_schema(responses=ModelEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str) -> Response:
        return Response(ModelEventSerializer(self.get_object().events.all(), many=True).data)

    @extend_schema(responses=DriftReportSerializer(many=True))
    @action(detail=True, methods=["get"])
    def drift(self, request: Request, pk: str) -> Response:
        """The version's drift reports, newest first (the latest REPORTS_SHOWN)."""
        reports = self.get_object().drift_reports.all()[:REPORTS_SHOWN]
        return Response(DriftReportSerializer(reports, many=True).data)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"], url_path="drift/check")
    def drift_check(self, request: Request, pk: str) -> Response:
        """Check drift now (and, for a classifier, take an outcome snapshot), as a job (engineers and above)."""
        job = drift.drift_check_start(version=self.get_object(), created_by_id=request_actor(request).user_id)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=OutcomeSnapshotSerializer(many=True))
    @action(detail=True, methods=["get"])
    def outcomes(self, request: Request, pk: str) -> Response:
        """Live precision, recall, FPR and RUL error over time, newest first."""
        snapshots = self.get_object().outcome_snapshots.all()[:REPORTS_SHOWN]
        return Response(OutcomeSnapshotSerializer(snapshots, many=True).data)

    @extend_schema(request=RetrainSerializer, responses={202: JobSerializer})
    @action(detail=False, methods=["post"])
    def retrain(self, request: Request) -> Response:
        """Retrain the type's classifier and RUL regressor as a challenger that scores in shadow,
        as a job (409 while a challenger of the type is pending)."""
        return _type_job(request, RetrainSerializer, retraining.challenger_start)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], url_path="explanation")
    def global_explanation(self, request: Request, pk: str) -> Response:
        """What the model looks at overall (docs/models.md, "Global explanations"): signals by mean
        |SHAP| share, the summary and dependence points; {} for versions trained before."""
        version = ModelVersion.objects.only("id", "global_explanation").get(id=self.get_object().id)
        return Response(version.global_explanation or {})

    @extend_schema(responses=ChallengerStatusSerializer)
    @action(detail=True, methods=["get"], url_path="challenger")
    def challenger_status(self, request: Request, pk: str) -> Response:
        """The challenger of this version's type (or this version): shadow window, outcomes so
        far beside the champion's, and its decisions."""
        status_ = monitor.challenger_status(version=self.get_object())
        return Response(ChallengerStatusSerializer(status_).data)

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str) -> Response:
        """Apply the promotion rule to this challenger now: promote, reject or keep shadowing."""
        self.get_object()
        decision = deciding.challenger_decide(challenger_id=int(pk), actor_id=request_actor(request).user_id)
        return Response(registry.json_safe(decision))


def _type_job(request: Request, serializer: type[Serializer[Any]], start: Callable[..., Job]) -> Response:
    """Validate the body, start the job about its machine type, answer 202 with the job."""
    body = serializer(data=request.data)
    body.is_valid(raise_exception=True)
    data = dict(body.validated_data)
    job = start(machine_type=data.pop("machine_type"), created_by_id=request_actor(request).user_id, **data)
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class PredictionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Stored predictions, newest first; POST predicts one machine now, `batch/` many rows."""

    queryset = Prediction.objects.select_related("machine")
    serializer_class = PredictionSerializer
    filterset_fields = ["machine__name", "source", "predicted_failure", "failure_mode"]
    ordering_fields = ["created_at", "probability", "health_score", "window_end"]
    scope_map = {"create": Scope.PREDICT, "batch": Scope.PREDICT}

    @extend_schema(request=PredictRequestSerializer, responses={201: PredictionSerializer})
    def create(self, request: Request) -> Response:
        body = PredictRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        machine = body.validated_data["machine"]
        readings: Any = body.validated_data.get("readings")
        if readings:
            _, readings = scoring_readings(items=readings, limit=scoring.MAX_BATCH_ROWS, machine=machine)
        prediction = scoring.machine_predict(machine=machine, readings=readings,
                                             forecast=body.validated_data["forecast"])
        return Response(PredictionSerializer(prediction).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BatchRequestSerializer, responses={201: PredictionSerializer(many=True)})
    @action(detail=False, methods=["post"])
    def batch(self, request: Request) -> Response:
        body = BatchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        machine_type, readings = scoring_readings(items=body.validated_data["readings"], limit=scoring.MAX_BATCH_ROWS)
        predictions = scoring.batch_predict(machine_type=machine_type, readings=readings,
                                            explain=body.validated_data["explain"])
        return Response(PredictionSerializer(predictions, many=True).data, status=status.HTTP_201_CREATED)
