"""Alert rules, alerts, work orders, webhooks (now maintenance's) and failure events (now
machines') leave predictions' state; their tables stay as they are (maintenance 0001 and
machines 0007 took the models over). Their content types follow them, so permissions and any
generic reference keep pointing at the same rows.

Reversible: backwards, the models come back to predictions' state and the content types are
relabelled back."""

from typing import Any

from django.db import migrations

MOVED = {
    "maintenance": ("alertrule", "alert", "workorder", "workorderevent", "webhookendpoint", "webhookdelivery"),
    "machines": ("failureevent",),
}


def _relabel(apps: Any, schema_editor: Any, *, backwards: bool) -> None:
    content_types = apps.get_model("contenttypes", "ContentType").objects.db_manager(schema_editor.connection.alias)
    for app_label, names in MOVED.items():
        old, new = (app_label, "predictions") if backwards else ("predictions", app_label)
        for name in names:
            # Where the new label exists already (post_migrate created it), the old row is left
            # stale, as Django's own RenameModel does: `remove_stale_contenttypes` deals with it.
            if not content_types.filter(app_label=new, model=name).exists():
                content_types.filter(app_label=old, model=name).update(app_label=new)
    content_types.clear_cache()


def content_types_forward(apps: Any, schema_editor: Any) -> None:
    _relabel(apps, schema_editor, backwards=False)


def content_types_backward(apps: Any, schema_editor: Any) -> None:
    _relabel(apps, schema_editor, backwards=True)


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("predictions", "0010_alert_kinds_work_order_mode"),
        ("maintenance", "0001_initial"),
        ("machines", "0007_failureevent_moved_in"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            # Models that others point at go after those pointing at them.
            state_operations=[
                migrations.DeleteModel(name="FailureEvent"),
                migrations.DeleteModel(name="WorkOrderEvent"),
                migrations.DeleteModel(name="WebhookDelivery"),
                migrations.DeleteModel(name="WorkOrder"),
                migrations.DeleteModel(name="Alert"),
                migrations.DeleteModel(name="AlertRule"),
                migrations.DeleteModel(name="WebhookEndpoint"),
            ],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
