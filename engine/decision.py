"""The one place where a scored window becomes a verdict, and where verdicts become alarms.

Pure numpy, no Django: scoring, the pages, the API and the alert service all read the verdict
made here, so the fleet page, the machine page and the alert inbox cannot disagree. The rules
(docs/models.md, "Decision rules"; one test each in tests/engine/test_decision.py):

1. **At risk** iff the failure probability reaches the classifier's threshold (the alert level,
   chosen on validation at a false-positive rate <= 5%) or the remaining useful life (RUL) lies
   inside the horizon. Nothing else makes a machine at risk.
2. **The risk shown** is the probability, raised where the RUL lies inside the horizon to at least
   the alert level (and towards 100% as the RUL goes to 0): at risk iff risk >= alert level, so
   "0%" never stands beside an RUL inside the horizon.
3. **Watch**: not at risk, but the risk is at least half the alert level, the RUL is within 1.5
   horizons, or the anomaly score is unusual (>= 0.99). The anomaly score alone never makes a
   machine at risk: one saturated score gives "watch", health >= 50.
4. **Health bands** by state: at risk 0-49, watch 50-69.9, healthy 70-100; inside a band health
   falls as the evidence grows (monotone), so health and state always read the same.
5. **RUL at its cap** (the longest life the model was taught to count) is not a number: it is
   shown as "beyond N days, no sign of wear" (`rul_beyond`), and the RUL shown is None.
6. **Learning**: a machine still learning its normal (baseline progress < 1) gets state
   "learning" and no health, severity or alarm.
7. **Severity** of an at-risk window: critical when the risk is "very high" (halfway from the
   alert level to 100%, which an RUL inside half the horizon reaches by rule 2); else warning.
8. **An RUL model without skill is no evidence**: when its held-out R-squared (`rul_skill`) is
   below `RUL_SKILL`, its lives neither put a machine at risk nor on watch, and no RUL is shown.
   A model that cannot see a failure mode (a mode with no affected signals) predicts about the
   mean life for every machine, which would put healthy ones inside the horizon.

Alarms (`alarm_states`): an alarm opens when k of the last n windows are at risk and closes after
`clear` windows in a row that are not (hysteresis). `expected_false_alarms` is the exact expected
number of alarms a healthy machine raises when each window is flagged independently at a rate
(the classifier's validation false-positive rate), from a small Markov chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray

LEARNING, HEALTHY, WATCH, AT_RISK = "learning", "healthy", "watch", "at_risk"
STATES = (LEARNING, HEALTHY, WATCH, AT_RISK)
WARNING, CRITICAL = "warning", "critical"

WATCH_SHARE = 0.5  # of the alert level: a risk this close to it is worth watching
# An RUL within this many horizons is worth watching. Not two: the RUL cap (the typical P-F
# interval) is about two horizons, so any healthy prediction a little under the cap read "watch".
WATCH_HORIZONS = 1.5
# "More unusual than 99% of normal windows" (web_format.ANOMALOUS): at 0.95 one healthy window in
# twenty would read "watch" by design, and a fleet page of healthy machines would flicker.
WATCH_ANOMALY = 0.99
HEALTHY_ANOMALY = 0.5  # anomaly scores below this are ordinary and cost no health
RUL_SKILL = 0.1  # held-out R-squared an RUL model needs before its lives count (rule 8)
AT_CAP = 0.98  # an RUL within 2% of its cap is the cap: the model saw no sign of wear
BANDS = {AT_RISK: (0.0, 49.0), WATCH: (50.0, 69.9), HEALTHY: (70.0, 100.0)}  # (lowest, highest) health

# k of n windows open an alarm, `clear` quiet windows close it: bounds keep the chain small.
MAX_N, MAX_CLEAR = 12, 48


@dataclass(frozen=True)
class Verdicts:
    """One verdict per row. NaN marks "none": health while learning, RUL where unknown."""

    state: Array  # str: learning / healthy / watch / at_risk
    health: Array  # 0-100, NaN while learning
    risk: Array  # the failure risk shown, 0-1
    level: Array  # str: low / raised / high / very high (risk against the alert level)
    rul: Array  # the RUL shown, NaN where the model cannot know (no RUL model, at its cap)
    rul_beyond: Array  # the cap where the RUL sits at it, else NaN
    severity: Array  # str: "" (not at risk), warning, critical
    learning: Array  # baseline progress 0-1 while learning, else NaN
    threshold: float

    def __len__(self) -> int:
        return len(self.state)

    @property
    def at_risk(self) -> Array:
        return self.state == AT_RISK

    def row(self, i: int) -> dict[str, Any]:
        """Row i as the API carries it (None for NaN)."""
        return {"state": str(self.state[i]), "health_score": _none(self.health[i], 1), "risk": _none(self.risk[i], 5),
                "risk_level": str(self.level[i]), "rul_beyond_h": _none(self.rul_beyond[i], 2),
                "severity": str(self.severity[i]), "learning": _none(self.learning[i], 3)}


def decide(*, probability: Any, threshold: float, rul: Any = None, rul_cap: float | None = None,
           horizon: float, anomaly: Any = None, learning: Any = None, rul_skill: float | None = None) -> Verdicts:
    """Verdicts for rows of scores (arrays; `rul`, `anomaly`, `learning` may be None: no such
    model, or no baseline in play). `rul`, `rul_cap` and `horizon` share one unit. `rul_skill`:
    the RUL model's held-out R-squared, None when unknown (rule 8)."""
    p = np.clip(np.asarray(probability, np.float64), 0.0, 1.0)
    t = float(np.clip(threshold, 1e-6, 1.0))
    skilled = rul_skill is None or not np.isfinite(rul_skill) or rul_skill >= RUL_SKILL
    life = _column(rul if skilled else None, len(p))
    cap = float(rul_cap) if rul_cap else np.nan
    beyond = np.where(np.isfinite(life) & np.isfinite(cap) & (life >= AT_CAP * cap), cap, np.nan)
    life = np.where(np.isnan(beyond), life, np.nan)  # at the cap: not a number the model can know
    odd = _column(anomaly, len(p))
    risk = np.maximum(p, _rul_risk(life, horizon, t))
    state = _states(risk, life, odd, t, horizon)
    health = _health(state, risk, life, odd, t, horizon, cap)
    progress = _column(learning, len(p))
    learning_now = np.isfinite(progress) & (progress < 1.0)
    state = np.where(learning_now, LEARNING, state)
    health = np.where(learning_now, np.nan, health)
    severity = np.where(state == AT_RISK, np.where(risk >= critical_level(t), CRITICAL, WARNING), "").astype(object)
    return Verdicts(state=state.astype(object), health=np.round(health, 1), risk=risk, level=risk_levels(risk, t),
                    rul=life, rul_beyond=beyond, severity=severity,
                    learning=np.where(learning_now, np.clip(progress, 0.0, 1.0), np.nan), threshold=t)


