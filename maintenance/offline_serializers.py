"""The body of a sync (`POST /api/v1/offline/sync/` and the page's `/offline/sync/`): a list of
queued operations, validated whole before any is applied (a malformed one is a 400 naming it,
and nothing is written). Photos come as multipart files named by their operation's `file`."""

from __future__ import annotations

import json
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.utils.datastructures import MultiValueDict
from rest_framework import serializers

from maintenance.models import WorkOrder
from maintenance.offline import KINDS, MAX_OPERATIONS, Operation
from pdm_saas.api.fields import BIGINT_MAX
from pdm_saas.errors import InvalidInput

# The fields each kind needs (one of them, for a checklist answer).
NEEDS = {"checklist.answer": ("item",), "work_order.note": ("note",), "work_order.transition": ("status",),
         "work_order.close": ("failure_found", "action_taken"), "photo.add": ("file",)}
DATA_FIELDS = ("done", "value", "note", "status", "failure_found", "failure_mode_found", "action_taken",
               "actual_cost", "actual_downtime_hours", "caption")


class OperationSerializer(serializers.Serializer[Any]):
    op_id = serializers.UUIDField(help_text="made by the browser; the same id sent again is applied once")
    kind = serializers.ChoiceField(choices=KINDS)
    work_order = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    item = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX,
                                    help_text="checklist.answer: the work order's checklist item")
    base = serializers.CharField(required=False, allow_blank=True, max_length=64, default="",
                                 help_text="what the change was made against: the item's `version` (answers) "
                                           "or the work order's status (moves, closing); empty: not checked")
    made_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    done = serializers.BooleanField(required=False, allow_null=True)
    value = serializers.CharField(required=False, allow_blank=True, max_length=2000, trim_whitespace=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    status = serializers.ChoiceField(required=False, choices=[s for s in WorkOrder.Status.values
                                                               if s != WorkOrder.Status.DONE])
    failure_found = serializers.BooleanField(required=False)
    failure_mode_found = serializers.CharField(required=False, allow_blank=True, max_length=64)
    action_taken = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    actual_cost = serializers.DecimalField(required=False, allow_null=True, max_digits=12, decimal_places=2,
                                           min_value=0)
    actual_downtime_hours = serializers.DecimalField(required=False, allow_null=True, max_digits=8,
                                                     decimal_places=2, min_value=0)
    caption = serializers.CharField(required=False, allow_blank=True, max_length=300)
    file = serializers.CharField(required=False, max_length=100, help_text="photo.add: the multipart field "
                                                                          "holding the image")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in NEEDS[attrs["kind"]] if attrs.get(name) in (None, "")]
        if missing:
            raise serializers.ValidationError({name: [f"required for {attrs['kind']}"] for name in missing})
        if attrs["kind"] == "checklist.answer" and all(attrs.get(k) is None for k in ("done", "value", "note")):
            raise serializers.ValidationError({"done": ["send done, value or note"]})
        return attrs


class SyncSerializer(serializers.Serializer[Any]):
    operations = OperationSerializer(many=True, allow_empty=False, max_length=MAX_OPERATIONS)


def operations_parse(body: Any, files: MultiValueDict[str, UploadedFile]) -> list[Operation]:
    """The operations of a JSON body, or of a multipart one (`operations`: the same JSON as text,
    beside the photos' files). Raises InvalidInput naming the first problem."""
    if isinstance(body, dict) and isinstance(body.get("operations"), str):
        try:
            body = {"operations": json.loads(body["operations"])}
        except ValueError:
            raise InvalidInput("`operations` is not JSON.", details={"operations": ["not JSON"]}) from None
    checked = SyncSerializer(data=body)
    if not checked.is_valid():
        raise InvalidInput(_first_problem(checked.errors), details=checked.errors)
    return [_operation(data, files, index) for index, data in enumerate(checked.validated_data["operations"])]


def _operation(data: dict[str, Any], files: MultiValueDict[str, UploadedFile], index: int) -> Operation:
    fields = {name: data[name] for name in DATA_FIELDS if name in data and data[name] is not None}
    if data["kind"] == "photo.add":
        upload = files.get(data["file"])
        if upload is None:
            raise InvalidInput(f"Operation {index + 1}: no file named {data['file'][:100]!r} was sent.",
                               details={"operations": {str(index): {"file": ["missing"]}}})
        fields["file"] = upload
    return Operation(op_id=data["op_id"], kind=data["kind"], work_order_id=data["work_order"],
                     item_id=data.get("item"), base=data["base"], made_at=data["made_at"], data=fields)


def _first_problem(errors: Any) -> str:
    """"Operation 2, value: ..." for the first error, so the person (or client) knows where."""
    listed = errors.get("operations") if isinstance(errors, dict) else None
    # DRF gives a list's errors as a list (one entry per operation) or a dict by index.
    pairs = list(listed.items()) if isinstance(listed, dict) else list(enumerate(listed or []))
    for index, problem in pairs:
        if isinstance(problem, dict) and problem and isinstance(index, int):
            name, text = next(iter(problem.items()))
            return f"Operation {index + 1}, {name}: {text[0] if isinstance(text, list) else text}"
        if problem and not isinstance(problem, dict):
            return f"operations: {problem}"
    return "Send a list of operations (`operations`)."
