"""Alert rules, alerts, work orders and their events, webhook endpoints and deliveries moved here
from predictions with their tables (`predictions_*`): this migration changes only Django's state.
The database already holds the tables, created by predictions' migrations 0001 to 0010;
predictions 0011 removes the models from predictions' state and relabels their content types."""

import django.db.models.deletion
import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("machines", "0006_upload_deletion"),
        ("predictions", "0010_alert_kinds_work_order_mode"),  # the tables exist, as this state says
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='WebhookEndpoint',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100)),
                        ('url', models.URLField(max_length=500)),
                        ('secret', models.CharField(max_length=64)),
                        ('is_active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'predictions_webhookendpoint',
                        'ordering': ['name', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='Alert',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('failure', 'Failure'), ('anomaly', 'Anomaly')], default='failure', max_length=16)),
                        ('failure_mode', models.CharField(blank=True, max_length=64)),
                        ('severity', models.CharField(choices=[('warning', 'Warning'), ('critical', 'Critical')], max_length=16)),
                        ('status', models.CharField(choices=[('open', 'Open'), ('acknowledged', 'Acknowledged'), ('resolved', 'Resolved')], db_index=True, default='open', max_length=16)),
                        ('probability', models.FloatField()),
                        ('title', models.CharField(max_length=200)),
                        ('explanation', models.JSONField(blank=True, default=dict)),
                        ('recommendation', models.TextField(blank=True)),
                        ('occurrences', models.PositiveIntegerField(default=1)),
                        ('escalation_level', models.PositiveSmallIntegerField(default=0)),
                        ('opened_at', models.DateTimeField(auto_now_add=True)),
                        ('last_seen_at', models.DateTimeField(auto_now_add=True)),
                        ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
                        ('escalated_at', models.DateTimeField(blank=True, null=True)),
                        ('resolved_at', models.DateTimeField(blank=True, null=True)),
                        ('resolution_note', models.TextField(blank=True)),
                        ('acknowledged_by', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('machine', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='machines.machine')),
                    ],
                    options={
                        'db_table': 'predictions_alert',
                        'ordering': ['-opened_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='AlertRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('warning_probability', models.FloatField(default=0.5)),
                        ('critical_probability', models.FloatField(default=0.8)),
                        ('cooldown_minutes', models.PositiveIntegerField(default=240)),
                        ('escalate_after_minutes', models.PositiveIntegerField(default=60)),
                        ('windows_k', models.PositiveSmallIntegerField(default=4)),
                        ('windows_n', models.PositiveSmallIntegerField(default=6)),
                        ('windows_clear', models.PositiveSmallIntegerField(default=6)),
                        ('anomaly_threshold', models.FloatField(blank=True, default=0.999, null=True)),
                        ('machine', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, to='machines.machine')),
                        ('machine_type', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, to='machines.machinetype')),
                    ],
                    options={
                        'db_table': 'predictions_alertrule',
                        'ordering': ['id'],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event', models.CharField(max_length=40)),
                        ('payload', models.JSONField()),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Failed')], default='pending', max_length=16)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('last_error', models.TextField(blank=True)),
                        ('response_status', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('delivered_at', models.DateTimeField(blank=True, null=True)),
                        ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='maintenance.webhookendpoint')),
                    ],
                    options={
                        'db_table': 'predictions_webhookdelivery',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='WorkOrder',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('failure_mode', models.CharField(blank=True, max_length=64)),
                        ('title', models.CharField(max_length=200)),
                        ('description', models.TextField(blank=True)),
                        ('explanation', models.JSONField(blank=True, default=dict)),
                        ('recommendation', models.TextField(blank=True)),
                        ('status', models.CharField(choices=[('open', 'Open'), ('scheduled', 'Scheduled'), ('in_progress', 'In Progress'), ('done', 'Done'), ('cancelled', 'Cancelled')], db_index=True, default='open', max_length=16)),
                        ('priority', models.CharField(choices=[('low', 'Low'), ('medium', 'Medium'), ('high', 'High'), ('urgent', 'Urgent')], default='medium', max_length=16)),
                        ('due_at', models.DateTimeField(blank=True, null=True)),
                        ('scheduled_for', models.DateTimeField(blank=True, null=True)),
                        ('planned_cost', models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True)),
                        ('actual_cost', models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True)),
                        ('planned_downtime_hours', models.DecimalField(blank=True, decimal_places=2, max_digits=8, null=True)),
                        ('actual_downtime_hours', models.DecimalField(blank=True, decimal_places=2, max_digits=8, null=True)),
                        ('parts', models.JSONField(blank=True, default=list)),
                        ('failure_found', models.BooleanField(blank=True, null=True)),
                        ('failure_mode_found', models.CharField(blank=True, max_length=64)),
                        ('action_taken', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('closed_at', models.DateTimeField(blank=True, null=True)),
                        ('alert', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='work_orders', to='maintenance.alert')),
                        ('assignee', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('created_by', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('machine', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='work_orders', to='machines.machine')),
                    ],
                    options={
                        'db_table': 'predictions_workorder',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='WorkOrderEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('action', models.CharField(max_length=32)),
                        ('from_status', models.CharField(blank=True, max_length=16)),
                        ('to_status', models.CharField(blank=True, max_length=16)),
                        ('changes', models.JSONField(blank=True, default=dict)),
                        ('note', models.TextField(blank=True)),
                        ('at', models.DateTimeField(auto_now_add=True)),
                        ('actor', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('work_order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='maintenance.workorder')),
                    ],
                    options={
                        'db_table': 'predictions_workorderevent',
                        'ordering': ['at', 'id'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='alert',
                    constraint=models.UniqueConstraint(condition=models.Q(('status__in', ['open', 'acknowledged'])), fields=('machine', 'kind', 'failure_mode'), name='alert_one_active_per_machine_kind_mode'),
                ),
                migrations.AddConstraint(
                    model_name='alertrule',
                    constraint=models.UniqueConstraint(fields=('machine_type', 'machine'), name='alertrule_one_per_target', nulls_distinct=False),
                ),
                migrations.AddConstraint(
                    model_name='alertrule',
                    constraint=models.CheckConstraint(condition=models.Q(('machine_type__isnull', True), ('machine__isnull', True), _connector='OR'), name='alertrule_machine_or_type'),
                ),
                migrations.AddConstraint(
                    model_name='alertrule',
                    constraint=models.CheckConstraint(condition=models.Q(('critical_probability__lte', 1), ('warning_probability__gt', 0), ('warning_probability__lte', 1), ('critical_probability__gte', models.F('warning_probability'))), name='alertrule_probabilities'),
                ),
                migrations.AddConstraint(
                    model_name='alertrule',
                    constraint=models.CheckConstraint(condition=models.Q(('windows_clear__gte', 1), ('windows_clear__lte', 48), ('windows_k__gte', 1), ('windows_k__lte', models.F('windows_n')), ('windows_n__lte', 12), ('windows_clear__gte', django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(models.F('windows_n'), '-', models.F('windows_k')), '+', models.Value(1)))), name='alertrule_windows'),
                ),
                migrations.AddConstraint(
                    model_name='alertrule',
                    constraint=models.CheckConstraint(condition=models.Q(('anomaly_threshold__isnull', True), models.Q(('anomaly_threshold__gte', 0.9), ('anomaly_threshold__lte', 1)), _connector='OR'), name='alertrule_anomaly_threshold'),
                ),
            ],
        ),
    ]
