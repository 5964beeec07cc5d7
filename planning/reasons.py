"""What a plan says in words: why each machine is in or out, the plain worklist beside the optimised
plan, and the solver's outcome as a sentence. Pure, no Django: it reads the plan's snapshot of its
inputs (`planning.inputs`) and the optimizer's result (`Solution.as_dict()`), so the plan's page and
the API carry the same sentences (docs/planning.md, "Why each machine is in or out").
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from planning.optimizer import MIN_SAVING

# Criticality weighs the worklist's risk: a critical asset at 20% comes before a low one at 50%.
CRITICALITY_WEIGHT = {"low": 1, "medium": 2, "high": 3, "critical": 4}
SEVERITY_RANK = {"critical": 0, "warning": 1}


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _percent(value: float) -> str:
    if 0 < value < 0.01:
        return "under 1%"
    if value > 0.99:  # a forecast is never certain: 0.9999 is not "100%"
        return "over 99%"
    return f"{100 * value:.0f}%"


def _health(machine: dict[str, Any]) -> str:
    health = machine.get("health")
    return "still learning its normal" if health is None else f"health {health:.0f}"


def _risk(machine: dict[str, Any], horizon: int) -> str:
    mode = machine.get("failure_mode_label") or machine["failure_mode"].replace("_", " ")
    mode = mode[:1].lower() + mode[1:]  # mid-sentence; abbreviations such as "(OSF)" keep their case
    what = mode if machine.get("mode_named") else f"a failure (costliest: {mode})"
    return f"{_percent(machine['risk_in_horizon'])} risk of {what} in {horizon} days"


def _alert(machine: dict[str, Any]) -> str:
    alert = machine.get("alert")
    return f"open {alert['severity']} alert" if alert else ""


def _planned(machine: dict[str, Any], action: dict[str, Any], start: date, horizon: int) -> str:
    day = start + timedelta(days=action["day"])
    why = ", ".join(filter(None, [_alert(machine), _risk(machine, horizon)]))
    note = f" ({action['note']})" if action.get("note") else ""
    return (f"Planned {day:%a} {day.day} {day:%b} with {action['technician']}: {why}; expected saving "
            f"{_money(action['expected_saving'])} for a {_money(machine['action_cost'])} job{note}.")


def _left_out(machine: dict[str, Any], left: dict[str, Any] | None, horizon: int) -> str:
    alert = _alert(machine)
    if left is not None:
        despite = f" despite its {alert}" if alert else ""
        return (f"Left out{despite}: {left['reason']}; it would save {_money(left['best_saving'])} expected "
                f"({_risk(machine, horizon)}).")
    prevented = machine["expected_cost_without"]
    if machine.get("best_saving", 0.0) < MIN_SAVING:
        if alert:
            return (f"Left out despite its {alert}: the {_money(machine['action_cost'])} job costs more than the "
                    f"failure it prevents ({_money(prevented)} expected, {_risk(machine, horizon)}); "
                    f"check its costs.")
        return (f"Left out: {_health(machine)}, {_risk(machine, horizon)}; the failure it could prevent is worth "
                f"{_money(prevented)} expected, less than the {_money(machine['action_cost'])} job.")
    return f"Left out: other actions save more with the same resources ({_risk(machine, horizon)})."


def machine_reasons(snapshot: dict[str, Any], result: dict[str, Any], *, start: date,
                    horizon: int) -> list[dict[str, Any]]:
    """Every active machine once, planned first in schedule order, with one sentence each."""
    actions = {a["machine_id"]: a for a in result.get("actions", [])}
    left_out = {m["machine_id"]: m for m in result.get("left_out", [])}
    rows = []
    for machine in snapshot.get("machines", []):
        action = actions.get(machine["id"])
        rows.append({"machine_id": machine["id"], "machine": machine["name"], "in_plan": action is not None,
                     "day": action["day"] if action else None,
                     "sentence": _planned(machine, action, start, horizon) if action
                     else _left_out(machine, left_out.get(machine["id"]), horizon)})
    rows.sort(key=lambda r: (not r["in_plan"], r["day"] if r["day"] is not None else 0, r["machine"]))
    rows += [{"machine_id": m["machine_id"], "machine": m["machine"], "in_plan": False, "day": None,
              "sentence": f"Left out: {m['reason']}."} for m in snapshot.get("not_planned", [])]
    rows += [{"machine_id": None, "machine": name, "in_plan": False, "day": None,
              "sentence": "Left out: no prediction yet; upload its readings or score it first."}
             for name in snapshot.get("unscored_machines", [])]
    return rows


def worklist(snapshot: dict[str, Any], result: dict[str, Any]) -> list[dict[str, Any]]:
    """The machines as a planner would rank them by hand, beside the optimised plan: open alerts
    first (critical, then warning), then by risk in the horizon times criticality (low 1, medium
    2, high 3, critical 4). Nothing is optimised here: it is the list to check the plan against."""
    days = {a["machine_id"]: a["day"] for a in result.get("actions", [])}

    def key(machine: dict[str, Any]) -> tuple[int, float, str]:
        severity = SEVERITY_RANK.get((machine.get("alert") or {}).get("severity", ""), 2)
        weight = CRITICALITY_WEIGHT.get(machine.get("criticality") or "medium", 2)
        return severity, -machine["risk_in_horizon"] * weight, machine["name"]

    ranked = sorted(snapshot.get("machines", []), key=key)
    return [{"rank": i, "machine_id": m["id"], "machine": m["name"], "health": m.get("health"),
             "alert": (m.get("alert") or {}).get("severity", ""), "risk_in_horizon": m["risk_in_horizon"],
             "criticality": m.get("criticality") or "medium",
             "failure_mode_label": m.get("failure_mode_label") or m["failure_mode"],
             "expected_cost_without": m["expected_cost_without"], "costs_default": bool(m.get("costs_default")),
             "planned_day": days.get(m["id"])} for i, m in enumerate(ranked, start=1)]


def status_text(snapshot: dict[str, Any], result: dict[str, Any], *, horizon: int) -> str:
    """The solver's outcome as a planner reads it; its codes and gap stay in the result for the
    Advanced view and the API."""
    count = len(result.get("actions", []))
    if count == 0:
        if not snapshot.get("machines"):
            return "There is nothing to plan yet: no active machine has a prediction."
        if result.get("left_out"):
            return (f"No job fits in these {horizon} days: the jobs worth doing are blocked "
                    f"(see why each machine is left out).")
        return f"Nothing needs doing in these {horizon} days: no job is expected to save more than it costs."
    jobs = f"{count} job{'s' if count != 1 else ''}"
    if result.get("status") == "time_limit":
        return f"{jobs} planned. The search stopped at its time limit: a slightly better plan may exist."
    return f"{jobs} planned: the best plan found for these {horizon} days."
