from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from machines.baselines import baseline_status
from machines.models import FailureEvent, Machine, MachineType, MappingPreset, Upload, UploadDeletion
from machines.textfiles import DELIMITERS, ENCODINGS


class MachineRef(serializers.SlugRelatedField):  # type: ignore[type-arg]
    """Machines are referred to by name in requests and responses."""

    def __init__(self, **kwargs: Any) -> None:
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", Machine.objects.all())
        super().__init__(slug_field="name", **kwargs)


class MachineTypeSerializer(serializers.ModelSerializer[MachineType]):
    sensor_count = serializers.SerializerMethodField()
    failure_modes = serializers.SerializerMethodField()

    class Meta:
        model = MachineType
        fields = ["id", "key", "name", "category", "version", "source", "sensor_count", "failure_modes",
                  "created_at", "updated_at"]
        read_only_fields = fields

    def get_sensor_count(self, obj: MachineType) -> int:
        return len(obj.sensors)

    def get_failure_modes(self, obj: MachineType) -> list[str]:
        return [mode["name"] for mode in obj.metadata.get("failure_modes", [])]


class MachineTypeDetailSerializer(MachineTypeSerializer):
    class Meta(MachineTypeSerializer.Meta):
        fields = [*MachineTypeSerializer.Meta.fields, "metadata"]
        read_only_fields = fields


class MetadataBodySerializer(serializers.Serializer[Any]):
    metadata = serializers.JSONField(help_text="The machine type document (docs/metadata.md).")


class AdoptSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="Key of a built-in type, from /api/v1/machine-types/library/.")


class BaselineStatusSerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=["learning", "ready"])
    progress = serializers.IntegerField(min_value=0, max_value=100)
    since = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()


class MachineSerializer(serializers.ModelSerializer[Machine]):
    machine_type = serializers.SlugRelatedField(slug_field="key", queryset=MachineType.objects.all())
    baseline = serializers.SerializerMethodField(
        help_text="The machine's own normal: state (learning or ready), progress (0-100), since, reason.")

    class Meta:
        model = Machine
        fields = ["id", "name", "machine_type", "site", "line", "position", "serial_number", "criticality",
                  "downtime_cost_per_hour", "install_date", "status", "baseline", "created_at", "updated_at"]
        read_only_fields = ["id", "baseline", "created_at", "updated_at"]
        # Uniqueness is the service's answer (409 with the error shape), not a serializer error.
        extra_kwargs: dict[str, dict[str, object]] = {"name": {"validators": []}}


    @extend_schema_field(BaselineStatusSerializer)
    def get_baseline(self, machine: Machine) -> dict[str, Any]:
        # A list passes every machine's status in the context (three queries for the page).
        statuses = self.context.get("baselines") or {}
        status = statuses.get(machine.id) or baseline_status(machine=machine)
        return status.as_dict()


class BaselineResetSerializer(serializers.Serializer[Any]):
    baseline = BaselineStatusSerializer()


class UploadSerializer(serializers.ModelSerializer[Upload]):
    machine_type = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = Upload
        fields = ["id", "original_name", "size_bytes", "sha256", "machine_type", "mapping", "status", "job_id",
                  "rows_read", "rows_stored", "duplicates", "rows_rejected", "error", "created_at", "finished_at"]
        read_only_fields = fields


class UploadDetailSerializer(UploadSerializer):
    class Meta(UploadSerializer.Meta):
        fields = [*UploadSerializer.Meta.fields, "report"]
        read_only_fields = fields


class UploadCreateSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(allow_empty_file=True)  # our own reader says "The file is empty."
    machine_type = serializers.CharField(help_text="Key of one of your machine types.")
    mapping = serializers.JSONField(required=False, help_text="A column mapping (docs/ingest.md), as JSON.")
    preset = serializers.CharField(required=False, help_text="Name of a saved mapping to use instead.")
    save_preset_as = serializers.CharField(required=False, help_text="Save this mapping under a name.")
    encoding = serializers.ChoiceField(choices=list(ENCODINGS), required=False,
                                       help_text="How the CSV text is encoded; detected when left out.")
    delimiter = serializers.ChoiceField(choices=list(DELIMITERS), required=False,
                                        help_text="The CSV delimiter; detected when left out.")
    decimal_mark = serializers.ChoiceField(choices=[".", ","], required=False,
                                           help_text="'.' or ',' (60,5); detected when left out.")
    confirm_mapping = serializers.BooleanField(
        required=False, default=False,
        help_text="Import even though the mapping may misfile readings (an ignored column that looks like "
                  "machine identifiers, a saved mapping made for other columns): refused with 400 "
                  "mapping_doubtful otherwise.")


class UploadDeletionSerializer(serializers.ModelSerializer[UploadDeletion]):
    class Meta:
        model = UploadDeletion
        fields = ["upload", "deleted_by", "deleted_at", "readings_removed", "labels_removed", "machines"]
        read_only_fields = fields


class MappingPresetSerializer(serializers.ModelSerializer[MappingPreset]):
    machine_type = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = MappingPreset
        fields = ["id", "name", "machine_type", "mapping", "header", "created_at", "updated_at"]
        read_only_fields = fields


class FailureEventSerializer(serializers.ModelSerializer[FailureEvent]):
    machine = MachineRef()

    class Meta:
        model = FailureEvent
        fields = ["id", "machine", "occurred_at", "failure_mode", "notes", "source", "work_order", "created_at"]
        read_only_fields = ["id", "source", "work_order", "created_at"]
