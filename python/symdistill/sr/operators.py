"""The operator table: one definition of every operator's semantics.

Each operator has a name in PySR's spelling (``"+"``, ``"^"``, ``"square"`` ...), an
arity, an integer code that the Numba kernels dispatch on, a default complexity, a
NumPy reference implementation and a sympy mapping. The search, ``predict``, the sympy
export and the torch export all follow these semantics:

* No operator is "protected". ``log`` of a value <= 0, ``sqrt`` of a negative value
  and a negative base with a non-integer exponent give NaN (``log(0)`` gives -inf),
  and any non-finite value makes a candidate invalid (infinite loss).
* The comparisons return 1.0 or 0.0: ``a > b`` exports as
  ``Piecewise((1, a > b), (0, True))``.
* ``IF(a, b, c)`` is ``b`` where ``a > 0`` and ``c`` elsewhere, exported as
  ``Piecewise((b, a > 0), (c, True))``.
* ``cbrt`` is the real cube root, exported as ``sign(x)*Abs(x)**(1/3)``.

User-defined operators are built with :func:`custom_operator`. They get codes from
:data:`FIRST_CUSTOM_CODE` upward when an :class:`OperatorSet` is built, and the
evaluator runs them through their NumPy callable with every exception caught.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Iterable, Sequence

import numpy as np
import sympy

# Leaf codes. Operator codes start at 10, so any code below 10 is a leaf.
CONST = 0
FEATURE = 1

# Unary operator codes.
NEG = 10
SQUARE = 11
CUBE = 12
SQRT = 13
CBRT = 14
EXP = 15
LOG = 16
ABS = 17
SIN = 18
COS = 19
TANH = 20
INV = 21

# Binary operator codes.
ADD = 40
SUB = 41
MUL = 42
DIV = 43
POW = 44
GT = 45
LT = 46

# Ternary operator codes.
IF = 70

FIRST_CUSTOM_CODE = 100
"""Codes from here up belong to user-defined operators, numbered per operator set."""


@dataclasses.dataclass(frozen=True, eq=False)
class Operator:
    """One operator: name, arity, kernel code, complexity and its two mappings.

    Attributes
    ----------
    name : str
        Name in PySR's spelling, used in options, equation strings and the CSV.
    arity : int
        Number of arguments: 1, 2 or 3.
    code : int
        Integer the Numba kernels dispatch on. Built-in codes are fixed module
        constants; user-defined operators get codes >= ``FIRST_CUSTOM_CODE``.
    numpy : callable
        Vectorised reference implementation taking ``arity`` float64 arrays and
        returning one array of the same shape.
    sympy : callable
        Maps ``arity`` sympy expressions to the sympy expression of the operator.
    complexity : float
        Default complexity of one node of this operator.
    builtin : bool
        True for operators that the Numba kernels implement natively.
    infix : bool
        True when equation strings write the operator between its arguments.
    """

    name: str
    arity: int
    code: int
    numpy: Callable[..., np.ndarray]
    sympy: Callable[..., sympy.Expr]
    complexity: float = 1.0
    builtin: bool = True
    infix: bool = False

    def __repr__(self) -> str:
        return f"Operator({self.name!r}, arity={self.arity}, code={self.code})"


def _real_cbrt_sympy(x: sympy.Expr) -> sympy.Expr:
    return sympy.sign(x) * sympy.Abs(x) ** sympy.Rational(1, 3)


def _indicator(condition: sympy.Basic) -> sympy.Expr:
    return sympy.Piecewise((sympy.Integer(1), condition), (sympy.Integer(0), True))


def _numpy_pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # np.power already gives NaN for a negative base with a non-integer exponent.
    return np.power(a, b)


def _numpy_log(a: np.ndarray) -> np.ndarray:
    return np.log(a)


def _numpy_if(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.where(a > 0, b, c)


_BUILTINS: tuple[Operator, ...] = (
    Operator("neg", 1, NEG, np.negative, lambda x: -x),
    Operator("square", 1, SQUARE, np.square, lambda x: x**2),
    Operator("cube", 1, CUBE, lambda x: x * x * x, lambda x: x**3),
    Operator("sqrt", 1, SQRT, np.sqrt, sympy.sqrt),
    Operator("cbrt", 1, CBRT, np.cbrt, _real_cbrt_sympy),
    Operator("exp", 1, EXP, np.exp, sympy.exp),
    Operator("log", 1, LOG, _numpy_log, sympy.log),
    Operator("abs", 1, ABS, np.abs, sympy.Abs),
    Operator("sin", 1, SIN, np.sin, sympy.sin),
    Operator("cos", 1, COS, np.cos, sympy.cos),
    Operator("tanh", 1, TANH, np.tanh, sympy.tanh),
    Operator("inv", 1, INV, lambda x: 1.0 / x, lambda x: 1 / x),
    Operator("+", 2, ADD, np.add, lambda a, b: a + b, infix=True),
    Operator("-", 2, SUB, np.subtract, lambda a, b: a - b, infix=True),
    Operator("*", 2, MUL, np.multiply, lambda a, b: a * b, infix=True),
    Operator("/", 2, DIV, np.divide, lambda a, b: a / b, infix=True),
    Operator("^", 2, POW, _numpy_pow, lambda a, b: a**b, infix=True),
    Operator(">", 2, GT, lambda a, b: (a > b).astype(np.float64), lambda a, b: _indicator(a > b), infix=True),
    Operator("<", 2, LT, lambda a, b: (a < b).astype(np.float64), lambda a, b: _indicator(a < b), infix=True),
    Operator("IF", 3, IF, _numpy_if, lambda a, b, c: sympy.Piecewise((b, a > 0), (c, True))),
)

BUILTIN_OPERATORS: dict[str, Operator] = {op.name: op for op in _BUILTINS}
"""Built-in operators by PySR name."""

BUILTIN_BY_CODE: dict[int, Operator] = {op.code: op for op in _BUILTINS}

ALIASES: dict[str, str] = {
    "add": "+",
    "plus": "+",
    "sub": "-",
    "mult": "*",
    "mul": "*",
    "div": "/",
    "pow": "^",
    "**": "^",
    "greater": ">",
    "less": "<",
    "if": "IF",
    "if_else": "IF",
    "negate": "neg",
}
"""Other spellings accepted in options, mapped to the PySR name."""

DEFAULT_BINARY_OPERATORS: tuple[str, ...] = ("+", "-", "*", "/")


def custom_operator(
    name: str,
    arity: int,
    function: Callable[..., np.ndarray],
    sympy_mapping: Callable[..., sympy.Expr],
    complexity: float = 1.0,
) -> Operator:
    """Define a user operator from a vectorised NumPy callable and a sympy mapping.

    The callable receives ``arity`` float64 arrays of equal length and must return one
    array of that length. It is guarded during the search: an exception, a wrong shape
    or a non-finite value makes the candidate invalid instead of stopping the search.

    Raises
    ------
    ValueError
        If the name clashes with a built-in operator or the arity is not 1, 2 or 3.
    TypeError
        If ``function`` or ``sympy_mapping`` is not callable.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"custom operator name {name!r} is invalid; use a Python identifier such as 'mysqrt'")
    if name in BUILTIN_OPERATORS or name in ALIASES:
        raise ValueError(f"custom operator name {name!r} clashes with a built-in operator; choose another name")
    if arity not in (1, 2, 3):
        raise ValueError(f"custom operator {name!r} has arity {arity!r}; expected 1, 2 or 3")
    if not callable(function):
        raise TypeError(f"custom operator {name!r}: function must be callable, got {type(function).__name__}")
    if not callable(sympy_mapping):
        raise TypeError(f"custom operator {name!r}: sympy_mapping must be callable, got {type(sympy_mapping).__name__}")
    if not (isinstance(complexity, (int, float)) and math.isfinite(complexity) and complexity > 0):
        raise ValueError(f"custom operator {name!r}: complexity must be a positive number, got {complexity!r}")
    return Operator(name, arity, -1, function, sympy_mapping, float(complexity), builtin=False)


