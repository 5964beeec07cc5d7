"""Photos on work orders and alerts: storing them cleaned, removing them, and a person's damage
assessment, whose failure mode becomes a failure label as a closed work order's does.

Files live under the tenant's folder (tenants/storage.py) as `photos/<key>.<ext>` and
`photos/<key>-thumb.jpg`, `key` random: no part of a path comes from the user. They are only
ever served by maintenance/views/photos.py and the API, after the tenant and role checks; there
is no public URL. No image model judges a photo: the assessment is what a person saw.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from engine.metadata import failure_mode_label
from machines.failures import failure_mode_resolve
from machines.models import FailureEvent, MachineType
from maintenance.models import Alert, Photo, WorkOrder
from maintenance.photo_images import CleanImage, PhotoRefused, image_clean
from pdm_saas.errors import InvalidInput, NotFound
from tenants.db import connection
from tenants.storage import tenant_path

PHOTO_DIR = "photos"


@dataclass(frozen=True)
class PhotoTarget:
    """What a photo is attached to: a work order or an alert (exactly one)."""

    work_order_id: int | None = None
    alert_id: int | None = None


def photo_file_path(photo: Photo, *, thumb: bool = False) -> Path:
    name = f"{photo.key}-thumb.jpg" if thumb else f"{photo.key}.{photo.extension}"
    return tenant_path(connection.schema_name, PHOTO_DIR, name)


def photo_add(*, target: PhotoTarget, chunks: Iterable[bytes], caption: str = "", actor_id: int | None) -> Photo:
    """Check, clean and store one photo; refused (nothing written) when too big or not an image."""
    machine_id = _target_machine(target)
    data = _bounded(chunks, limit=settings.PDM_PHOTO_MAX_BYTES)
    try:
        clean = image_clean(data, max_pixels=settings.PDM_PHOTO_MAX_PIXELS, thumb_px=settings.PDM_PHOTO_THUMB_PX)
    except PhotoRefused as exc:
        raise InvalidInput(str(exc), code="not_an_image", details={"file": [str(exc)]}) from exc
    photo = Photo(machine_id=machine_id, work_order_id=target.work_order_id, alert_id=target.alert_id,
                  key=secrets.token_hex(16), format=clean.format, width=clean.width, height=clean.height,
                  size_bytes=len(clean.data), caption=caption.strip()[:300], uploaded_by_id=actor_id)
    _files_write(photo, clean)
    try:
        photo.save()
    except BaseException:
        _files_remove(photo)
        raise
    return photo


def _target_machine(target: PhotoTarget) -> int:
    if (target.work_order_id is None) == (target.alert_id is None):
        raise InvalidInput("Attach a photo to a work order or to an alert (one of them).",
                           details={"work_order": ["give this or alert"]})
    if target.work_order_id is not None:
        machine_id = WorkOrder.objects.filter(id=target.work_order_id).values_list("machine_id", flat=True).first()
        what = "work order"
    else:
        alert_id: int = target.alert_id  # type: ignore[assignment]  # one of the two is set (checked above)
        machine_id = Alert.objects.filter(id=alert_id).values_list("machine_id", flat=True).first()
        what = "alert"
    if machine_id is None:
        raise NotFound(f"No such {what}.")
    return machine_id


def _bounded(chunks: Iterable[bytes], *, limit: int) -> bytes:
    """The file's bytes in memory, refused as soon as they pass the limit (nothing on disk)."""
    parts, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise InvalidInput(f"The photo is larger than the {limit / 2**20:g} MB limit: send a smaller one "
                               "(phones can take photos at a lower resolution).", code="file_too_large",
                               details={"file": [f"at most {limit} bytes"]})
        parts.append(chunk)
    if not size:
        raise InvalidInput("The file is empty.", code="not_an_image", details={"file": ["empty"]})
    return b"".join(parts)


