"""Deleting an upload: the readings it stored, and only those, go; its machines are scored again
and an audit entry (UploadDeletion) says who removed how many readings of which machines.

Exact because each reading keeps the upload that stored it (`machines_reading.upload_id`): a row
an upload found already stored (ON CONFLICT DO NOTHING, counted as "already stored") keeps the
earlier upload's id, so deleting the later upload leaves it. Everything happens in one
transaction: a failure anywhere leaves the readings, the labels and the upload as they were.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from machines.models import Machine, ObservationLabel, Upload, UploadDeletion
from machines.signals import readings_changed_send
from pdm_saas.errors import Conflict, NotFound
from tenants.db import connection

DELETE_SQL = ("WITH gone AS (DELETE FROM machines_reading WHERE upload_id = %s RETURNING machine_id) "
              "SELECT machine_id, count(*) FROM gone GROUP BY machine_id")
DELETABLE = (Upload.Status.SUCCEEDED, Upload.Status.FAILED)


def upload_delete(*, upload_id: int, actor_id: int | None) -> UploadDeletion:
    """Remove the readings and observation labels the upload stored; the upload row stays,
    `deleted`, with its file and report, for the record. Failure events its labels made stay:
    they are not tied to one upload (a later upload may have found the same event)."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().filter(id=upload_id).first()  # one deletion at a time
        if upload is None:
            raise NotFound("No such upload.")
        if upload.status not in DELETABLE:
            raise Conflict(_refusal(upload), code="upload_not_deletable")
        with connection.cursor() as cursor:
            cursor.execute(DELETE_SQL, [upload.id])
            counts = {int(machine_id): int(count) for machine_id, count in cursor.fetchall()}
        labels, _ = ObservationLabel.objects.filter(upload_id=upload.id).delete()
        names = dict(Machine.objects.filter(id__in=counts).values_list("id", "name"))
        deletion = UploadDeletion.objects.create(
            upload=upload, deleted_by_id=actor_id, deleted_at=timezone.now(),
            readings_removed=sum(counts.values()), labels_removed=labels,
            machines=[{"id": machine_id, "name": names.get(machine_id, str(machine_id)), "readings": count}
                      for machine_id, count in sorted(counts.items(), key=lambda item: names.get(item[0], ""))])
        Upload.objects.filter(id=upload.id).update(status=Upload.Status.DELETED)
        if counts:  # the machines' latest predictions read the removed readings: scored again
            readings_changed_send(machine_type_id=upload.machine_type_id, machine_ids=counts)
    return deletion


def _refusal(upload: Upload) -> str:
    if upload.status == Upload.Status.DELETED:
        return "This upload was already deleted."
    return "This upload is still being imported; delete it once its import has finished."
