"""The trained ABB motor (`trained_motor`) and its helpers live in tests/conftest.py, shared with
billing's tests; the helpers are re-exported here for the modules that import them from this one.
The fixture itself is deliberately not imported: a second definition would onboard a second time."""

from __future__ import annotations

from predictions.bundles import KINDS
from tests.conftest import TRAINED_TYPE, Trained, failing_run_readings

TRAINED_KINDS = KINDS  # what `trained_motor` trains

__all__ = ["TRAINED_KINDS", "TRAINED_TYPE", "Trained", "failing_run_readings"]
