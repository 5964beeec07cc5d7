"""A safe expression language for derived signals, e.g. `torque_nm * speed_rpm * 2 * pi / 60`.

Formulas come from tenants (machine-type metadata documents), so they are untrusted input. We parse
them with `ast.parse` only to get a syntax tree (no code object is ever built), check every node
against a whitelist, and turn the tree into a tree of small numpy closures. Nothing here calls
`eval`, `exec` or `compile`.

Everything is computed in float64 so that a formula can never allocate a huge integer, and
comparisons yield 1.0 / 0.0 so that they mix with arithmetic. Numpy's rules apply to bad values:
division by zero gives inf or nan, never an exception.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

MAX_FORMULA_LENGTH = 500
MAX_DEPTH = 40
MAX_CONSTANT_EXPONENT = 100.0

Value = float | np.ndarray
Inputs = Mapping[str, float | np.ndarray]
Node = Callable[[Mapping[str, np.ndarray]], np.ndarray]

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "nan": math.nan}


def _min(*args: np.ndarray) -> np.ndarray:
    return functools.reduce(np.minimum, args)


def _max(*args: np.ndarray) -> np.ndarray:
    return functools.reduce(np.maximum, args)


def _where(condition: np.ndarray, if_true: np.ndarray, if_false: np.ndarray) -> np.ndarray:
    return np.where(condition != 0, if_true, if_false)


# name -> (implementation, minimum arity, maximum arity or None for "any")
FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], int, int | None]] = {
    "abs": (np.abs, 1, 1),
    "sqrt": (np.sqrt, 1, 1),
    "exp": (np.exp, 1, 1),
    "log": (np.log, 1, 1),
    "log10": (np.log10, 1, 1),
    "sin": (np.sin, 1, 1),
    "cos": (np.cos, 1, 1),
    "tan": (np.tan, 1, 1),
    "min": (_min, 2, None),
    "max": (_max, 2, None),
    "clip": (np.clip, 3, 3),
    "where": (_where, 3, 3),
}

# Names a signal may not take, or formulas could not tell the signal from the built-in.
RESERVED_NAMES: frozenset[str] = frozenset(CONSTANTS) | frozenset(FUNCTIONS)

_BINARY: dict[type[ast.operator], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
    ast.Mod: np.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
_REFUSED_WORDS: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "subscripts (a[...])",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.IfExp: "'x if c else y' (use where(c, x, y))",
    ast.NamedExpr: "assignment (:=)",
    ast.JoinedStr: "strings",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.Starred: "star arguments",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}


class FormulaError(ValueError):
    """A formula that cannot be accepted. `position` is the 0-based character offset of the offending
    part of the text, so an editor can point at it."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"{self.message} (at character {self.position + 1})"


@dataclass(frozen=True)
class Formula:
    """A checked formula, ready to evaluate many times."""

    text: str
    names: frozenset[str]
    _root: Node

    def evaluate(self, values: Inputs) -> Value:
        """Vectorised evaluation. Scalars in, float out; any array in, float64 array out
        (arrays broadcast against each other as numpy does)."""
        missing = sorted(self.names - values.keys())
        if missing:
            raise KeyError(f"no value given for signal(s) {', '.join(missing)} used by formula {self.text!r}")
        inputs = {name: np.asarray(values[name], dtype=np.float64) for name in self.names}
        with np.errstate(all="ignore"):
            result = np.asarray(self._root(inputs), dtype=np.float64)
        return float(result) if result.ndim == 0 else result


