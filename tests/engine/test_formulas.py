"""The derived-signal formula language: arithmetic, vectorisation and, above all, what it refuses."""

from __future__ import annotations

import builtins
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from engine import formulas
from engine.formulas import MAX_FORMULA_LENGTH, FormulaError, formula_compile

SIGNALS = {"a", "b", "c", "speed_rpm", "torque_nm"}


def evaluate(text: str, **values: float | np.ndarray) -> float | np.ndarray:
    return formula_compile(text, SIGNALS).evaluate(values)


def test_power_from_torque_and_speed() -> None:
    power = formula_compile("torque_nm * speed_rpm * 2 * pi / 60", {"torque_nm", "speed_rpm"})
    assert power.names == {"torque_nm", "speed_rpm"}
    assert power.evaluate({"torque_nm": 40.0, "speed_rpm": 1500.0}) == pytest.approx(6283.185307, rel=1e-9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 + 3 * 4 ** 2", 50.0),
        ("(2 + 3) * 4", 20.0),
        ("-2 ** 2", -4.0),  # as in Python: the power binds tighter than the minus
        ("+a - -b", 5.0),
        ("7 % 3", 1.0),
        ("-7 % 3", 2.0),  # Python's (and numpy's) sign rule for modulo
        ("a / b", 1.5),
        ("10 / 4", 2.5),  # true division, never integer division
        ("a ** 0.5", math.sqrt(3)),
        ("1e3 + 0.5", 1000.5),
        ("e", math.e),
        ("abs(-a)", 3.0),
        ("sqrt(16)", 4.0),
        ("exp(0) + log(e) + log10(1000)", 5.0),
        ("sin(0) + cos(0) + tan(0)", 1.0),
        ("min(a, b, 1)", 1.0),
        ("max(a, b, 1)", 3.0),
        ("clip(a, 0, 2)", 2.0),
        ("where(a > b, a, b)", 3.0),
        ("where(a < b, a, b)", 2.0),
        ("a > b", 1.0),
        ("a <= b", 0.0),
        ("a == 3", 1.0),
        ("a != 3", 0.0),
        ("1 < a < 4", 1.0),
        ("1 < a < 2", 0.0),
        ("a > 1 and b > 5", 0.0),
        ("a > 1 or b > 5", 1.0),
        ("not a > 1", 0.0),
        ("-(a > b) + 1", 0.0),  # comparisons are numbers, so they mix with arithmetic
    ],
)
def test_scalar_arithmetic(text: str, expected: float) -> None:
    result = evaluate(text, a=3.0, b=2.0)
    assert isinstance(result, float)
    assert result == pytest.approx(expected)


def test_arrays_are_evaluated_element_wise() -> None:
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([4.0, 5.0, 6.0])
    result = evaluate("a * b + max(a, 2) - where(b > 4.5, 1, 0)", a=a, b=b)
    assert isinstance(result, np.ndarray)
    np.testing.assert_allclose(result, a * b + np.maximum(a, 2) - (b > 4.5))


def test_scalars_broadcast_against_arrays_and_integers_become_floats() -> None:
    result = evaluate("a / b", a=np.array([1, 2, 3]), b=2)
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, [0.5, 1.0, 1.5])


def test_bad_values_follow_numpy_rules_without_exceptions_or_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert evaluate("a / b", a=1.0, b=0.0) == math.inf
        assert math.isnan(evaluate("a / b", a=0.0, b=0.0))
        assert evaluate("log(a)", a=0.0) == -math.inf
        assert math.isnan(evaluate("sqrt(a)", a=-1.0))
        assert evaluate("a ** 100", a=1e10) == math.inf
        result = evaluate("where(b > 0, a / b, nan)", a=np.array([1.0, 4.0]), b=np.array([0.0, 2.0]))
    assert isinstance(result, np.ndarray)
    assert math.isnan(result[0]) and result[1] == 2.0


