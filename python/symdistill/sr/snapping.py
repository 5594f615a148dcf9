"""Snapping fitted constants to simple exact values: integers, p/q and p/q * pi.

A fitted constant such as ``1.5707963267948966`` is pi/2 to float precision, but once
printed or rounded it no longer simplifies (``sin(x - 1.571)`` is not ``-cos(x)``).
:func:`snap_constants` replaces each constant of a tree by a nearby simple value when
the loss grows by no more than float noise. :func:`exact_value` turns such a value
back into the exact sympy number (``pi/2``, ``1/3``), so the sympy form of a snapped
tree is exact.

A simple value is an integer, a fraction ``p/q`` with ``2 <= q <= MAX_DENOMINATOR``,
``p/q * pi`` or ``p / (q * pi)`` with ``1 <= q <= MAX_DENOMINATOR``, with
``|p| <= MAX_NUMERATOR``. Its float is always computed as ``p / q``,
``p * math.pi / q`` or ``p / (q * math.pi)``, so snapping and :func:`exact_value`
agree bit for bit.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import sympy

from symdistill.sr.operators import CONST

if TYPE_CHECKING:  # tree.py imports this module for exact_value
    from symdistill.sr.evaluator import Evaluator
    from symdistill.sr.tree import Tree

MAX_DENOMINATOR = 12
"""Largest denominator ``q`` of a simple fraction or multiple of pi."""

MAX_NUMERATOR = 1000
"""Largest ``|p|`` of a simple fraction or multiple of pi."""

SNAP_RELATIVE_TOLERANCE = 1e-9
"""Relative loss increase accepted for a snap, on top of the float-noise allowance."""

SNAP_NOISE = 1e-12
"""A snap may also cost as much loss as scaling every prediction by ``1 + SNAP_NOISE``."""


def _fraction_float(p: int, q: int) -> float:
    return p / q


def _pi_float(p: int, q: int) -> float:
    return p * math.pi / q


def _inverse_pi_float(p: int, q: int) -> float:
    return p / (q * math.pi)


def _nearest_fraction(value: float, scale: float) -> tuple[int, int] | None:
    # The simple fraction p/q closest to value / scale, within the size limits.
    if not math.isfinite(value) or abs(value / scale) > MAX_NUMERATOR:
        return None
    fraction = Fraction(value / scale).limit_denominator(MAX_DENOMINATOR)
    p, q = fraction.numerator, fraction.denominator
    if p == 0 or abs(p) > MAX_NUMERATOR:
        return None
    return p, q


def simple_candidates(value: float) -> list[float]:
    """Return the simple values nearest ``value``, simplest kind first, without ``value``.

    At most four: the nearest integer, the nearest fraction ``p/q``, the nearest
    multiple ``p/q * pi`` and the nearest ``p / (q * pi)``.
    """
    if not math.isfinite(value):
        return []
    found: list[float] = []
    if abs(value) <= MAX_NUMERATOR:
        found.append(float(round(value)))
    nearest = _nearest_fraction(value, 1.0)
    if nearest is not None and nearest[1] > 1:
        found.append(_fraction_float(*nearest))
    nearest = _nearest_fraction(value, math.pi)
    if nearest is not None:
        found.append(_pi_float(*nearest))
    nearest = _nearest_fraction(value, 1.0 / math.pi)
    if nearest is not None:
        found.append(_inverse_pi_float(*nearest))
    unique: list[float] = []
    for candidate in found:
        if candidate != value and candidate not in unique:
            unique.append(candidate)
    return unique


def exact_value(value: float) -> sympy.Expr | None:
    """Return the exact sympy number whose float is exactly ``value``, or None.

    Integers (below 1e15 in magnitude) become ``sympy.Integer``, simple fractions
    ``sympy.Rational``, simple multiples of pi ``Rational * pi`` and of its inverse
    ``Rational / pi``.
    """
    if not math.isfinite(value):
        return None
    if float(value).is_integer() and abs(value) < 1e15:
        return sympy.Integer(int(value))
    nearest = _nearest_fraction(value, 1.0)
    if nearest is not None and _fraction_float(*nearest) == value:
        return sympy.Rational(*nearest)
    nearest = _nearest_fraction(value, math.pi)
    if nearest is not None and _pi_float(*nearest) == value:
        return sympy.Rational(*nearest) * sympy.pi
    nearest = _nearest_fraction(value, 1.0 / math.pi)
    if nearest is not None and _inverse_pi_float(*nearest) == value:
        return sympy.Rational(*nearest) / sympy.pi
    return None


def _noise_allowance(tree: Tree, loss: float, evaluator: Evaluator) -> float:
    # The loss change caused by a relative prediction error of SNAP_NOISE: a snap that
    # costs no more than that is indistinguishable from float rounding.
    values = evaluator.row_values(tree)
    if values is None:
        return 0.0
    prediction = evaluator.aggregate(values)
    base = evaluator.loss_of_prediction(prediction)
    scaled = evaluator.loss_of_prediction(prediction * (1.0 + SNAP_NOISE))
    if not (math.isfinite(base) and math.isfinite(scaled)):
        return 0.0
    return abs(scaled - base)


def snap_constants(tree: Tree, loss: float, evaluator: Evaluator) -> tuple[Tree, float, int]:
    """Replace constants of ``tree`` by simple values where the loss does not get worse.

    Constants are visited in postfix order; for each that is not simple already, the
    candidates of
    :func:`simple_candidates` are tried simplest first and the first one kept whose
    loss stays within ``loss * (1 + SNAP_RELATIVE_TOLERANCE)`` plus the float-noise
    allowance (the loss change of scaling every prediction by ``1 + SNAP_NOISE``).
    Every snap is measured against the original ``loss``, so the allowances do not add
    up over several constants. A kept value is final: nothing refits it afterwards.

    Returns
    -------
    (tree, loss, n_calls)
        The snapped tree and its loss (the inputs when nothing was snapped), and the
        number of loss evaluations spent.
    """
    if not math.isfinite(loss) or not any(code == CONST for code, _ in tree):
        return tree, loss, 0
    with np.errstate(all="ignore"):
        limit = loss * (1.0 + SNAP_RELATIVE_TOLERANCE) + _noise_allowance(tree, loss, evaluator)
    n_calls = 1
    best_tree, best_loss = tree, loss
    for position, (code, value) in enumerate(tree):
        if code != CONST or exact_value(value) is not None:
            continue
        for candidate in simple_candidates(value):
            trial = best_tree[:position] + ((CONST, candidate),) + best_tree[position + 1 :]
            trial_loss = evaluator(trial)
            n_calls += 1
            if trial_loss <= limit:
                best_tree, best_loss = trial, trial_loss
                break
    return best_tree, best_loss, n_calls