def lookup(name_or_operator: str | Operator) -> Operator:
    """Return the operator for a name (PySR spelling or alias) or a custom operator.

    Raises
    ------
    ValueError
        If the name is unknown; the message lists the valid names.
    """
    if isinstance(name_or_operator, Operator):
        return name_or_operator
    if not isinstance(name_or_operator, str):
        raise TypeError(f"operator must be a name or an Operator, got {name_or_operator!r}")
    name = name_or_operator.strip()
    name = ALIASES.get(name, name)
    if name not in BUILTIN_OPERATORS:
        valid = ", ".join(repr(n) for n in BUILTIN_OPERATORS)
        raise ValueError(
            f"unknown operator {name_or_operator!r}; valid names are {valid}, "
            "or define one with symdistill.sr.operators.custom_operator"
        )
    return BUILTIN_OPERATORS[name]


@dataclasses.dataclass(frozen=True, eq=False)
class OperatorSet:
    """The operators chosen for one search, with custom operators given codes.

    Attributes
    ----------
    operators : tuple of Operator
        Every chosen operator, custom ones carrying their assigned codes.
    unary, binary, ternary : tuple of Operator
        The same operators grouped by arity.
    """

    operators: tuple[Operator, ...]

    @property
    def unary(self) -> tuple[Operator, ...]:
        return tuple(op for op in self.operators if op.arity == 1)

    @property
    def binary(self) -> tuple[Operator, ...]:
        return tuple(op for op in self.operators if op.arity == 2)

    @property
    def ternary(self) -> tuple[Operator, ...]:
        return tuple(op for op in self.operators if op.arity == 3)

    @property
    def has_custom(self) -> bool:
        return any(not op.builtin for op in self.operators)

    def by_code(self) -> dict[int, Operator]:
        """Return a code -> operator mapping for this set."""
        return {op.code: op for op in self.operators}

    def by_name(self) -> dict[str, Operator]:
        """Return a name -> operator mapping for this set."""
        return {op.name: op for op in self.operators}


