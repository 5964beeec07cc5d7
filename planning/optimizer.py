"""The maintenance optimizer: a mixed-integer program solved by HiGHS (scipy.optimize.milp).

Pure Python, no Django: `planning.inputs` turns the tenant's rows into a `Problem`, this module
turns a `Problem` into a `Solution`, and `benchmarks/optimizer.py` feeds it synthetic problems.

The model (docs/planning.md has the derivation):

- one binary x[m, d, t] per machine m, day d of the horizon and technician t, created only where
  the action is allowed at all (the technician has a skill the machine needs and works that day,
  the machine's production window lets it stop, every part it needs can be there by day d) and
  where it is worth something (an expected saving of at least MIN_SAVING: a job that saves
  nothing, or only a rounding error of a probability, is never scheduled);
- priority machines (an open critical alert) first: a first solve finds how many of them the
  resources can take, each as early as they can, the second maximises the saving with those
  placed, so one is never left out or pushed later for the sake of a machine without such an alert;
- at most one action per machine in the horizon;
- a technician's hours on a day; the maintenance budget over the horizon; each part's stock
  before its lead time (from day `lead_time_days` on, more can be ordered);
- maximise the expected saving, i.e. minimise the expected cost
  sum_m [ F_m(d) * failure_cost_m + (1 - F_m(d)) * action_cost_m ]  if m is maintained on day d
  sum_m   F_m(H) * failure_cost_m                                     if it is not,
  where F_m(d) is the probability that m fails before day d.

What binds is found by re-solving with each tight family of constraints relaxed and by checking
each left-out machine's own feasibility (skills, windows, parts), so the plan can say "budget binds:
3 worthwhile actions left out" or "no technician with skill bearing_wear_de".

Longer than 400 lines because the explanations re-solve relaxed copies of the same model: the
model, the greedy baseline and the reasons share the private `_Var` and row builders.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

EPS = 1e-6
UNLIMITED = 1e12
# An action must be expected to save at least a dollar: below that the "saving" is a rounding
# error of a probability (a machine taken as certain to fail saved $0.0001 a day later: issue 16).
MIN_SAVING = 1.0


@dataclass(frozen=True)
class MachineInput:
    key: int
    name: str
    failure_mode: str
    skills: frozenset[str]  # any one of these lets a technician do the action
    action_cost: float  # repair + planned maintenance + planned downtime
    spend: float  # what the budget pays: repair + planned maintenance
    failure_cost: float  # (repair + downtime) x the unplanned-failure multiplier
    hours: float  # labour hours on the planned day
    day_probabilities: tuple[float, ...]  # P(failure on day d), d = 0..H-1
    allowed_days: frozenset[int] | None = None  # production window; None = any day
    parts: tuple[tuple[str, int], ...] = ()  # (part name, quantity)
    action: str = ""  # what to do, for people
    priority: int = 0  # 1: an open critical alert: planned before machines without one

    def fails_before(self, day: int) -> float:
        return float(sum(self.day_probabilities[:day]))

    @property
    def expected_cost_unplanned(self) -> float:
        return self.fails_before(len(self.day_probabilities)) * self.failure_cost

    def expected_cost_if_maintained(self, day: int) -> float:
        before = self.fails_before(day)
        return before * self.failure_cost + (1.0 - before) * self.action_cost

    def saving(self, day: int) -> float:
        return self.expected_cost_unplanned - self.expected_cost_if_maintained(day)


@dataclass(frozen=True)
class TechnicianInput:
    key: int
    name: str
    skills: frozenset[str]
    hours_per_day: float
    working_days: frozenset[int]  # day indexes of the horizon


@dataclass(frozen=True)
class PartInput:
    name: str
    in_stock: int
    lead_time_days: int


@dataclass(frozen=True)
class Problem:
    horizon_days: int
    machines: tuple[MachineInput, ...]
    technicians: tuple[TechnicianInput, ...]
    parts: tuple[PartInput, ...] = ()
    budget: float | None = None
    # How people read each skill key in a sentence ("Milling machine: any repair" for `cnc`); a
    # key without a label is shown as it is.
    skill_labels: Mapping[str, str] = field(default_factory=dict)
    mip_rel_gap: float = 0.01
    time_limit_s: float = 20.0


@dataclass
class Action:
    machine: MachineInput
    day: int
    technician: TechnicianInput
    saving: float
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        m = self.machine
        return {
            "machine_id": m.key, "machine": m.name, "failure_mode": m.failure_mode, "action": m.action,
            "day": self.day, "technician_id": self.technician.key, "technician": self.technician.name,
            "expected_saving": round(self.saving, 2), "spend": round(m.spend, 2), "hours": m.hours,
            "action_cost": round(m.action_cost, 2), "expected_cost_without": round(m.expected_cost_unplanned, 2),
            "expected_cost_with": round(m.expected_cost_if_maintained(self.day), 2),
            "parts": [{"part": name, "quantity": qty} for name, qty in m.parts], "note": self.note,
        }


@dataclass
class Solution:
    status: str  # optimal | time_limit | nothing_to_do
    actions: list[Action]
    expected_cost_without: float
    expected_cost_with: float
    gap: float
    seconds: float
    variables: int
    constraints: int
    binding: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[dict[str, Any]] = field(default_factory=list)

    @property
    def saving(self) -> float:
        return self.expected_cost_without - self.expected_cost_with

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "actions": [a.as_dict() for a in self.actions],
            "expected_cost_without": round(self.expected_cost_without, 2),
            "expected_cost_with": round(self.expected_cost_with, 2), "expected_saving": round(self.saving, 2),
            "gap": self.gap, "seconds": round(self.seconds, 3), "variables": self.variables,
            "constraints": self.constraints, "binding": self.binding, "left_out": self.left_out,
        }


class InvalidProblem(ValueError):
    """The inputs cannot make a problem at all (a horizon of 0 days, a negative budget...)."""


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Var:
    machine: int  # index into problem.machines
    day: int
    tech: int  # index into problem.technicians
    saving: float
    hours: float


def problem_check(problem: Problem) -> None:
    if problem.horizon_days < 1:
        raise InvalidProblem("The horizon must be at least one day.")
    if problem.budget is not None and problem.budget < 0:
        raise InvalidProblem("The budget cannot be negative.")
    for m in problem.machines:
        if len(m.day_probabilities) != problem.horizon_days:
            raise InvalidProblem(f"{m.name}: one failure probability per day of the horizon is needed.")
        if any(p < -EPS for p in m.day_probabilities) or sum(m.day_probabilities) > 1 + 1e-6:
            raise InvalidProblem(f"{m.name}: daily failure probabilities must be >= 0 and sum to at most 1.")
    for t in problem.technicians:
        if t.hours_per_day <= 0:
            raise InvalidProblem(f"Technician {t.name}: hours per day must be positive.")


def _part_ready_day(problem: Problem, machine: MachineInput) -> int:
    """The first day every part the machine needs can be there (stock too small: its lead time)."""
    stock = {p.name: p for p in problem.parts}
    ready = 0
    for name, qty in machine.parts:
        part = stock.get(name)
        if part is None or part.in_stock < qty:
            ready = max(ready, part.lead_time_days if part else problem.horizon_days)
    return ready


def _variables(problem: Problem) -> list[_Var]:
    out: list[_Var] = []
    for mi, m in enumerate(problem.machines):
        ready = _part_ready_day(problem, m)
        for day in range(ready, problem.horizon_days):
            if m.allowed_days is not None and day not in m.allowed_days:
                continue
            saving = m.saving(day)
            if saving < MIN_SAVING:
                continue
            for ti, t in enumerate(problem.technicians):
                if day in t.working_days and m.skills & t.skills and m.hours <= t.hours_per_day + EPS:
                    out.append(_Var(mi, day, ti, saving, m.hours))
    return out


def _rows(problem: Problem, variables: list[_Var]) -> tuple[list[dict[int, float]], list[float], dict[str, list[int]]]:
    """Constraint rows as {variable index: coefficient} with their upper bounds, grouped by family.
    Rows that can never bind (their left side cannot exceed the bound) are left out."""
    rows: list[dict[int, float]] = []
    ubs: list[float] = []
    families: dict[str, list[int]] = defaultdict(list)

    def add(family: str, row: dict[int, float], ub: float) -> None:
        if sum(row.values()) > ub + EPS:
            families[family].append(len(rows))
            rows.append(row)
            ubs.append(ub)

    by_machine: dict[int, dict[int, float]] = defaultdict(dict)
    by_tech_day: dict[tuple[int, int], dict[int, float]] = defaultdict(dict)
    for i, v in enumerate(variables):
        by_machine[v.machine][i] = 1.0
        by_tech_day[(v.tech, v.day)][i] = v.hours
    for row in by_machine.values():
        add("one_action", row, 1.0)
    for (ti, _day), row in by_tech_day.items():
        add("technician_hours", row, problem.technicians[ti].hours_per_day)
    if problem.budget is not None:
        add("budget", {i: problem.machines[v.machine].spend for i, v in enumerate(variables)}, problem.budget)
    for part in problem.parts:
        row = {}
        for i, v in enumerate(variables):
            qty = dict(problem.machines[v.machine].parts).get(part.name, 0)
            if qty and v.day < part.lead_time_days:
                row[i] = float(qty)
        add(f"part:{part.name}", row, float(part.in_stock))
    return rows, ubs, families


def _matrix(rows: list[dict[int, float]], columns: int) -> csr_array:
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for row in rows:
        indices.extend(row.keys())
        data.extend(row.values())
        indptr.append(len(indices))
    return csr_array((data, indices, indptr), shape=(len(rows), columns))


def _priority_row(problem: Problem, variables: list[_Var], constraints: list[LinearConstraint]) -> None:
    """Lexicographic first step for priority machines (an open critical alert): as many of them as
    the resources allow, each as early as they allow, found by their own exact solve and then
    required of the saving-maximising one. A priority action on day d weighs 1 - d / (H (K + 1))
    (K priority machines): one more machine always outweighs any shift of days, and an earlier
    day outweighs a later one, so they come before machines without such an alert."""
    flagged = {v.machine for v in variables if problem.machines[v.machine].priority > 0}
    if not flagged:
        return
    scale = problem.horizon_days * (len(flagged) + 1)
    weights = np.array([1.0 - v.day / scale if v.machine in flagged else 0.0 for v in variables])
    first = milp(-weights, constraints=constraints, integrality=np.ones(len(variables)), bounds=Bounds(0, 1),
                 options={"mip_rel_gap": 0.0, "time_limit": problem.time_limit_s, "disp": False})
    if first.x is None:
        return
    best = float(weights @ np.round(first.x))
    if best > 0:
        # Weights differ by at least 1 / scale; a tenth of that absorbs the solver's tolerances.
        constraints.append(LinearConstraint(weights.reshape(1, -1), best - 0.1 / scale, np.inf))


def _solve_raw(problem: Problem) -> tuple[list[_Var], np.ndarray, str, float, int]:
    variables = _variables(problem)
    if not variables:
        return variables, np.zeros(0), "nothing_to_do", 0.0, 0
    rows, ubs, _families = _rows(problem, variables)
    c = -np.array([v.saving for v in variables])
    constraints = []
    if rows:
        constraints.append(LinearConstraint(_matrix(rows, len(variables)), -np.inf, np.array(ubs)))
    _priority_row(problem, variables, constraints)
    result = milp(c, constraints=constraints, integrality=np.ones(len(variables)), bounds=Bounds(0, 1),
                  options={"mip_rel_gap": problem.mip_rel_gap, "time_limit": problem.time_limit_s, "disp": False})
    if result.x is None:  # no feasible point found in time; x = 0 is always feasible
        return variables, np.zeros(len(variables)), "time_limit", 1.0, len(rows)
    status = "optimal" if result.status == 0 else "time_limit"
    gap = float(result.mip_gap) if getattr(result, "mip_gap", None) is not None else 0.0
    return variables, np.round(result.x), status, gap, len(rows)


def _chosen(problem: Problem, variables: list[_Var], x: np.ndarray) -> list[Action]:
    actions = [Action(problem.machines[v.machine], v.day, problem.technicians[v.tech], v.saving)
               for v, value in zip(variables, x, strict=True) if value > 0.5]
    return sorted(actions, key=lambda a: (a.day, -a.machine.priority, -a.saving, a.machine.name))


def _totals(problem: Problem, actions: Sequence[Action]) -> tuple[float, float]:
    without = sum(m.expected_cost_unplanned for m in problem.machines)
    return without, without - sum(a.saving for a in actions)


def solve(problem: Problem, *, explain: bool = True) -> Solution:
    """The plan: HiGHS to `problem.mip_rel_gap`, then (with `explain`) what binds and why."""
    problem_check(problem)
    started = time.perf_counter()
    variables, x, status, gap, n_rows = _solve_raw(problem)
    actions = _chosen(problem, variables, x)
    without, with_plan = _totals(problem, actions)
    solution = Solution(status, actions, without, with_plan, gap, 0.0, len(variables), n_rows)
    solution.seconds = time.perf_counter() - started
    if explain:
        _explain(problem, solution)
    return solution


# --- the baseline ------------------------------------------------------------------------------


def solve_greedy(problem: Problem) -> Solution:
    """The heuristic a planner would use by hand: machines by best expected saving, each on its
    earliest worthwhile feasible day with the first technician who has the hours left."""
    problem_check(problem)
    started = time.perf_counter()
    by_machine: dict[int, list[_Var]] = defaultdict(list)
    for v in _variables(problem):
        by_machine[v.machine].append(v)
    hours_left = {(ti, d): t.hours_per_day for ti, t in enumerate(problem.technicians)
                  for d in range(problem.horizon_days)}
    budget_left = problem.budget if problem.budget is not None else UNLIMITED
    stock_left = {p.name: p.in_stock for p in problem.parts}
    lead = {p.name: p.lead_time_days for p in problem.parts}
    actions: list[Action] = []
    order = sorted(by_machine, key=lambda mi: (-problem.machines[mi].priority,
                                               -max(v.saving for v in by_machine[mi])))
    for mi in order:
        m = problem.machines[mi]
        if m.spend > budget_left + EPS:
            continue
        for v in sorted(by_machine[mi], key=lambda v: (v.day, v.tech)):
            early_parts = [(n, q) for n, q in m.parts if v.day < lead.get(n, 0)]
            if hours_left[(v.tech, v.day)] + EPS < v.hours or any(stock_left[n] < q for n, q in early_parts):
                continue
            hours_left[(v.tech, v.day)] -= v.hours
            budget_left -= m.spend
            for n, q in early_parts:
                stock_left[n] -= q
            actions.append(Action(m, v.day, problem.technicians[v.tech], v.saving))
            break
    without, with_plan = _totals(problem, actions)
    return Solution("heuristic", sorted(actions, key=lambda a: (a.day, -a.saving)), without, with_plan,
                    float("nan"), time.perf_counter() - started, 0, 0)


# --- explanations ------------------------------------------------------------------------------


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _relaxed(problem: Problem, family: str) -> Problem:
    if family == "budget":
        return replace(problem, budget=None)
    if family == "technician_hours":
        return replace(problem, technicians=tuple(replace(t, hours_per_day=UNLIMITED)
                                                   for t in problem.technicians))
    name = family.split(":", 1)[1]
    return replace(problem, parts=tuple(replace(p, in_stock=10**9) if p.name == name else p
                                        for p in problem.parts))


def _machine_blocker(problem: Problem, m: MachineInput) -> tuple[str, str] | None:
    """Why this machine has no allowed, worthwhile slot at all; None when it has one."""
    skilled = [t for t in problem.technicians if m.skills & t.skills]
    wanted = " or ".join(sorted(f"“{problem.skill_labels.get(skill, skill)}”" for skill in m.skills))
    if not skilled:
        return "skill", f"no technician with skill {wanted}"
    if all(m.hours > t.hours_per_day + EPS for t in skilled):
        return "technician_hours", f"needs {m.hours:g} h in one day; no technician with skill {wanted} has that many"
    worth = {d for d in range(problem.horizon_days) if m.saving(d) >= MIN_SAVING}
    window = worth if m.allowed_days is None else worth & m.allowed_days
    if not window:
        return "production_window", "its production window allows no stop while an action is still worth it"
    staffed = {d for d in window if any(d in t.working_days for t in skilled)}
    if not staffed:
        return "technician_days", f"no technician with skill {wanted} works on a day its window allows"
    ready = _part_ready_day(problem, m)
    if not {d for d in staffed if d >= ready}:
        stock = {p.name: p.in_stock for p in problem.parts}
        late = [n for n, q in m.parts if stock.get(n, 0) < q]
        return "part_lead_time", f"part {', '.join(late)} arrives on day {ready}, too late to be worth it"
    return None


def _explain(problem: Problem, solution: Solution) -> None:
    scheduled = {a.machine.key for a in solution.actions}
    worthwhile = [m for m in problem.machines if max((m.saving(d) for d in range(problem.horizon_days)),
                                                     default=0.0) >= MIN_SAVING]
    reasons: dict[int, tuple[str, str]] = {}
    for m in worthwhile:
        if m.key not in scheduled:
            blocker = _machine_blocker(problem, m)
            if blocker:
                reasons[m.key] = blocker
    variables = _variables(problem)
    rows, ubs, families = _rows(problem, variables) if variables else ([], [], {})
    chosen = {(a.machine.key, a.day, a.technician.key) for a in solution.actions}
    chosen_idx = [i for i, v in enumerate(variables)
                  if (problem.machines[v.machine].key, v.day, problem.technicians[v.tech].key) in chosen]
    for family, row_ids in families.items():
        if family == "one_action":
            continue
        tight = any(sum(rows[r].get(i, 0.0) for i in chosen_idx) >= ubs[r] - _slack_tolerance(problem, family)
                    for r in row_ids)
        if not tight:
            continue
        relaxed = solve(_relaxed(problem, family), explain=False)
        gained = [a for a in relaxed.actions if a.machine.key not in scheduled]
        extra = relaxed.saving - solution.saving
        if extra <= max(1.0, 0.005 * abs(solution.saving)):
            continue
        first = any(a.machine.priority for a in solution.actions)
        for a in gained:
            reasons.setdefault(a.machine.key, (family, _family_reason(family, first and not a.machine.priority)))
        solution.binding.append({"constraint": family.split(":")[0], "subject": family.partition(":")[2],
                                 "left_out": len(gained), "extra_saving": round(extra, 2),
                                 "message": _binding_message(family, len(gained), extra, problem)})
    by_kind: dict[str, list[str]] = defaultdict(list)
    for m in worthwhile:
        if m.key in scheduled:
            continue
        kind, text = reasons.get(m.key, ("capacity", "other actions save more with the same resources"))
        by_kind[f"{kind}|{text}" if kind in ("skill", "part_lead_time") else kind].append(m.name)
        solution.left_out.append({"machine_id": m.key, "machine": m.name, "constraint": kind, "reason": text,
                                  "best_saving": round(max(m.saving(d) for d in range(problem.horizon_days)), 2)})
    for key, names in by_kind.items():
        kind, _, text = key.partition("|")
        if kind in ("skill", "part_lead_time"):
            solution.binding.append({"constraint": kind, "subject": text, "left_out": len(names), "extra_saving": None,
                                     "message": f"{text[0].upper()}{text[1:]}: {', '.join(names[:5])}"
                                                f"{' and more' if len(names) > 5 else ''} cannot be maintained."})
    _note_delays(problem, solution)


def _slack_tolerance(problem: Problem, family: str) -> float:
    """A constraint binds when what is left of it is smaller than the smallest thing that could use it."""
    if family == "budget":
        return min((m.spend for m in problem.machines), default=0.0)
    if family == "technician_hours":
        return min((m.hours for m in problem.machines), default=0.0)
    return 1.0


def _family_reason(family: str, alerts_first: bool = False) -> str:
    """`alerts_first`: machines with an open critical alert took the resource before any saving counted."""
    others = "machines with an open critical alert or actions that save more" if alerts_first \
        else "actions that save more"
    if family == "budget":
        return f"the budget is spent on {others}"
    if family == "technician_hours":
        return f"the technicians' hours are taken by {others}"
    return f"the stock of part {family.split(':', 1)[1]} is used by {others}"


def _binding_message(family: str, left_out: int, extra: float, problem: Problem) -> str:
    actions = f"{left_out} worthwhile action{'s' if left_out != 1 else ''} left out"
    if family == "budget":
        return f"Budget binds: {actions}; {_money(extra)} more expected saving without the limit."
    if family == "technician_hours":
        return f"Technician hours bind: {actions}; {_money(extra)} more expected saving with more hours."
    name = family.split(":", 1)[1]
    lead = next((p.lead_time_days for p in problem.parts if p.name == name), 0)
    return (f"Stock of {name} binds (more arrives on day {lead}): {actions} or delayed; "
            f"{_money(extra)} more expected saving with more in stock.")


def _note_delays(problem: Problem, solution: Solution) -> None:
    """Say why an action is not on the day that would save the most."""
    for a in solution.actions:
        m = a.machine
        best = max(range(problem.horizon_days), key=lambda d: (m.saving(d), -d))
        if a.day <= best:
            continue
        ready = _part_ready_day(problem, m)
        if ready > best:
            a.note = f"waits for part {', '.join(n for n, _ in m.parts)} (arrives on day {ready})"
        elif m.allowed_days is not None and best not in m.allowed_days:
            a.note = "first day its production window allows a stop"
        else:
            a.note = "technicians are busy earlier"
