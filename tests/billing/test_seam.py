"""Billing is a seam the other apps call (quotas, usage, the plan's limits): it reads none of
their models. Machines counts what billing needs and passes it in (`machine_quota_guard(used=...)`,
`billing_summary(machines_used=...)`); a test here keeps it so."""

from __future__ import annotations

import ast
from pathlib import Path

BILLING = Path(__file__).resolve().parents[2] / "billing"
# Another app's models, or an app billing must not know at all.
FORBIDDEN = ("machines.models", "predictions", "maintenance")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):  # walk: imports inside functions count too
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from machines import models`
    return found


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN)


def test_billing_imports_no_models_of_machines_nor_predictions_nor_maintenance() -> None:
    sources = [p for p in sorted(BILLING.rglob("*.py")) if "migrations" not in p.parts]
    assert len(sources) > 10, "billing's sources were not found"
    offenders = {f"{path.relative_to(BILLING.parent)}: {module}"
                 for path in sources for module in _imported_modules(path) if _forbidden(module)}
    assert not offenders, f"billing must not read these apps' models: {sorted(offenders)}"


def test_the_check_sees_an_import_of_machine_models(tmp_path: Path) -> None:
    module = tmp_path / "subscriptions.py"
    module.write_text("from machines import models\n\ndef f():\n    from predictions.models import Prediction\n")
    assert {"machines.models", "predictions.models"} <= {m for m in _imported_modules(module) if _forbidden(m)}