def build_operator_set(
    binary: Iterable[str | Operator] = DEFAULT_BINARY_OPERATORS,
    unary: Iterable[str | Operator] = (),
    ternary: Iterable[str | Operator] = (),
) -> OperatorSet:
    """Resolve operator names into an :class:`OperatorSet`.

    Each group must contain operators of its arity. Custom operators are numbered from
    :data:`FIRST_CUSTOM_CODE` in the order given.

    Raises
    ------
    ValueError
        On an unknown name, an operator in the wrong group, a duplicate, or when no
        operator is chosen at all.
    """
    chosen: list[Operator] = []
    seen: set[str] = set()
    next_code = FIRST_CUSTOM_CODE
    for group, arity in ((unary, 1), (binary, 2), (ternary, 3)):
        if isinstance(group, (str, Operator)):
            group = (group,)
        for item in group:
            op = lookup(item)
            if op.arity != arity:
                kind = {1: "unary", 2: "binary", 3: "ternary"}
                raise ValueError(
                    f"operator {op.name!r} has arity {op.arity} but was listed among the {kind[arity]} "
                    f"operators; list it under {kind[op.arity]}_operators"
                )
            if op.name in seen:
                raise ValueError(f"operator {op.name!r} is listed twice")
            seen.add(op.name)
            if not op.builtin:
                op = dataclasses.replace(op, code=next_code)
                next_code += 1
            chosen.append(op)
    if not chosen:
        raise ValueError("no operators chosen; give at least one binary or unary operator, e.g. binary_operators=['+', '*']")
    return OperatorSet(tuple(chosen))


def operator_names(operators: Sequence[Operator]) -> list[str]:
    """Return the names of ``operators`` in order."""
    return [op.name for op in operators]