def _column(values: Any, rows: int) -> Array:
    """A float column, NaN where None or where the whole input is None."""
    if values is None:
        return np.full(rows, np.nan)
    return np.broadcast_to(np.asarray(values, np.float64).ravel(), (rows,)).copy()  # None reads as NaN


def _rul_risk(life: Array, horizon: float, t: float) -> Array:
    """The risk an RUL inside the horizon stands for: the alert level at the horizon's edge,
    rising linearly to 100% at an RUL of 0; nothing outside the horizon (rule 2)."""
    inside = np.isfinite(life) & (life <= horizon)
    used = np.clip(1.0 - np.nan_to_num(life, nan=horizon) / max(horizon, 1e-9), 0.0, 1.0)
    return np.where(inside, t + (1.0 - t) * used, 0.0)


def _states(risk: Array, life: Array, odd: Array, t: float, horizon: float) -> Array:
    at_risk = risk >= t  # includes an RUL inside the horizon (rule 2)
    watch = ((risk >= WATCH_SHARE * t) | (np.isfinite(life) & (life <= WATCH_HORIZONS * horizon))
             | (np.nan_to_num(odd) >= WATCH_ANOMALY))
    return np.where(at_risk, AT_RISK, np.where(watch, WATCH, HEALTHY))


def _health(state: Array, risk: Array, life: Array, odd: Array, t: float, horizon: float, cap: float) -> Array:
    """Each band's highest health minus its width times how deep the evidence reaches into it."""
    deep = {
        AT_RISK: (risk - t) / max(1.0 - t, 1e-9),
        WATCH: np.maximum.reduce([
            (risk / t - WATCH_SHARE) / (1.0 - WATCH_SHARE),
            _fill((WATCH_HORIZONS * horizon - life) / ((WATCH_HORIZONS - 1.0) * horizon)),
            _fill((odd - WATCH_ANOMALY) / (1.0 - WATCH_ANOMALY)),
        ]),
        HEALTHY: np.maximum.reduce([
            risk / (WATCH_SHARE * t),
            _fill((cap - life) / (cap - WATCH_HORIZONS * horizon)) if cap > WATCH_HORIZONS * horizon
            else np.zeros_like(risk),
            _fill((odd - HEALTHY_ANOMALY) / (WATCH_ANOMALY - HEALTHY_ANOMALY)),
        ]),
    }
    health = np.zeros_like(risk)
    for name, (low, high) in BANDS.items():
        health = np.where(state == name, high - (high - low) * np.clip(deep[name], 0.0, 1.0), health)
    return health


def _fill(values: Array) -> Array:
    return np.nan_to_num(values, nan=0.0)


def critical_level(threshold: float) -> float:
    """Halfway from the alert level to certainty: "very high", and critical (an RUL inside half
    the horizon reaches it by rule 2)."""
    return threshold + (1.0 - threshold) / 2.0


def risk_levels(risk: Array, threshold: float) -> Array:
    """Words for a risk against the alert level: low, raised (at least half of it), high (at or
    above it), very high (halfway from it to 100%)."""
    return np.select([risk >= critical_level(threshold), risk >= threshold, risk >= WATCH_SHARE * threshold],
                     ["very high", "high", "raised"], "low").astype(object)


