"""The optimizer on small hand-made problems whose optimum is known (no database)."""

from __future__ import annotations

import pytest

from planning.optimizer import (
    InvalidProblem,
    MachineInput,
    PartInput,
    Problem,
    TechnicianInput,
    solve,
    solve_greedy,
)
from planning.risk import day_probabilities

ALL_DAYS = frozenset(range(7))


def machine(key: int, *, probs: tuple[float, ...] = (0.1,) * 5, failure: float = 10_000, action: float = 1_000,
            spend: float | None = None, hours: float = 4, skills: frozenset[str] = frozenset({"motor"}),
            allowed: frozenset[int] | None = None, parts: tuple[tuple[str, int], ...] = ()) -> MachineInput:
    return MachineInput(key=key, name=f"M-{key}", failure_mode="bearing_wear", skills=skills, action_cost=action,
                        spend=action if spend is None else spend, failure_cost=failure, hours=hours,
                        day_probabilities=probs, allowed_days=allowed, parts=parts)


def tech(key: int = 1, *, skills: frozenset[str] = frozenset({"motor"}), hours: float = 8,
         days: frozenset[int] = ALL_DAYS) -> TechnicianInput:
    return TechnicianInput(key=key, name=f"T-{key}", skills=skills, hours_per_day=hours, working_days=days)


def problem(machines: list[MachineInput], techs: list[TechnicianInput] | None = None, *, horizon: int = 5,
            **kw: object) -> Problem:
    return Problem(horizon_days=horizon, machines=tuple(machines), technicians=tuple(techs or [tech()]), **kw)  # type: ignore[arg-type]


def test_a_machine_worth_maintaining_goes_on_the_cheapest_feasible_day():
    # E[no plan] = 0.5 x 10,000 = 5,000. Day d: F(d) x 10,000 + (1 - F(d)) x 1,000, F(d) = 0.1 d.
    # The window allows days 2 and 3 only: day 2 costs 0.2 x 10,000 + 0.8 x 1,000 = 2,800.
    solution = solve(problem([machine(1, allowed=frozenset({2, 3}))]))
    assert [(a.machine.key, a.day) for a in solution.actions] == [(1, 2)]
    assert solution.actions[0].saving == pytest.approx(2_200)
    assert solution.expected_cost_without == pytest.approx(5_000)
    assert solution.expected_cost_with == pytest.approx(2_800)
    assert solution.actions[0].note == "first day its production window allows a stop"


def test_a_machine_not_worth_maintaining_is_left_alone():
    healthy = machine(1, probs=(0.001,) * 5)  # 0.5% x 10,000 = 50 < 1,000
    solution = solve(problem([healthy]))
    assert solution.actions == [] and solution.binding == [] and solution.left_out == []
    assert solution.expected_cost_with == pytest.approx(solution.expected_cost_without)


def test_budget_binding_leaves_the_least_valuable_out_and_says_so():
    # Savings on day 0: failure x 0.5 - 1,000. Budget for two of three actions.
    machines = [machine(1, failure=10_000), machine(2, failure=6_000), machine(3, failure=8_000)]
    solution = solve(problem(machines, [tech(hours=24)], budget=2_000))
    assert sorted(a.machine.key for a in solution.actions) == [1, 3]
    budget = [b for b in solution.binding if b["constraint"] == "budget"]
    assert budget and budget[0]["message"].startswith("Budget binds: 1 worthwhile action left out")
    assert budget[0]["extra_saving"] == pytest.approx(2_000)
    assert [(m["machine"], m["constraint"]) for m in solution.left_out] == [("M-2", "budget")]


def test_the_mip_beats_greedy_where_greedy_is_short_sighted():
    # Greedy takes the single best action (saving 4,000, spend 1,000) and has no budget left; the two
    # others together save 2 x 2,500 = 5,000 for the same budget.
    machines = [machine(1, failure=10_000, action=1_000), machine(2, failure=7_000, action=1_000, spend=500),
                machine(3, failure=7_000, action=1_000, spend=500)]
    p = problem(machines, [tech(hours=24)], budget=1_000)
    mip, greedy = solve(p), solve_greedy(p)
    assert sorted(a.machine.key for a in mip.actions) == [2, 3]
    assert [a.machine.key for a in greedy.actions] == [1]
    assert mip.saving == pytest.approx(5_000) and greedy.saving == pytest.approx(4_000)


