"""`/api/v1/photos/`: photos on work orders and alerts, their files and damage assessments.

Upload is multipart (`file` and `work_order` or `alert`); the file is checked from its content,
cleaned of EXIF (GPS above all) and thumbnailed by maintenance/photos.py. `GET <id>/image/`
(`?size=thumb` for the thumbnail) is the only way to the bytes, behind the same tenant and scope
checks as every endpoint.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from maintenance import photo_selectors
from maintenance import photos as photo_services
from maintenance.models import Photo
from maintenance.photos import PhotoTarget
from maintenance.views.photos import photo_file_response
from pdm_saas.api.base import TenantViewSet
from pdm_saas.api.fields import BIGINT_MAX
from pdm_saas.api.principals import request_actor


class PhotoSerializer(serializers.ModelSerializer[Photo]):
    machine = serializers.CharField(source="machine.name", read_only=True)
    severity_label = serializers.CharField(source="get_severity_display", read_only=True, allow_null=True)
    image_url = serializers.SerializerMethodField(help_text="the cleaned image (this API, authenticated)")
    thumb_url = serializers.SerializerMethodField(help_text="its thumbnail, JPEG (this API, authenticated)")

    class Meta:
        model = Photo
        fields = ["id", "machine", "work_order", "alert", "format", "width", "height", "size_bytes", "caption",
                  "uploaded_by", "uploaded_at", "image_url", "thumb_url", "component", "damage_kind", "severity",
                  "severity_label", "failure_mode", "assessed_by", "assessed_at", "failure_event"]
        read_only_fields = fields

    def get_image_url(self, photo: Photo) -> str:
        return reverse("photo-image", args=[photo.id])

    def get_thumb_url(self, photo: Photo) -> str:
        return reverse("photo-image", args=[photo.id]) + "?size=thumb"


class PhotoUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(allow_empty_file=True, help_text="JPEG, PNG or WebP (checked from the content)")
    work_order = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX)
    alert = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX)
    caption = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class AssessmentSerializer(serializers.Serializer[Any]):
    component = serializers.CharField(max_length=100, help_text="the part the photo shows, in words")
    damage_kind = serializers.ChoiceField(choices=Photo.DamageKind.choices)
    severity = serializers.CharField(max_length=20, help_text="1-4, or minor / moderate / severe / critical")
    failure_mode = serializers.CharField(required=False, allow_blank=True, default="", max_length=64,
                                         help_text="a failure mode of the machine's type (name, label or "
                                                   "alias): it becomes a failure label")


class ImageQuerySerializer(serializers.Serializer[Any]):
    size = serializers.ChoiceField(choices=["full", "thumb"], default="full", required=False)


class PhotoViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    queryset = Photo.objects.none()  # get_queryset: the selector
    serializer_class = PhotoSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_fields = ["work_order", "alert", "machine__name", "damage_kind", "severity", "failure_mode"]

    def dangerously_get_unscoped_queryset(self) -> Any:
        return photo_selectors.photo_list()  # a tenant-schema table: the schema is the scope

    @extend_schema(request={"multipart/form-data": PhotoUploadSerializer}, responses={201: PhotoSerializer})
    def create(self, request: Request) -> Response:
        body = PhotoUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        photo = photo_services.photo_add(
            target=PhotoTarget(work_order_id=data.get("work_order"), alert_id=data.get("alert")),
            chunks=data["file"].chunks(), caption=data["caption"], actor_id=request_actor(request).user_id)
        return Response(PhotoSerializer(photo_selectors.photo_or_404(photo_id=photo.id)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        photo_services.photo_delete(photo_id=self.get_object().id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[OpenApiParameter("size", OpenApiTypes.STR, enum=["full", "thumb"])],
                   responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The image")})
    @action(detail=True, methods=["get"], url_path="image", url_name="image")
    def image(self, request: Request, pk: str) -> FileResponse:
        query = ImageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return photo_file_response(self.get_object(), thumb=query.validated_data["size"] == "thumb")

    @extend_schema(request=AssessmentSerializer, responses=PhotoSerializer)
    @action(detail=True, methods=["post"])
    def assessment(self, request: Request, pk: str) -> Response:
        """What a person saw in the photo; a failure mode named becomes a failure label."""
        photo = self.get_object()
        body = AssessmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data["severity"] = photo_services.severity_parse(data["severity"])
        photo_services.photo_assess(photo_id=photo.id, actor_id=request_actor(request).user_id, **data)
        return Response(PhotoSerializer(photo_selectors.photo_or_404(photo_id=photo.id)).data)
