"""The ML engine: plain Python, no Django.

Machine-type documents (`metadata`, `formulas`), frames and window features, the simulator and
synthesizers (`synthetic/`), training (`training/`), model bundles, scoring, decisions,
explanations and drift. The Django apps call it with plain values (arrays, tables, documents) and
store what it returns; nothing here knows about tenants, requests or the database.
`tests/test_architecture.py` fails if a module here imports Django or one of the apps.
"""
