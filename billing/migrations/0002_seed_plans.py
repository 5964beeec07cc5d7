from django.db import migrations

PLANS = [
    # code, name, price in cents, machines, predictions per month, trial days, public
    ("trial", "Free trial", 0, 3, 1_000, 14, True),
    ("starter", "Starter", 50_000, 10, 10_000, 0, True),
    ("growth", "Growth", 200_000, 50, 100_000, 0, True),
    ("enterprise", "Enterprise", 0, None, None, 0, True),
]


def seed(apps, schema_editor):
    if schema_editor.connection.schema_name != "public":
        return
    Plan = apps.get_model("billing", "Plan")
    for code, name, price, machines, predictions, trial_days, public in PLANS:
        Plan.objects.update_or_create(code=code, defaults=dict(
            name=name, monthly_price_cents=price, max_machines=machines,
            included_predictions=predictions, trial_days=trial_days, is_public=public))


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
