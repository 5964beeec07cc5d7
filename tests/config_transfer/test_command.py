"""`manage.py config_transfer`: the same file and the same import as the page and the API."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import tenant_context

from machines.models import Machine


def test_export_then_import_into_another_organization(acme_config, world, tmp_path: Path):
    out = StringIO()
    call_command("config_transfer", "export", tenant="acme", stdout=out)
    document = json.loads(out.getvalue())
    assert document["organization"] == "acme" and len(document["machines"]) == 2
    path = tmp_path / "acme-config.json"
    path.write_text(out.getvalue())

    dry = StringIO()
    call_command("config_transfer", "import", str(path), tenant="globex", dry_run=True, stdout=dry)
    assert "Dry run: nothing was written." in dry.getvalue() and "Machines: 2 created" in dry.getvalue()
    with tenant_context(world.globex):
        assert not Machine.objects.exists()

    done = StringIO()
    call_command("config_transfer", "import", str(path), tenant="globex", stdout=done)
    assert "Imported into globex." in done.getvalue()
    with tenant_context(world.globex):
        assert Machine.objects.count() == 2


def test_a_bad_file_fails_the_command_with_every_problem(db, world, tmp_path: Path):
    path = tmp_path / "bad.json"
    machines = [{"name": "M", "machine_type": "x"}]
    path.write_text(json.dumps({"format": "pdm-config", "version": 1, "machines": machines}))
    with pytest.raises(CommandError, match=r'\$\.machines\[0\]\.machine_type: No machine type "x"'):
        call_command("config_transfer", "import", str(path), tenant="globex")
