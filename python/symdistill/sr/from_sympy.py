"""Convert sympy expressions into postfix trees over a given operator set (guesses).

Sums and products become chains of ``+`` and ``*``, and subtraction and division
appear for negated terms and negative powers. Powers map to ``square``, ``cube``,
``sqrt``, ``inv`` or ``^``, whichever the operator set has, and ``sin``, ``cos``,
``exp``, ``log``, ``tanh`` and ``Abs`` map to the unary operators of the same name.
An expression that needs an operator outside the set raises ``ValueError``.
"""

from __future__ import annotations

from typing import Sequence

import sympy

from symdistill.sr.operators import CONST, FEATURE, OperatorSet
from symdistill.sr.tree import Tree

_FUNCTIONS = {sympy.sin: "sin", sympy.cos: "cos", sympy.exp: "exp", sympy.log: "log", sympy.tanh: "tanh", sympy.Abs: "abs"}


def tree_from_sympy(expression: sympy.Expr | str, operator_set: OperatorSet, variable_names: Sequence[str]) -> Tree:
    """Return the postfix tree of ``expression``.

    Strings are parsed with every variable name bound to a plain Symbol, so names
    such as ``N`` or ``beta`` are variables, not sympy objects.

    Raises
    ------
    ValueError
        If the expression uses a symbol that is not a variable, or an operation the
        operator set cannot express.
    """
    names = {name: sympy.Symbol(name) for name in variable_names}
    if isinstance(expression, str):
        try:
            expression = sympy.sympify(expression, locals=names)
        except (sympy.SympifyError, SyntaxError, TypeError) as error:
            raise ValueError(f"cannot parse guess {expression!r}: {error}") from None
    index = {symbol: i for i, symbol in enumerate(names.values())}
    codes = {op.name: op.code for op in operator_set.operators}
    return tuple(_convert(sympy.sympify(expression), index, codes))


def _convert(expr: sympy.Expr, index: dict, codes: dict) -> list:
    if expr.is_Symbol:
        if expr not in index:
            raise ValueError(f"guess uses {expr}, which is not one of the variables {list(map(str, index))}")
        return [(FEATURE, float(index[expr]))]
    if expr.is_Number:
        value = float(expr)
        return [(CONST, value)]
    if expr.is_Add:
        return _chain(expr.args, "+", "-", index, codes)
    if expr.is_Mul:
        numerator = [a for a in expr.args if not (a.is_Pow and a.exp.is_Number and a.exp < 0)]
        denominator = [a.base ** (-a.exp) for a in expr.args if a.is_Pow and a.exp.is_Number and a.exp < 0]
        nodes = _chain(numerator or [sympy.Integer(1)], "*", None, index, codes)
        for factor in denominator:
            nodes += _convert(factor, index, codes) + [(_code("/", codes), 0.0)]
        return nodes
    if expr.is_Pow:
        return _power(expr.base, expr.exp, index, codes)
    for function, name in _FUNCTIONS.items():
        if isinstance(expr, function):
            return _convert(expr.args[0], index, codes) + [(_code(name, codes), 0.0)]
    raise ValueError(f"cannot express {expr} with the chosen operators")


def _chain(args, plus: str, minus: str | None, index: dict, codes: dict) -> list:
    nodes: list = []
    for position, term in enumerate(args):
        negated = minus is not None and position > 0 and term.could_extract_minus_sign() and minus in codes
        part = _convert(-term if negated else term, index, codes)
        if position == 0:
            nodes = part
        else:
            nodes += part + [(_code(minus if negated else plus, codes), 0.0)]
    return nodes


def _power(base, exponent, index: dict, codes: dict) -> list:
    inner = _convert(base, index, codes)
    named = {2: "square", 3: "cube", sympy.Rational(1, 2): "sqrt", -1: "inv"}
    for value, name in named.items():
        if exponent == value and name in codes:
            return inner + [(codes[name], 0.0)]
    if exponent.is_Number and exponent < 0 and "/" in codes:
        return [(CONST, 1.0)] + _power(base, -exponent, index, codes) + [(codes["/"], 0.0)]
    if exponent.is_Integer and 1 < int(exponent) <= 4 and "*" in codes:
        nodes = list(inner)
        for _ in range(int(exponent) - 1):
            nodes += inner + [(codes["*"], 0.0)]
        return nodes
    if exponent.is_Number and "^" in codes:
        return inner + [(CONST, float(exponent)), (codes["^"], 0.0)]
    raise ValueError(f"cannot express {base}**{exponent} with the chosen operators")


def _code(name: str, codes: dict) -> int:
    if name not in codes:
        raise ValueError(f"the guess needs operator {name!r}, which is not among the chosen operators")
    return codes[name]