def formula_compile(text: str, allowed_names: Iterable[str]) -> Formula:
    """Parse and check `text`; `allowed_names` are the signals it may read."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"formula is too long ({len(text)} characters; at most {MAX_FORMULA_LENGTH})")
    if not text.strip():
        raise FormulaError("formula is empty")
    if "\n" in text or "\r" in text:
        raise FormulaError("a formula must fit on one line", min(text.find(c) for c in "\n\r" if c in text))
    tree = _parse(text)
    compiler = _Compiler(text, frozenset(allowed_names))
    root = compiler.node(tree.body, depth=0)
    return Formula(text=text, names=frozenset(compiler.names), _root=root)


def _parse(text: str) -> ast.Expression:
    # ast.parse builds only a syntax tree; nothing from it is ever executed.
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as error:
        if not error.offset:  # the parser ran off the end: something is missing there
            raise FormulaError(f"syntax error: {error.msg} (the formula looks incomplete)", len(text)) from None
        raise FormulaError(f"syntax error: {error.msg}", min(error.offset - 1, len(text))) from None
    except (RecursionError, MemoryError):
        raise FormulaError("formula is nested too deeply") from None


class _Compiler:
    """Walks the syntax tree once, refusing anything off the whitelist, and returns closures."""

    def __init__(self, text: str, allowed: frozenset[str]) -> None:
        self.text = text
        self.allowed = allowed
        self.names: set[str] = set()

    def position(self, node: ast.AST) -> int:
        # col_offset counts UTF-8 bytes; the caller wants characters.
        offset: int = getattr(node, "col_offset", 0)
        return len(self.text.encode("utf-8")[:offset].decode("utf-8", errors="ignore"))

    def fail(self, node: ast.AST, message: str) -> FormulaError:
        return FormulaError(message, self.position(node))

    def node(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"formula is nested too deeply (more than {MAX_DEPTH} levels)")
        handler = getattr(self, f"visit_{type(node).__name__}", None)
        if handler is None:
            what = _REFUSED_WORDS.get(type(node), f"'{type(node).__name__}' expressions")
            raise self.fail(node, f"not allowed in a formula: {what}")
        result: Node = handler(node, depth + 1)
        return result

    def visit_Constant(self, node: ast.Constant, depth: int) -> Node:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(node, f"only numbers are allowed as constants, got {value!r}")
        try:
            number = np.float64(float(value))
        except OverflowError:
            raise self.fail(node, "number is too large") from None
        if not math.isfinite(number):
            raise self.fail(node, "number is too large")
        constant = np.asarray(number)
        return lambda values: constant

    def visit_Name(self, node: ast.Name, depth: int) -> Node:
        name = node.id
        if name in CONSTANTS:
            constant = np.asarray(CONSTANTS[name], dtype=np.float64)
            return lambda values: constant
        if name in FUNCTIONS:
            raise self.fail(node, f"'{name}' is a function; call it as {name}(...)")
        if name not in self.allowed:
            raise self.fail(node, _unknown_name_message(name, self.allowed))
        self.names.add(name)
        return lambda values: values[name]

    def visit_BinOp(self, node: ast.BinOp, depth: int) -> Node:
        operation = _BINARY.get(type(node.op))
        if operation is None:
            raise self.fail(node, f"operator {_operator_symbol(node.op)} is not allowed (use + - * / ** %)")
        if isinstance(node.op, ast.Pow):
            self._check_exponent(node)
        left, right = self.node(node.left, depth), self.node(node.right, depth)
        return lambda values: operation(left(values), right(values))

    def _check_exponent(self, node: ast.BinOp) -> None:
        # Floats cannot explode the way Python ints do, but a tower like 9**9**9 is never a real
        # signal formula and huge constant exponents only produce inf: refuse both clearly.
        for side in (node.left, node.right):
            if isinstance(side, ast.BinOp) and isinstance(side.op, ast.Pow):
                raise self.fail(side, "a power of a power (a ** b ** c) is not allowed; add parentheses or simplify")
        exponent = _constant_value(node.right)
        if exponent is not None and abs(exponent) > MAX_CONSTANT_EXPONENT:
            raise self.fail(node.right, f"exponent {exponent:g} is too large (at most {MAX_CONSTANT_EXPONENT:g})")

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int) -> Node:
        operand = self.node(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return lambda values: np.negative(operand(values))
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not):
            return lambda values: (operand(values) == 0).astype(np.float64)
        raise self.fail(node, f"operator {_operator_symbol(node.op)} is not allowed")

    def visit_BoolOp(self, node: ast.BoolOp, depth: int) -> Node:
        # Element-wise: `a > 1 and b < 2` means both hold at that sample, never short-circuiting.
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        operands = [self.node(operand, depth) for operand in node.values]

        def evaluate(values: Mapping[str, np.ndarray]) -> np.ndarray:
            truths = [operand(values) != 0 for operand in operands]
            return np.asarray(functools.reduce(combine, truths), dtype=np.float64)

        return evaluate

    def visit_Compare(self, node: ast.Compare, depth: int) -> Node:
        operations = []
        for operator in node.ops:
            operation = _COMPARE.get(type(operator))
            if operation is None:
                raise self.fail(node, f"comparison {_operator_symbol(operator)} is not allowed (use < <= > >= == !=)")
            operations.append(operation)
        operands = [self.node(operand, depth) for operand in [node.left, *node.comparators]]

        def evaluate(values: Mapping[str, np.ndarray]) -> np.ndarray:
            computed = [operand(values) for operand in operands]
            pairs = [op(a, b) for op, a, b in zip(operations, computed, computed[1:], strict=False)]
            return np.asarray(functools.reduce(np.logical_and, pairs), dtype=np.float64)

        return evaluate

    def visit_Call(self, node: ast.Call, depth: int) -> Node:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the built-in functions can be called, by name (e.g. sqrt(x))")
        name = node.func.id
        if name not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise self.fail(node, f"function '{name}' is not allowed; allowed functions: {allowed}")
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        function, least, most = FUNCTIONS[name]
        self._check_arity(node, name, least, most)
        arguments = [self.node(argument, depth) for argument in node.args]
        return lambda values: function(*(argument(values) for argument in arguments))

    def _check_arity(self, node: ast.Call, name: str, least: int, most: int | None) -> None:
        count = len(node.args)
        if least <= count and (most is None or count <= most):
            return
        if most is None:
            expected = f"at least {least}"
        else:
            expected = str(least) if least == most else f"{least} to {most}"
        raise self.fail(node, f"{name}() takes {expected} argument(s), got {count}")


def _constant_value(node: ast.AST) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _constant_value(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        try:
            return float(node.value)
        except OverflowError:
            return math.inf
    return None


def _unknown_name_message(name: str, allowed: frozenset[str]) -> str:
    known = sorted(allowed)
    message = f"unknown signal '{name}'"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        message += f" (did you mean '{close[0]}'?)"
    if not known:
        return message + "; this formula may not read any signal"
    listed = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
    return f"{message}; known: {listed}"


_SYMBOLS: dict[type[ast.AST], str] = {
    ast.FloorDiv: "//", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
    ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~", ast.Is: "is", ast.IsNot: "is not",
    ast.In: "in", ast.NotIn: "not in",
}


def _operator_symbol(operator: ast.AST) -> str:
    return f"'{_SYMBOLS.get(type(operator), type(operator).__name__)}'"