def _files_write(photo: Photo, clean: CleanImage) -> None:
    full, thumb = photo_file_path(photo), photo_file_path(photo, thumb=True)
    full.parent.mkdir(parents=True, exist_ok=True)
    try:
        full.write_bytes(clean.data)
        thumb.write_bytes(clean.thumb)
    except BaseException:
        _files_remove(photo)
        raise


def _files_remove(photo: Photo) -> None:
    for thumb in (False, True):
        photo_file_path(photo, thumb=thumb).unlink(missing_ok=True)


def photo_files_remove_on_commit(photo: Photo) -> None:
    """After the row's deletion commits, its files go (a rolled-back deletion keeps them).
    Connected to post_delete (maintenance/apps.py) so that cascades, from a deleted machine say,
    remove the files too: they never pass through `photo_delete`."""
    schema = connection.schema_name
    paths = [tenant_path(schema, PHOTO_DIR, f"{photo.key}.{photo.extension}"),
             tenant_path(schema, PHOTO_DIR, f"{photo.key}-thumb.jpg")]
    transaction.on_commit(lambda: _paths_unlink(paths))


def _paths_unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


@transaction.atomic
def photo_delete(*, photo_id: int) -> None:
    photo = Photo.objects.select_for_update().filter(id=photo_id).first()
    if photo is None:
        raise NotFound("No such photo.")
    own = _own_label(photo)
    photo.delete()
    if own is not None:
        own.delete()  # the label stood on this photo alone


# --- the damage assessment ----------------------------------------------------------------------


def severity_parse(value: str | int | None) -> int | None:
    """1-4, or its word (minor, moderate, severe, critical); None for none."""
    if value in (None, ""):
        return None
    words = {label.casefold(): number for number, label in Photo.Severity.choices}
    text = str(value).strip().casefold()
    number = words.get(text) or (int(text) if text.isdigit() else None)
    if number not in Photo.Severity.values:
        raise InvalidInput(f"Severity {str(value)[:20]!r} is not 1-4 or one of minor, moderate, severe, critical.",
                           details={"severity": ["1-4 or minor / moderate / severe / critical"]})
    return number


@transaction.atomic
def photo_assess(*, photo_id: int, component: str, damage_kind: str, severity: int | None,
                 failure_mode: str = "", actor_id: int | None) -> Photo:
    """Record what a person saw in the photo. A failure mode named becomes a failure label of the
    machine (source `photo_assessment`, at the photo's time), or joins the label its work order or
    alert already has for that mode: one failure, one label."""
    photo = Photo.objects.select_for_update().select_related("machine__machine_type").filter(id=photo_id).first()
    if photo is None:
        raise NotFound("No such photo.")
    _assessment_check(component=component, damage_kind=damage_kind, severity=severity)
    mode = _mode(photo.machine.machine_type, failure_mode)
    photo.component, photo.damage_kind, photo.severity = component.strip(), damage_kind, severity
    photo.failure_mode, photo.assessed_by_id, photo.assessed_at = mode, actor_id, timezone.now()
    photo.failure_event = _label_for(photo, mode)
    photo.save()
    return photo


def _mode(machine_type: MachineType, given: str) -> str:
    """A failure mode by its label as people read it, or by name or alias as everywhere else."""
    for name, label in photo_failure_mode_choices(machine_type):
        if given.strip() and label.casefold() == given.strip().casefold():
            return name
    return failure_mode_resolve(machine_type=machine_type, label=given)


def _assessment_check(*, component: str, damage_kind: str, severity: int | None) -> None:
    problems: dict[str, list[str]] = {}
    if not component.strip() or len(component.strip()) > 100:
        problems["component"] = ["say which part the photo shows (up to 100 characters)"]
    if damage_kind not in Photo.DamageKind.values:
        problems["damage_kind"] = [f"one of {', '.join(Photo.DamageKind.values)}"]
    if severity not in Photo.Severity.values:
        problems["severity"] = ["1-4 (minor, moderate, severe, critical)"]
    if problems:
        raise InvalidInput("The assessment needs a component, a damage kind and a severity: "
                           + "; ".join(f"{name}: {text[0]}" for name, text in problems.items()) + ".",
                           details=problems)