def test_missing_skill_is_respected_and_explained():
    pump = machine(1, skills=frozenset({"pump", "seal_leak"}))
    solution = solve(problem([pump], [tech(skills=frozenset({"motor"}))]))
    assert solution.actions == []
    assert solution.left_out[0]["reason"] == "no technician with skill “pump” or “seal_leak”"
    assert "No technician with skill “pump” or “seal_leak”: M-1 cannot be maintained." in [
        b["message"] for b in solution.binding]


def test_part_lead_time_delays_the_action_and_says_why():
    parts = (PartInput("bearing-6309", in_stock=0, lead_time_days=3),)
    solution = solve(problem([machine(1, parts=(("bearing-6309", 1),))], parts=parts))
    assert [a.day for a in solution.actions] == [3]
    assert solution.actions[0].note == "waits for part bearing-6309 (arrives on day 3)"


def test_part_arriving_after_the_horizon_is_explained():
    parts = (PartInput("rotor", in_stock=0, lead_time_days=9),)
    solution = solve(problem([machine(1, parts=(("rotor", 1),))], parts=parts))
    assert solution.actions == []
    assert solution.left_out[0]["constraint"] == "part_lead_time"
    assert solution.left_out[0]["reason"] == "part rotor arrives on day 9, too late to be worth it"


def test_part_stock_is_shared_until_more_arrives():
    parts = (PartInput("seal", in_stock=1, lead_time_days=2),)
    machines = [machine(1, parts=(("seal", 1),), failure=12_000), machine(2, parts=(("seal", 1),))]
    solution = solve(problem(machines, [tech(hours=24)], parts=parts))
    assert sorted((a.machine.key, a.day) for a in solution.actions) == [(1, 0), (2, 2)]
    assert any(b["constraint"] == "part" and b["subject"] == "seal" for b in solution.binding)


def test_technician_hours_per_day_and_working_days():
    machines = [machine(1, hours=6, failure=20_000, probs=(0.1, 0.1)), machine(2, hours=6, probs=(0.1, 0.1))]
    solution = solve(problem(machines, [tech(hours=8, days=frozenset({1}))], horizon=2))
    assert [(a.machine.key, a.day) for a in solution.actions] == [(1, 1)]
    hours = [b for b in solution.binding if b["constraint"] == "technician_hours"]
    assert hours and "Technician hours bind: 1 worthwhile action left out" in hours[0]["message"]


def test_nobody_working_is_explained():
    solution = solve(problem([machine(1)], [tech(days=frozenset())]))
    assert solution.actions == []
    assert solution.left_out[0]["constraint"] == "technician_days"


@pytest.mark.parametrize(("change", "message"), [
    ({"horizon_days": 0}, "horizon"), ({"budget": -1.0}, "budget"),
])
def test_invalid_problems_are_refused_with_the_reason(change, message):
    with pytest.raises(InvalidProblem, match=message):
        solve(Problem(**{"horizon_days": 5, "machines": (machine(1),), "technicians": (tech(),), **change}))


def test_probabilities_must_cover_the_horizon():
    with pytest.raises(InvalidProblem, match="one failure probability per day"):
        solve(problem([machine(1, probs=(0.1,) * 3)]))


def test_day_probabilities_from_the_classifier_and_the_rul():
    # The classifier puts 50% within its 24 h: all of day 0's mass when the RUL is around 12 h.
    probs = day_probabilities(probability=0.5, horizon_h=24, rul_h=12, rul_lower_h=6, rul_upper_h=18,
                              elapsed_h=0, days=5)
    assert probs[0] == pytest.approx(0.5, abs=1e-6)
    assert sum(probs) <= 1 + 1e-9
    # Without an RUL: a constant hazard, 10% a day.
    flat = day_probabilities(probability=0.1, horizon_h=24, rul_h=None, rul_lower_h=None, rul_upper_h=None,
                             elapsed_h=0, days=3)
    assert flat == pytest.approx((0.1, 0.09, 0.081))
    # A week-long RUL puts most of the mass around day 7.
    week = day_probabilities(probability=0.01, horizon_h=24, rul_h=168, rul_lower_h=120, rul_upper_h=216,
                             elapsed_h=0, days=14)
    assert max(range(14), key=lambda d: week[d]) in (6, 7)  # days 6 and 7 straddle 168 h
