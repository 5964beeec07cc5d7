"""From one prediction to a probability of failure on each day of the plan. Pure, no Django.

The engine gives two views of the same risk (docs/models.md): the classifier's probability `p` that
the machine fails within `horizon_h`, and the RUL regressor's estimate `rul_h` with an interval
[`rul_lower_h`, `rul_upper_h`]. We combine them (docs/planning.md, "Failure risk per day"):

1. the time to failure T is normal with mean `rul_h` and the interval as its 90% range
   (sigma = (upper - lower) / (2 x 1.645));
2. the classifier decides how much failure mass falls within its horizon: P(T <= horizon_h) = p,
   shaped inside it like the RUL distribution, and after it the RUL distribution conditioned on
   T > horizon_h carries the remaining 1 - p;
3. without an RUL to plan on, p is spread over horizon_h as a constant hazard; after horizon_h the
   hazard is `after_hazard_per_h` when given (the failure mode's base rate, 1 / its mean time to
   failure, for a machine the models call healthy), else the same constant hazard continues;
4. time runs from the prediction's last reading: the plan starts `elapsed_h` later, so the daily
   probabilities are conditioned on the machine still running at the plan's start.

Why 3 has a base rate: a classifier's probability speaks of its own horizon (often a day or two).
Carrying a healthy machine's 2% a day over a 14-day plan would call it 25% likely to fail, and an
RUL at its cap ("beyond N days, no sign of wear") read as a time to failure called it certain to
fail within N: both made healthy machines look worth a rebuild (issue 16).
"""

from __future__ import annotations

import math

Z90 = 1.6448536269514722  # the normal quantile of 95%: a 90% two-sided interval is mean +- Z90 sigma
TINY = 1e-9


def _normal_cdf(x: float, mean: float, sigma: float) -> float:
    return 0.5 * (1.0 + math.erf((x - mean) / (sigma * math.sqrt(2.0))))


def failure_cdf(t_h: float, *, probability: float, horizon_h: float, rul_h: float | None,
                rul_lower_h: float | None, rul_upper_h: float | None,
                after_hazard_per_h: float | None = None) -> float:
    """P(the machine fails within t_h hours of the prediction's last reading)."""
    p = min(max(probability, 0.0), 1.0)
    h = max(horizon_h, 1.0)
    if t_h <= 0:
        return 0.0
    constant_hazard = 1.0 - (1.0 - min(p, 1.0 - TINY)) ** (t_h / h)
    if rul_h is None:
        if after_hazard_per_h is None or t_h <= h:
            return constant_hazard
        return p + (1.0 - p) * (1.0 - math.exp(-max(after_hazard_per_h, 0.0) * (t_h - h)))
    lower = rul_lower_h if rul_lower_h is not None else rul_h
    upper = rul_upper_h if rul_upper_h is not None else rul_h
    sigma = max((upper - lower) / (2.0 * Z90), 1.0)  # at least an hour: a point estimate is never exact

    def rul(x: float) -> float:
        return _normal_cdf(x, rul_h, sigma)

    at_h = rul(h)
    if t_h <= h:
        # p of the mass inside the classifier's horizon, shaped like the RUL distribution
        return p * (rul(t_h) - rul(0.0)) / (at_h - rul(0.0)) if at_h - rul(0.0) > TINY else p * t_h / h
    if 1.0 - at_h <= TINY:
        return constant_hazard
    return p + (1.0 - p) * (rul(t_h) - at_h) / (1.0 - at_h)


def day_probabilities(*, probability: float, horizon_h: float, rul_h: float | None, rul_lower_h: float | None,
                      rul_upper_h: float | None, elapsed_h: float, days: int,
                      after_hazard_per_h: float | None = None) -> tuple[float, ...]:
    """P(failure on day d of the plan | running at its start), d = 0..days-1 (days of 24 h)."""
    def cdf(t: float) -> float:
        return failure_cdf(t, probability=probability, horizon_h=horizon_h, rul_h=rul_h,
                           rul_lower_h=rul_lower_h, rul_upper_h=rul_upper_h, after_hazard_per_h=after_hazard_per_h)

    start = max(elapsed_h, 0.0)
    survived = 1.0 - cdf(start)
    if survived <= TINY:
        # The models expected it to have failed already: it is still running, so treat it as due now.
        return (1.0 - TINY, *([0.0] * (days - 1)))
    edges = [cdf(start + 24.0 * d) for d in range(days + 1)]
    return tuple(max(edges[d + 1] - edges[d], 0.0) / survived for d in range(days))