def test_names_lists_only_signals_not_constants_or_functions() -> None:
    formula = formula_compile("sqrt(a) * pi + e + max(b, nan)", SIGNALS)
    assert formula.names == {"a", "b"}


def test_missing_input_value_is_a_key_error_naming_it() -> None:
    formula = formula_compile("a + b", SIGNALS)
    with pytest.raises(KeyError, match="b"):
        formula.evaluate({"a": 1.0})


REFUSALS = [
    ("__import__('os')", "function '__import__' is not allowed", 0),
    ("open(a)", "function 'open' is not allowed", 0),
    ("a.b", "attribute access", 0),
    ("a.__class__", "attribute access", 0),
    ("a[0]", "subscripts", 0),
    ("lambda: 1", "lambda", 0),
    ("[x for x in a]", "comprehensions", 0),
    ("a if b else c", "use where(c, x, y)", 0),
    ("(b := 1)", "assignment", 1),
    ("9**9**9", "power of a power", 3),
    ("2 ** 1000", "exponent 1000 is too large", 5),
    ("a ** -101", "exponent -101 is too large", 5),
    ("spead_rpm * 2", "unknown signal 'spead_rpm' (did you mean 'speed_rpm'?); known: a, b, c", 0),
    ("a + b + zz", "unknown signal 'zz'", 8),
    ("sqrt", "'sqrt' is a function", 0),
    ("sqrt(a, b)", "sqrt() takes 1 argument(s), got 2", 0),
    ("max(a)", "max() takes at least 2 argument(s), got 1", 0),
    ("clip(a, b)", "clip() takes 3 argument(s), got 2", 0),
    ("sqrt(x=a)", "no keyword arguments", 0),
    ("(a)(1)", "function 'a' is not allowed", 0),
    ("'text'", "only numbers are allowed as constants", 0),
    ("True + 1", "only numbers are allowed as constants", 0),
    ("1j", "only numbers are allowed as constants", 0),
    ("1e999", "number is too large", 0),
    ("a // b", "operator '//' is not allowed", 0),
    ("a << 1", "operator '<<' is not allowed", 0),
    ("a @ b", "operator '@' is not allowed", 0),
    ("~a", "operator '~' is not allowed", 0),
    ("a is b", "comparison 'is' is not allowed", 0),
    ("a in b", "comparison 'in' is not allowed", 0),
    ("a +", "syntax error", 3),
    ("a b", "syntax error", 2),
    ("", "formula is empty", 0),
    ("   ", "formula is empty", 0),
    ("a +\n b", "one line", 3),
    ("-" * 50 + "a", "nested too deeply", 41),
    ("a" * (MAX_FORMULA_LENGTH + 1), "too long", 0),
]


@pytest.mark.parametrize(("text", "message", "position"), REFUSALS, ids=[text[:24] for text, _, _ in REFUSALS])
def test_refusals_say_what_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(FormulaError) as caught:
        formula_compile(text, SIGNALS)
    assert message in caught.value.message
    assert caught.value.position == position
    assert str(caught.value).endswith(f"(at character {position + 1})")


def test_positions_count_characters_not_bytes() -> None:
    with pytest.raises(FormulaError) as caught:
        formula_compile("é + a + unknown", {"é", "a"})
    assert caught.value.position == 8


def test_no_signals_allowed_says_so() -> None:
    with pytest.raises(FormulaError, match="may not read any signal"):
        formula_compile("a + 1", set())


def test_evaluation_never_calls_eval_or_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec must never be used")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    formula = formula_compile("where(a > 1, sqrt(a) * pi, -a) + b ** 2", SIGNALS)
    assert formula.evaluate({"a": 4.0, "b": 3.0}) == pytest.approx(2 * math.pi + 9)


def test_module_source_has_no_eval_exec_or_compile_calls() -> None:
    source = Path(formulas.__file__).read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w.])(eval|exec|compile)\(", source)