def risk_text(risk: float, threshold: float) -> str:
    """"high (12%, alert level 5%)": the level first, the numbers behind it."""
    level = str(risk_levels(np.array([risk]), threshold)[0])
    return f"{level} ({_percent(risk)}, alert level {_percent(threshold)})"


def _percent(value: float) -> str:
    if 0 < value < 0.01:
        return "<1%"
    if 0.99 < value < 1:
        return ">99%"
    return f"{100.0 * value:.0f}%"


def _none(value: float, digits: int) -> float | None:
    return None if not np.isfinite(value) else round(float(value), digits)


# --- alarms -------------------------------------------------------------------------------------


def alarm_rule_check(*, k: int, n: int, clear: int) -> None:
    """Raise ValueError unless 1 <= k <= n <= MAX_N, 1 <= clear <= MAX_CLEAR and clear >= n - k + 1:
    after `clear` quiet windows fewer than k of the last n can be at risk, so an alarm that just
    closed cannot reopen on the windows that opened it."""
    if not (1 <= k <= n <= MAX_N and 1 <= clear <= MAX_CLEAR):
        raise ValueError(f"need 1 <= k <= n <= {MAX_N} and 1 <= clear <= {MAX_CLEAR}")
    if clear < n - k + 1:
        raise ValueError(f"clear must be at least n - k + 1 = {n - k + 1}, or an alarm could reopen on old windows")


def alarm_next(is_open: bool, recent: Sequence[bool] | Sequence[int], *, k: int, n: int, clear: int) -> bool:
    """The alarm after the newest window, given whether it was open before it and the latest
    windows (oldest first, the newest last; at least the last max(n, clear) when there are)."""
    if is_open:
        tail = list(recent)[-clear:]
        return not (len(tail) >= clear and not any(tail))
    return sum(bool(x) for x in list(recent)[-n:]) >= k


def alarm_states(at_risk: Sequence[bool] | Sequence[int] | Array, *, k: int, n: int, clear: int) -> list[bool]:
    """The alarm after each window of a sequence (rule check first)."""
    alarm_rule_check(k=k, n=n, clear=clear)
    flags, states, is_open = [bool(x) for x in at_risk], [], False
    memory = max(n, clear)
    for i in range(len(flags)):
        is_open = alarm_next(is_open, flags[max(0, i + 1 - memory): i + 1], k=k, n=n, clear=clear)
        states.append(is_open)
    return states


def expected_false_alarms(per_window_rate: float, *, k: int, n: int, clear: int, windows: int) -> float:
    """Expected alarms opened over `windows` windows of a healthy machine whose windows are each
    flagged independently with probability `per_window_rate`, starting quiet. Exact: the chain's
    state is (alarm open, the last n-1 flags, quiet windows in a row up to `clear`).

    Real windows are not independent (neighbours share most of their readings), so runs of false
    flags are likelier than here and this is a floor, not a ceiling: docs/models.md says so."""
    alarm_rule_check(k=k, n=n, clear=clear)
    rate = float(np.clip(per_window_rate, 0.0, 1.0))
    successor, opens = _alarm_chain(k=k, n=n, clear=clear)
    weights = np.array([1.0 - rate, rate])
    dist: Array = np.zeros(len(successor))
    dist[0] = 1.0  # closed, no flags yet
    expected = 0.0
    for step in range(windows):
        opened = float(dist @ (opens @ weights))
        moved = (np.bincount(successor[:, 0], dist * weights[0], minlength=len(dist))
                 + np.bincount(successor[:, 1], dist * weights[1], minlength=len(dist)))
        expected += opened
        if np.abs(moved - dist).sum() < 1e-13:  # stationary: every later window opens as many
            return expected + opened * (windows - step - 1)
        dist = moved
    return expected


def _alarm_chain(*, k: int, n: int, clear: int) -> tuple[Array, Array]:
    """(successor[state, flag], opens[state, flag]) over the states reachable from quiet."""
    start = (False, (False,) * (n - 1), 0)
    index, order = {start: 0}, [start]
    successor: list[list[int]] = []
    opens: list[list[float]] = []
    for state in order:  # grows while walking: a breadth-first enumeration
        row, opened = [], []
        for flag in (False, True):
            after, did_open = _alarm_step(state, flag, k=k, clear=clear)
            if after not in index:
                index[after] = len(order)
                order.append(after)
            row.append(index[after])
            opened.append(1.0 if did_open else 0.0)
        successor.append(row)
        opens.append(opened)
    return np.array(successor, np.int64), np.array(opens)


def _alarm_step(state: tuple[bool, tuple[bool, ...], int], flag: bool, *, k: int,
                clear: int) -> tuple[tuple[bool, tuple[bool, ...], int], bool]:
    is_open, history, quiet = state
    window = (*history, flag)
    quiet = 0 if flag else min(quiet + 1, clear)
    now_open = quiet < clear if is_open else sum(window) >= k
    return (now_open, window[1:], quiet if now_open else 0), now_open and not is_open
