"""FailureEvent moved here from predictions with its table (`predictions_failureevent`): this
migration changes only Django's state (predictions 0011 removes it from predictions' state)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("machines", "0006_upload_deletion"),
        ("maintenance", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="FailureEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("occurred_at", models.DateTimeField(db_index=True)),
                        ("failure_mode", models.CharField(blank=True, max_length=64)),
                        ("notes", models.TextField(blank=True)),
                        ("source", models.CharField(choices=[("manual", "Manual"), ("import", "Import"),
                                                             ("label", "Label"), ("work_order", "Work Order")],
                                                    default="manual", max_length=16)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("machine", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                      related_name="failures", to="machines.machine")),
                        ("work_order", models.OneToOneField(blank=True, null=True,
                                                            on_delete=django.db.models.deletion.SET_NULL,
                                                            related_name="failure_event",
                                                            to="maintenance.workorder")),
                    ],
                    options={
                        "db_table": "predictions_failureevent",
                        "ordering": ["-occurred_at", "-id"],
                    },
                ),
            ],
        ),
    ]
