"""The fleet's Site and Line filters offer each value once, sorted (issue 16: they listed a value
once per machine)."""

from __future__ import annotations

from typing import Any

from machines.models import Machine
from machines.services import machine_create
from predictions.selectors import fleet_filter_options


def test_sites_and_lines_are_distinct_and_sorted(motor: Machine, in_acme: Any) -> None:
    for name, site, line in (("M-2", "Plant A", "Line 2"), ("M-3", "Plant A", "Line 1"), ("M-4", "Mill", "Line 2"),
                             ("M-5", "", "")):
        machine_create(machine_type_id=motor.machine_type_id, name=name, site=site, line=line)
    retired = machine_create(machine_type_id=motor.machine_type_id, name="M-6", site="Old plant", line="Line 9")
    Machine.objects.filter(id=retired.id).update(status=Machine.Status.RETIRED)
    options = fleet_filter_options()
    # The session's trained machine (tests/conftest.py) may add its own site: each value once, sorted.
    for values, mine in ((options["sites"], ["Mill", "Plant A"]), (options["lines"], ["Line 1", "Line 2"])):
        assert values == sorted(set(values)) and [v for v in values if v in mine] == mine
    assert "Old plant" not in options["sites"] and "" not in options["sites"]  # retired, blank: not offered


def test_the_fleet_page_lists_each_site_once(client_for: Any, world: Any, motor: Machine) -> None:
    from django_tenants.utils import tenant_context

    with tenant_context(world.acme):
        for name in ("M-2", "M-3"):
            machine_create(machine_type_id=motor.machine_type_id, name=name, site="Plant A")
    html = client_for("viewer").get("/").content.decode()
    site_select = html.split('name="site"')[1].split("</select>")[0]
    assert site_select.count(">Plant A</option>") == 1
