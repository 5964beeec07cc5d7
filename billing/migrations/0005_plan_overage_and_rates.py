from decimal import Decimal

from django.db import migrations

# code -> (cents per prediction beyond the included amount, or None: no overage; API requests
# per minute per key). Starter's $500 buys 10,000 predictions (5 cents each), Growth's $2,000
# buys 100,000 (2 cents each); overage costs a little more than the included rate.
TERMS = {
    "trial": (None, 60),
    "starter": (Decimal("6"), 300),
    "growth": (Decimal("2.5"), 1200),
    "enterprise": (None, 6000),
}


def seed(apps, schema_editor):
    if schema_editor.connection.schema_name != "public":
        return
    Plan = apps.get_model("billing", "Plan")
    for code, (overage, per_minute) in TERMS.items():
        Plan.objects.filter(code=code).update(overage_cents_per_prediction=overage, requests_per_minute=per_minute)


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_stripe_state")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
