"""Sensor-file ingestion into the reading store.

- `reader.py`: stream a CSV (any delimiter, UTF-8 with or without BOM, Latin-1) or Parquet file
  as Arrow record batches in constant memory;
- `mapping.py`: which column is the time, the machine, each sensor, each label; validated
  against the file header and the machine type;
- `parse.py`: vectorised conversion of one batch to machine ids, times and values, with a
  rejection mask and reasons per row;
- `store.py`: the fast path: binary COPY straight into `machines_reading` for readings that
  cannot clash with stored ones, COPY into a staging table + INSERT ... ON CONFLICT DO NOTHING
  for the rest, one transaction per file (`readings_ingest`).
"""
