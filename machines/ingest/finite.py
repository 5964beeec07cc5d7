"""Sensor values must be finite numbers: NaN, +-infinity and numbers beyond float32's range
(which the reading store's `real` would hold as infinity) are refused.

Every way in (files, the live endpoint, MQTT, Lookout folders) reaches the store through
`readings_ingest`, which runs `non_finite_reject` on each parsed batch: a row holding such a value
is a rejected row with its reason, like a non-numeric one, and the rest of the file is stored.
Whatever the spelling: "nan", "inf", "-Infinity", "1e39" in text, or a NaN/inf float in a
Parquet column or a JSON number too large for a double.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from machines.ingest.mapping import ColumnMapping
from machines.ingest.parse import ParsedBatch, Rejection

CODE = "non_finite"


def non_finite_reject(parsed: ParsedBatch, batch: pa.RecordBatch, *, mapping: ColumnMapping,
                      categorical: Collection[str]) -> None:
    """Reject the rows of `parsed` holding a non-finite numeric value, one rejection per column,
    and blank those values so no later step (quality report, labels) sees them."""
    for header, sensor in mapping.sensors.items():
        values = parsed.values.get(sensor)
        if sensor in categorical or values is None or not pa.types.is_floating(values.type):
            continue  # categories are stored as indexes, always finite
        finite = pc.is_finite(values)  # null where the value is missing: not a problem
        bad = np.asarray(pc.fill_null(pc.invert(finite), False).to_numpy(zero_copy_only=False), dtype=bool)
        if bad.any():
            parsed.values[sensor] = pc.if_else(finite, values, pa.scalar(None, values.type))
            parsed.rejections.append(Rejection(CODE, bad, _describe(batch.column(header), header)))


def _describe(raw: pa.Array, column: str) -> Callable[[int], str]:
    return lambda index: (f"value {str(raw[index].as_py())!r} in column '{column}' is not a finite number "
                          "(NaN, infinity, or beyond ±3.4e38)")