def _label_for(photo: Photo, mode: str) -> FailureEvent | None:
    current = photo.failure_event
    if current is not None and current.failure_mode == mode:
        return current
    own = _own_label(photo)
    if own is not None:
        photo.failure_event = None
        photo.save(update_fields=["failure_event"])
        own.delete()
    if not mode:
        return None
    shared = _shared_label(photo, mode)
    if shared is not None:
        return shared
    return FailureEvent.objects.create(machine_id=photo.machine_id, occurred_at=photo.uploaded_at, failure_mode=mode,
                                       notes=_label_notes(photo), source=FailureEvent.Source.PHOTO_ASSESSMENT)


def _own_label(photo: Photo) -> FailureEvent | None:
    """The label this photo's assessment made and no other photo or work order stands on."""
    event = photo.failure_event
    if event is None or event.source != FailureEvent.Source.PHOTO_ASSESSMENT:
        return None
    return None if event.photos.exclude(id=photo.id).exists() else event


def _shared_label(photo: Photo, mode: str) -> FailureEvent | None:
    """The label this failure already has: its work order's own (closed with this mode found), else
    the one another photo of the same work order or alert made for this mode."""
    if photo.work_order_id is not None:
        closed = FailureEvent.objects.filter(work_order_id=photo.work_order_id, failure_mode=mode).first()
        if closed is not None:
            return closed
    same = Q(work_order_id=photo.work_order_id) if photo.work_order_id is not None else Q(alert_id=photo.alert_id)
    siblings = Photo.objects.filter(same, failure_mode=mode, failure_event__isnull=False).exclude(id=photo.id)
    sibling = siblings.select_related("failure_event").order_by("id").first()
    return sibling.failure_event if sibling is not None else None


def _label_notes(photo: Photo) -> str:
    target = f"WO-{photo.work_order_id}" if photo.work_order_id else f"alert {photo.alert_id}"
    return (f"From a photo on {target}: {photo.get_damage_kind_display().lower()} of {photo.component}, "
            f"{photo.get_severity_display().lower()}.")


def photo_labels_join_work_order(*, order: WorkOrder, event: FailureEvent) -> None:
    """A work order closed with a failure found: its photos' labels of the same mode were the
    same failure, seen earlier. They join the work order's label and their own ones go."""
    if not event.failure_mode:  # a failure of no named mode matches no assessment
        return
    photos = list(Photo.objects.filter(work_order=order, failure_mode=event.failure_mode)
                  .exclude(failure_event=event).select_related("failure_event"))
    stale = {p.failure_event.id for p in photos
             if p.failure_event is not None and p.failure_event.source == FailureEvent.Source.PHOTO_ASSESSMENT}
    Photo.objects.filter(id__in=[p.id for p in photos]).update(failure_event=event)
    FailureEvent.objects.filter(id__in=stale, photos__isnull=True).delete()


def photo_component_choices(machine_type: MachineType) -> list[str]:
    """What the component field suggests: the type's components when its metadata lists them,
    else its sensors' labels (where they sit); free text is always accepted."""
    document = machine_type.metadata or {}
    listed = [str(c.get("label") or c.get("name") if isinstance(c, dict) else c)
              for c in document.get("components") or []]
    return listed or [str(s.get("label") or s.get("name")) for s in document.get("sensors") or []]


def photo_failure_mode_choices(machine_type: MachineType) -> list[tuple[str, str]]:
    modes = (machine_type.metadata or {}).get("failure_modes") or []
    return [(str(m["name"]), failure_mode_label(machine_type.metadata, m["name"])) for m in modes if m.get("name")]
