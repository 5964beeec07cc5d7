"""Machine types (with the built-in library), machines and their failure events."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Scope
from machines import baselines, failures, live, services, uploads
from machines.baselines import baseline_statuses
from machines.ingest.mapping import ReadingOptions
from machines.library import library_get, library_list, metadata_export
from machines.models import FailureEvent, Machine, MachineType, MappingPreset, Upload
from machines.reading_store import rul_labels
from machines.selectors import readings_for_machine
from machines.serializers import (
    AdoptSerializer,
    BaselineResetSerializer,
    FailureEventSerializer,
    MachineSerializer,
    MachineTypeDetailSerializer,
    MachineTypeSerializer,
    MappingPresetSerializer,
    MetadataBodySerializer,
    UploadCreateSerializer,
    UploadDeletionSerializer,
    UploadDetailSerializer,
    UploadSerializer,
)
from machines.upload_removal import upload_delete
from pdm_saas.api.base import TenantAPIView, TenantViewSet
from pdm_saas.api.principals import request_actor
from pdm_saas.errors import InvalidInput, NotFound


class MachineTypeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The organization's machine types. Create one by adopting a built-in type or importing a
    metadata document; every change is validated and bumps the version."""

    queryset = MachineType.objects.all()
    filterset_fields = ["category", "source"]
    search_fields = ["name", "key"]
    scope_map = {"destroy": Scope.ADMIN}

    def get_serializer_class(self) -> Any:
        return MachineTypeDetailSerializer if self.action in ("retrieve", "update") else MachineTypeSerializer

    @extend_schema(request=MetadataBodySerializer, responses={201: MachineTypeDetailSerializer})
    def create(self, request: Request) -> Response:
        machine_type = services.machine_type_import(document=_metadata_from(request))
        return Response(MachineTypeDetailSerializer(machine_type).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MetadataBodySerializer, responses=MachineTypeDetailSerializer)
    def update(self, request: Request, pk: str) -> Response:
        machine_type = services.machine_type_update(type_id=int(pk), document=_metadata_from(request))
        return Response(MachineTypeDetailSerializer(machine_type).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.machine_type_delete(type_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={(200, "application/json"): OpenApiResponse(description="The metadata document")})
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str) -> HttpResponse:
        machine_type = self.get_object()
        response = HttpResponse(metadata_export(machine_type.metadata), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{machine_type.key}.json"'
        return response

    @action(detail=False, methods=["get"])
    def library(self, request: Request) -> Response:
        """The built-in library of machine types."""
        return Response(library_list())

    @action(detail=False, methods=["get"], url_path=r"library/(?P<key>[a-z0-9-]+)")
    def library_detail(self, request: Request, key: str) -> Response:
        try:
            return Response(library_get(key))
        except KeyError as exc:
            raise NotFound(f"No built-in machine type '{key}'.") from exc

    @extend_schema(request=AdoptSerializer, responses={201: MachineTypeDetailSerializer})
    @action(detail=False, methods=["post"])
    def adopt(self, request: Request) -> Response:
        body = AdoptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        machine_type = services.machine_type_adopt(key=body.validated_data["key"])
        return Response(MachineTypeDetailSerializer(machine_type).data, status=status.HTTP_201_CREATED)


def _metadata_from(request: Request) -> Any:
    """Accept `{"metadata": {...}}`, a bare document, or an uploaded JSON file (`file`)."""
    upload = request.FILES.get("file")
    if upload is not None:
        return upload.read()
    data = request.data
    if isinstance(data, dict) and set(data) == {"metadata"}:
        return data["metadata"]
    return data


class MachineViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    queryset = Machine.objects.select_related("machine_type")
    serializer_class = MachineSerializer
    filterset_fields = ["site", "line", "status", "criticality", "machine_type__key"]
    search_fields = ["name", "serial_number"]
    ordering_fields = ["name", "criticality", "created_at"]
    scope_map = {"destroy": Scope.ADMIN}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        machines = list(page if page is not None else queryset)
        context = {**self.get_serializer_context(), "baselines": baseline_statuses(machines=machines)}
        data = MachineSerializer(machines, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(request=None, responses={201: BaselineResetSerializer})
    @action(detail=True, methods=["post"], url_path="baseline/reset")
    def baseline_reset(self, request: Request, pk: str) -> Response:
        """Relearn the machine's normal from the readings after its latest one (engineer or above)."""
        machine = self.get_object()
        actor_id = request_actor(request).user_id
        baselines.machine_baseline_reset(machine_id=machine.id, actor_id=actor_id,
                                         reason=baselines.reset_reason(actor_id=actor_id))
        return Response({"baseline": baselines.baseline_status(machine=machine).as_dict()},
                        status=status.HTTP_201_CREATED)

    def create(self, request: Request) -> Response:
        body = MachineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        machine = services.machine_create(machine_type_id=fields.pop("machine_type").id, **fields)
        return Response(MachineSerializer(machine).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}}}, responses={201: MachineSerializer(many=True)})
    @action(detail=False, methods=["post"], url_path="import")
    def import_file(self, request: Request) -> Response:
        """Create machines from a CSV file; all rows or none."""
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Attach the CSV as the `file` field.", details={"file": ["required"]})
        machines = services.machines_import_file(data=upload.read())
        return Response(MachineSerializer(machines, many=True).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        body = MachineSerializer(self.get_object(), data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        machine = services.machine_update(machine_id=int(pk), **body.validated_data)
        return Response(MachineSerializer(machine).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.machine_delete(machine_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Sensor files: upload with a column mapping; a job stores the readings and the report.
    DELETE removes the readings the upload stored (not those it found already stored) and
    scores the machines again; the upload stays, `deleted`, with its audit entry."""

    queryset = Upload.objects.select_related("machine_type")
    scope_map = {"destroy": Scope.WRITE}
    filterset_fields = ["status", "machine_type__key"]
    parser_classes = [MultiPartParser, FormParser]

    def get_serializer_class(self) -> Any:
        return UploadDetailSerializer if self.action == "retrieve" else UploadSerializer

    @extend_schema(request={"multipart/form-data": UploadCreateSerializer}, responses={202: UploadSerializer})
    def create(self, request: Request) -> Response:
        body = UploadCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        upload = uploads.upload_create(
            chunks=data["file"].chunks(uploads.CHUNK), original_name=data["file"].name,
            machine_type_key=data["machine_type"], mapping=data.get("mapping"), preset=data.get("preset"),
            save_preset_as=data.get("save_preset_as"), created_by_id=request_actor(request).user_id,
            reading=ReadingOptions(encoding=data.get("encoding"), delimiter=data.get("delimiter"),
                                   decimal_mark=data.get("decimal_mark")),
            confirm_mapping=data["confirm_mapping"])
        return Response(UploadSerializer(upload).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: UploadDeletionSerializer})
    def destroy(self, request: Request, pk: str) -> Response:
        upload = self.get_object()
        deletion = upload_delete(upload_id=upload.id, actor_id=request_actor(request).user_id)
        return Response(UploadDeletionSerializer(deletion).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(description="line,reason per rejected row")})
    @action(detail=True, methods=["get"], url_path="rejected")
    def rejected(self, request: Request, pk: str) -> FileResponse:
        path = uploads.upload_path(self.get_object()).with_name("rejected.csv")
        if not path.is_file():
            raise NotFound("This upload has not been processed yet.")
        return FileResponse(path.open("rb"), as_attachment=True, filename=f"upload-{pk}-rejected.csv",
                            content_type="text/csv")

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiResponse(description="The raw file")})
    @action(detail=True, methods=["get"], url_path="raw")
    def raw(self, request: Request, pk: str) -> FileResponse:
        upload = self.get_object()
        return FileResponse(uploads.upload_path(upload).open("rb"), as_attachment=True,
                            filename=upload.original_name)


class MappingPresetViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    queryset = MappingPreset.objects.select_related("machine_type")
    serializer_class = MappingPresetSerializer
    filterset_fields = ["machine_type__key"]


class LabelsQuerySerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=10_000, default=1000)


class MachineLabelsView(TenantAPIView):
    """Failure events and per-reading remaining useful life (null when censored), in seconds and
    in the data's own unit (`rul` in `time_unit`: hours, or cycles for cycle-indexed data)."""

    @extend_schema(parameters=[LabelsQuerySerializer], responses=inline_serializer("MachineLabels", fields={
        "failures": FailureEventSerializer(many=True), "readings": serializers.ListField()}))
    def get(self, request: Request, pk: str) -> Response:
        machine = Machine.objects.filter(id=pk).first()
        if machine is None:
            raise NotFound("No such machine.")
        params = LabelsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response({
            "failures": FailureEventSerializer(machine.failures.order_by("occurred_at"), many=True).data,
            "readings": rul_labels(machine_id=machine.id, limit=params.validated_data["limit"]),
        })



class ReadingsPushView(TenantAPIView):
    """Live readings: up to 10,000 per request, stored like an upload's (docs/ingest.md)."""

    scope_map = {"post": Scope.WRITE}

    @extend_schema(request=inline_serializer("ReadingsPush", fields={"readings": serializers.ListField(
        child=serializers.DictField())}), responses=inline_serializer("ReadingsPushed", fields={
            "stored": serializers.IntegerField(), "duplicates": serializers.IntegerField(),
            "rejected": serializers.ListField(child=serializers.DictField())}))
    def post(self, request: Request) -> Response:
        result = live.readings_push(items=request.data)
        return Response({"stored": result.stored, "duplicates": result.duplicates, "rejected": result.rejected})


class ReadingsQuerySerializer(serializers.Serializer[Any]):
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100_000, default=10_000)


class MachineReadingsView(TenantAPIView):
    """A machine's readings in time order, named by sensor (`?start=&end=&limit=`)."""

    @extend_schema(parameters=[ReadingsQuerySerializer], responses=inline_serializer("MachineReading", many=True,
                   fields={"ts": serializers.DateTimeField(), "values": serializers.DictField()}))
    def get(self, request: Request, pk: str) -> Response:
        machine = Machine.objects.select_related("machine_type").filter(id=pk).first()
        if machine is None:
            raise NotFound("No such machine.")
        params = ReadingsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = readings_for_machine(machine=machine, **params.validated_data)
        return Response([{"ts": ts, "values": values} for ts, values in rows])


class FailureEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                          TenantViewSet):
    queryset = FailureEvent.objects.select_related("machine__machine_type")
    serializer_class = FailureEventSerializer
    filterset_fields = ["machine__name", "failure_mode", "source"]
    scope_map = {"destroy": Scope.ADMIN}

    def create(self, request: Request) -> Response:
        body = FailureEventSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        event = failures.failure_event_create(**body.validated_data)
        return Response(FailureEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}}}, responses={201: FailureEventSerializer(many=True)})
    @action(detail=False, methods=["post"], url_path="import")
    def import_file(self, request: Request) -> Response:
        """Failure events from a CSV: machine, occurred_at, failure_mode, notes; all rows or none."""
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Attach the CSV as the `file` field.", details={"file": ["required"]})
        events = failures.failure_events_import(data=upload.read())
        return Response(FailureEventSerializer(events, many=True).data, status=status.HTTP_201_CREATED)
