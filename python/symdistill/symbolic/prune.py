"""Removal of negligible constants from refitted formulas.

A joint refit often leaves terms that it drove to nearly nothing, such as
``5e-8/m1`` next to ``0.30``: the formula is equivalent to one without them, but
harder to read. :func:`prune_constants` sets each floating-point constant to zero,
smallest first, and keeps the change when the model's loss stays within a relative
tolerance of the loss before pruning.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import sympy

from symdistill.symbolic.formula import Formula

logger = logging.getLogger(__name__)


def prune_constants(
    edge: Sequence[Formula], node: Sequence[Formula], loss: Callable[[list[Formula], list[Formula]], float],
    tolerance: float = 1e-3, floor: float = 0.0,
) -> tuple[list[Formula], list[Formula]]:
    """Return the formulas with every negligible constant set to zero.

    ``loss(edge, node)`` evaluates a pair of formula lists (for example the mean
    absolute error of the substituted model on the refit graphs). A constant is
    removed when the loss stays within ``(1 + tolerance)`` times the starting loss, or
    within the starting loss plus ``floor`` (an absolute error that counts as none,
    for models whose loss is already close to zero).
    """
    formulas = {"edge": list(edge), "node": list(node)}
    start = loss(formulas["edge"], formulas["node"])
    bound = max(start * (1 + tolerance), start + floor, 1e-12)
    for part in ("edge", "node"):
        for index in range(len(formulas[part])):
            current = formulas[part][index]
            for constant in sorted(current.expr.atoms(sympy.Float), key=lambda c: abs(float(c))):
                trial_expr = current.expr.xreplace({constant: sympy.Integer(0)})
                if trial_expr == current.expr or trial_expr.is_zero:
                    continue
                trial = Formula(current.component, trial_expr, current.variables)
                candidate = {**formulas, part: [*formulas[part][:index], trial, *formulas[part][index + 1:]]}
                try:
                    value = loss(candidate["edge"], candidate["node"])
                except (ValueError, RuntimeError, ZeroDivisionError) as failure:
                    logger.debug("pruning %s from %s failed: %s", constant, current.component, failure)
                    continue
                if value <= bound:
                    logger.info("pruned %s from %s (loss %.6g)", constant, current.component, value)
                    formulas = candidate
                    current = trial
    return formulas["edge"], formulas["node"]
