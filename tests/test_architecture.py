"""The layout's import rules (docs/architecture.md), read from the source with `ast`.

The engine is plain Python the apps call; the apps that others build on (machines, tenants,
accounts) do not reach up into the apps built on them. A rule broken here is a design change:
make it in docs/architecture.md first.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "billing", "insights", "jobs", "machines", "maintenance", "planning", "predictions", "tenants",
        "pdm_saas")
DJANGO = ("django", "rest_framework", "django_tenants", "channels", "celery", "drf_spectacular")


def _sources(package: str) -> Iterator[Path]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def _imported_modules(path: Path, *, with_names: bool = False) -> Iterator[tuple[int, str]]:
    """Every module a file imports, at any depth (imports inside functions count too).
    `with_names`: each name of a `from` import too, as `module.name` (`from machines import
    models` is `machines.models`), for rules about a module inside a package."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            if with_names:
                yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def _within(module: str, forbidden: tuple[str, ...]) -> bool:
    """`module` is one of `forbidden` (packages or modules, dotted) or inside one."""
    return any(module == name or module.startswith(f"{name}.") for name in forbidden)


def _breaches(package: str, forbidden: tuple[str, ...], *, with_names: bool = False) -> list[str]:
    return sorted({f"{path.relative_to(ROOT)}:{line} imports {module}"
                   for path in _sources(package) for line, module in _imported_modules(path, with_names=with_names)
                   if _within(module, forbidden)})


def test_the_rules_see_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from django.db import connection\n    return connection\n")
    assert [name for _, name in _imported_modules(module)] == ["django.db"]


def test_engine_imports_no_django_and_no_app() -> None:
    assert list(_sources("engine")), "the engine package is missing"
    assert _breaches("engine", DJANGO + APPS) == []


def test_billing_imports_no_models_of_machines_nor_predictions_nor_maintenance() -> None:
    """Billing is a seam the other apps call (quotas, usage, the plan's limits): it reads none of
    their models. Machines counts what billing needs and passes it in (`machine_quota_guard(used=...)`,
    `billing_summary(machines_used=...)`)."""
    assert len(list(_sources("billing"))) > 10, "billing's sources were not found"
    assert _breaches("billing", ("machines.models", "predictions", "maintenance"), with_names=True) == []


def test_the_billing_rule_sees_an_import_of_machine_models(tmp_path: Path) -> None:
    module = tmp_path / "subscriptions.py"
    module.write_text("from machines import models\n\ndef f():\n    from predictions.models import Prediction\n")
    found = {name for _, name in _imported_modules(module, with_names=True)}
    assert {"machines.models", "predictions.models"} <= {m for m in found if _within(m, ("machines.models",
                                                                                          "predictions"))}


def test_machines_tenants_and_accounts_import_nothing_from_predictions_or_maintenance() -> None:
    for package in ("machines", "tenants", "accounts"):
        assert _breaches(package, ("predictions", "maintenance")) == []


LONG_MODULE_LINES = 400
LONG_MODULE_REASON = "Longer than 400 lines because"
PRODUCT_PACKAGES = ("engine", *APPS)


def test_a_module_over_400_lines_says_why_at_its_top() -> None:
    unexplained = []
    for package in PRODUCT_PACKAGES:
        for path in _sources(package):
            text = path.read_text()
            if text.count("\n") > LONG_MODULE_LINES:
                docstring = ast.get_docstring(ast.parse(text)) or ""
                if LONG_MODULE_REASON not in " ".join(docstring.split()):
                    unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert unexplained == []
