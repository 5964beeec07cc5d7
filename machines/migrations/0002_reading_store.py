"""The reading store: one row per machine and instant, numeric values packed in `real[]`.

`vals[i]` is the value of the machine type's `sensor_slots[i]` (append-only, so old rows keep
their meaning when a sensor is added or removed). The table is range-partitioned by month on
`ts`; monthly partitions are created on demand by the ingest (machines/ingest/store.py) before
rows of that month are inserted. Files with integer cycles instead of times store
ts = 1970-01-01 + cycle seconds, so they land in the 1970 partitions. The DEFAULT partition only
catches rows written by something that did not create its partition first.
"""

from django.db import migrations, models

FORWARD = """
CREATE TABLE machines_reading (
    machine_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    upload_id bigint NULL,
    vals real[] NOT NULL
) PARTITION BY RANGE (ts);
CREATE TABLE machines_reading_default PARTITION OF machines_reading DEFAULT;
CREATE INDEX machines_reading_ts_brin ON machines_reading USING brin (ts);
CREATE UNIQUE INDEX machines_reading_machine_ts ON machines_reading (machine_id, ts);
"""

REVERSE = "DROP TABLE IF EXISTS machines_reading CASCADE;"


class Migration(migrations.Migration):

    dependencies = [
        ("machines", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="machinetype",
            name="sensor_slots",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
