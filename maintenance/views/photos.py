"""Photo pages: upload (phone camera or file) onto a work order or an alert, the alert's photos,
a photo's damage assessment and deletion, and the image files themselves.

The files are served here (and by the API) only, after member_view's tenant and role checks:
another tenant's photo is a 404 like any page of theirs, and nothing is under a public /media/
URL. Changes go through `maintenance.photos`; reads through `maintenance.photo_selectors`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from maintenance import photo_selectors, selectors
from maintenance import photos as photo_services
from maintenance.models import Alert, Photo, WorkOrder
from maintenance.photos import PhotoTarget
from maintenance.views.alerts import failure_mode_label
from pdm_saas.errors import ServiceError
from pdm_saas.web_access import member_view, page_actor


class PhotoUploadForm(forms.Form):
    file = forms.FileField(label="Photo", allow_empty_file=True)
    caption = forms.CharField(required=False, max_length=300, label="Caption (optional)")


class AssessmentForm(forms.Form):
    component = forms.CharField(max_length=100, label="Component")
    damage_kind = forms.ChoiceField(choices=[("", "Choose"), *Photo.DamageKind.choices], label="Damage")
    severity = forms.TypedChoiceField(choices=[("", "Choose"), *Photo.Severity.choices], coerce=int,
                                      label="Severity")
    failure_mode = forms.ChoiceField(required=False, label="Failure mode (optional)")

    def __init__(self, *args: Any, modes: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["failure_mode"].choices = [("", "None / not sure"), *modes]  # type: ignore[attr-defined]


def photo_panel(*, photos: list[Photo], upload_url: str, target: WorkOrder | Alert) -> dict[str, Any]:
    """What the photos partial reads, for a work order's page or an alert's photos page."""
    machine_type = target.machine.machine_type
    modes = photo_services.photo_failure_mode_choices(machine_type)
    labels = dict(modes)
    for photo in photos:
        photo.assessment_form = AssessmentForm(modes=modes, prefix=f"p{photo.id}", initial={  # type: ignore[attr-defined]
            "component": photo.component, "damage_kind": photo.damage_kind, "severity": photo.severity,
            "failure_mode": photo.failure_mode})
        photo.mode_label = labels.get(photo.failure_mode, photo.failure_mode)  # type: ignore[attr-defined]
    return {"photos": photos, "upload_url": upload_url, "upload_form": PhotoUploadForm(),
            "components": photo_services.photo_component_choices(machine_type),
            "datalist_id": f"components-{'wo' if isinstance(target, WorkOrder) else 'alert'}-{target.id}"}


def _upload(request: HttpRequest, target: PhotoTarget) -> None:
    form = PhotoUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a photo to upload (take one with the camera or pick a file).")
        return
    try:
        photo_services.photo_add(target=target, chunks=form.cleaned_data["file"].chunks(),
                                 caption=form.cleaned_data["caption"], actor_id=page_actor(request).user_id)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return
    messages.success(request, "Photo added (its location and camera data were removed).")


@member_view()
@require_POST
def work_order_photo_upload(request: HttpRequest, pk: int) -> HttpResponse:
    order = selectors.work_order_for_page(order_id=pk)
    _upload(request, PhotoTarget(work_order_id=order.id))
    return HttpResponseRedirect(reverse("predictions:work-order-detail", args=[order.id]) + "#photos")


@member_view()
def alert_photos(request: HttpRequest, pk: int) -> HttpResponse:
    """An alert's photos (GET) and a new one (POST), with the alert in words above them."""
    alert = selectors.alert_with_work_orders(alert_id=pk)
    if request.method == "POST":
        _upload(request, PhotoTarget(alert_id=alert.id))
        return HttpResponseRedirect(request.path + "#photos")
    panel = photo_panel(photos=photo_selectors.photos_of_alert(alert_id=alert.id), target=alert,
                        upload_url=request.path)
    return render(request, "maintenance/alert_photos.html", {
        "alert": alert, "mode_label": failure_mode_label(alert), **panel})


def _back(photo: Photo) -> str:
    if photo.work_order_id:
        return reverse("predictions:work-order-detail", args=[photo.work_order_id]) + "#photos"
    return reverse("predictions:alert-photos", args=[photo.alert_id]) + "#photos"


@member_view()
@require_POST
def photo_assess_page(request: HttpRequest, pk: int) -> HttpResponse:
    photo = photo_selectors.photo_or_404(photo_id=pk)
    form = AssessmentForm(request.POST, prefix=f"p{photo.id}",
                          modes=photo_services.photo_failure_mode_choices(photo.machine.machine_type))
    if not form.is_valid():
        problems = "; ".join(f"{form.fields[name].label}: {' '.join(str(e) for e in errors)}"
                             for name, errors in form.errors.items())
        messages.error(request, f"The assessment was not saved. {problems}")
        return HttpResponseRedirect(_back(photo))
    try:
        assessed = photo_services.photo_assess(photo_id=photo.id, actor_id=page_actor(request).user_id,
                                               **form.cleaned_data)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(_back(photo))
    messages.success(request, "Assessment saved." + (" Its failure mode is recorded as a failure label for "
                                                     "retraining." if assessed.failure_mode else ""))
    return HttpResponseRedirect(_back(photo))


@member_view()
@require_POST
def photo_delete_page(request: HttpRequest, pk: int) -> HttpResponse:
    photo = photo_selectors.photo_or_404(photo_id=pk)
    try:
        photo_services.photo_delete(photo_id=photo.id)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Photo deleted.")
    return HttpResponseRedirect(_back(photo))


# FileResponse streams (it is no HttpResponse subclass), which member_view's type does not name.
@member_view()  # type: ignore[type-var]
def photo_file(request: HttpRequest, pk: int, size: str) -> FileResponse:
    """The stored image (`full`) or its thumbnail (`thumb`), to members of this tenant only."""
    photo = photo_selectors.photo_or_404(photo_id=pk)
    return photo_file_response(photo, thumb=size == "thumb")


def photo_file_response(photo: Photo, *, thumb: bool) -> FileResponse:
    """Shared with the API: inline, private to the browser, never sniffed as anything else."""
    path = photo_services.photo_file_path(photo, thumb=thumb)
    if not path.is_file():
        raise Http404("The photo's file is missing.")
    response = FileResponse(path.open("rb"), content_type="image/jpeg" if thumb else photo.content_type)
    response["Cache-Control"] = "private, max-age=3600"  # never in a shared cache
    response["Content-Disposition"] = f'inline; filename="photo-{photo.id}{"-thumb" if thumb else ""}.' \
                                      f'{"jpg" if thumb else photo.extension}"'
    return response
