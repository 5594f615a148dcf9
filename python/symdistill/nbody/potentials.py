"""Pair potentials as sympy expressions, and the radial force law derived from them.

A pair potential is an expression ``U(r, m1, m2, q1, q2)`` in the softened distance
``r = |x1 - x2| + softening`` and the two bodies' masses and charges. The force on body 1
is ``-dU/dr * (x1 - x2) / |x1 - x2|``, so a potential is fully described to the
simulator by two scalar functions of ``(r, m1, m2, q1, q2)``: ``U`` and ``-dU/dr``.
This module parses and validates potentials and prints both functions as Python source
that Numba compiles (see ``symdistill.nbody.codegen``).
"""

from __future__ import annotations

import numpy as np
import sympy

#: The symbols a pair potential may use, in the argument order of the generated kernels.
POTENTIAL_SYMBOLS = tuple(sympy.Symbol(name, real=True) for name in ("r", "m1", "m2", "q1", "q2"))
_SYMBOLS_BY_NAME = {symbol.name: symbol for symbol in POTENTIAL_SYMBOLS}
_SWAP_BODIES = {
    _SYMBOLS_BY_NAME["m1"]: _SYMBOLS_BY_NAME["m2"],
    _SYMBOLS_BY_NAME["m2"]: _SYMBOLS_BY_NAME["m1"],
    _SYMBOLS_BY_NAME["q1"]: _SYMBOLS_BY_NAME["q2"],
    _SYMBOLS_BY_NAME["q2"]: _SYMBOLS_BY_NAME["q1"],
}


def parse_potential(potential: str | sympy.Expr) -> sympy.Expr:
    """Parse and validate a pair potential given as a string or a sympy expression.

    Symbols are matched by name, so ``sympy.Symbol("r")`` and ``"r"`` mean the same
    variable. The result uses the real symbols of ``POTENTIAL_SYMBOLS``. Strings go
    through ``sympy.sympify``, which evaluates Python code, so never pass untrusted text.

    Raises
    ------
    ValueError
        If the string does not parse, the expression uses a symbol other than
        ``r, m1, m2, q1, q2``, does not depend on ``r``, uses a function without a
        compiled form, or is not symmetric under swapping the two bodies. An
        asymmetric potential would give forces that depend on the order of the
        bodies and break Newton's third law.
    """
    if isinstance(potential, str):
        if not potential.strip():
            raise ValueError("the pair potential is an empty string; give an expression in r, m1, m2, q1, q2")
        try:
            expr = sympy.sympify(potential, locals=dict(_SYMBOLS_BY_NAME))
        except (sympy.SympifyError, SyntaxError, TypeError):
            # sympy's message repeats the string and names its tokenizer's exception.
            raise ValueError(f"cannot parse the pair potential {potential!r}: it is not a valid expression; "
                             "write it in Python syntax in r, m1, m2, q1, q2, for example 'q1*q2/r'") from None
    elif isinstance(potential, sympy.Basic):
        expr = potential
    else:
        raise TypeError(f"a pair potential must be a string or a sympy expression, not {type(potential).__name__}")

    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"the pair potential {potential!r} is not a scalar expression")
    unknown = sorted(symbol.name for symbol in expr.free_symbols if symbol.name not in _SYMBOLS_BY_NAME)
    if unknown:
        raise ValueError(
            f"the pair potential {str(potential)!r} uses unknown symbol(s) {', '.join(unknown)}; "
            "use only r (softened distance), m1, m2 (masses) and q1, q2 (charges)"
        )
    expr = expr.xreplace({symbol: _SYMBOLS_BY_NAME[symbol.name] for symbol in expr.free_symbols})
    if _SYMBOLS_BY_NAME["r"] not in expr.free_symbols:
        raise ValueError(f"the pair potential {str(potential)!r} does not depend on r, so it exerts no force")
    _check_symmetric(expr, str(potential))
    law_function_source("pair_energy", [expr])  # raises for functions without a compiled form
    law_function_source("pair_radial_force", [radial_force(expr)])
    return expr


def radial_force(expr: sympy.Expr) -> sympy.Expr:
    """Return ``-dU/dr``, the force on body 1 along the unit vector from body 2 to body 1."""
    return -sympy.diff(expr, _SYMBOLS_BY_NAME["r"])


def uses_charge(expr: sympy.Expr) -> bool:
    """Return whether the potential depends on the charges ``q1`` or ``q2``."""
    return bool({_SYMBOLS_BY_NAME["q1"], _SYMBOLS_BY_NAME["q2"]} & expr.free_symbols)


_UNSUPPORTED = (
    "the function {function} in {expr} has no compiled form; rewrite the potential with "
    "elementary functions (exp, log, sqrt, powers, trigonometric and hyperbolic functions, erf, "
    "Abs, sign, Min, Max, Piecewise)"
)


def law_function_source(name: str, exprs: list[sympy.Expr]) -> str:
    """Print ``exprs`` as one Python function ``name(law, r, m1, m2, q1, q2)`` using ``math``.

    The function returns ``exprs[law]``. Piecewise expressions become conditional
    expressions, which Numba compiles.

    Raises
    ------
    ValueError
        If an expression uses a function that has no Python equivalent.
    """
    from sympy.printing.pycode import PythonCodePrinter

    printer = PythonCodePrinter({"fully_qualified_modules": True, "standard": "python3"})
    arguments = ", ".join(symbol.name for symbol in POTENTIAL_SYMBOLS)
    lines = [f"def {name}(law, {arguments}):"]
    for law, expr in enumerate(exprs):
        try:
            body = printer.doprint(expr)
        except NotImplementedError as error:  # sympy >= 1.13 raises for unknown functions
            function = str(error).splitlines()[0].rsplit(": ", 1)[-1]
            raise ValueError(_UNSUPPORTED.format(function=function, expr=expr)) from None
        if "Not supported" in body:  # sympy < 1.13 prints a comment instead
            function = body.splitlines()[1].lstrip("# ")
            raise ValueError(_UNSUPPORTED.format(function=function, expr=expr))
        lines.append(f"    if law == {law}:\n        return float({body})")
    lines.append("    return math.nan")
    return "\n".join(lines) + "\n"


def _check_symmetric(expr: sympy.Expr, text: str) -> None:
    difference = expr - expr.xreplace(_SWAP_BODIES)
    if difference == 0:
        return
    # Proving symmetry symbolically can fail for equivalent forms, so compare values
    # at random points with positive distances and masses and both charge signs.
    evaluate = sympy.lambdify(POTENTIAL_SYMBOLS, difference, modules="numpy")
    rng = np.random.default_rng(0)
    r = rng.uniform(0.1, 3.0, 64)
    m1, m2 = rng.lognormal(size=(2, 64))
    q1, q2 = rng.choice([-1.0, 1.0], size=(2, 64)) * rng.uniform(0.5, 2.0, size=(2, 64))
    with np.errstate(all="ignore"):
        values = np.broadcast_to(np.asarray(evaluate(r, m1, m2, q1, q2), dtype=float), r.shape)
    finite = np.isfinite(values)
    if np.any(np.abs(values[finite]) > 1e-9):
        raise ValueError(
            f"the pair potential {text!r} changes when the bodies are swapped (m1<->m2, q1<->q2); "
            "a pair potential must be symmetric, for example use (U(1,2) + U(2,1))/2"
        )
