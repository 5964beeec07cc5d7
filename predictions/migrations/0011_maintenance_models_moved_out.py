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
            if not content_types.filter(app_label=old, model=name).exists():
                continue
            # A row under the new label as well was made by post_migrate after this migration was
            # last reversed: nothing refers to it, while the old row's id is the one permissions and
            # generic references hold. Raw SQL, not the ORM's delete: its cascade would look for
            # permissions in public's auth_permission, whose ids are public's, not this schema's.
            schema_editor.execute("DELETE FROM django_content_type WHERE app_label = %s AND model = %s",
                                  params=[new, name])
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
