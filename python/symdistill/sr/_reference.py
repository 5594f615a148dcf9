"""Pure NumPy evaluation of expression trees: the reference for the Numba kernels.

Tests compare the kernels against this module, and the search uses it for trees that
contain user-defined operators, which the kernels cannot call. Every operator call is
guarded: an exception, a wrong output shape or a non-finite value makes the whole
evaluation invalid, exactly as a non-finite value does in the kernels.
"""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from symdistill.sr.operators import CONST, FEATURE, Operator

logger = logging.getLogger(__name__)

_reported_failures: set[str] = set()


def evaluate_reference(tree, Xt: np.ndarray, operators: Mapping[int, Operator]) -> tuple[bool, np.ndarray | None]:
    """Evaluate ``tree`` on all rows with each operator's NumPy implementation.

    Shapes
    ------
    Xt : [n_features, n_rows]; returns values [n_rows] (or None when invalid)

    Returns
    -------
    (bool, ndarray or None)
        ``(True, values)``, or ``(False, None)`` when any node raised or produced a
        non-finite value or an array of the wrong shape.
    """
    n_rows = Xt.shape[1]
    stack: list[np.ndarray] = []
    with np.errstate(all="ignore"):
        for code, value in tree:
            if code == CONST:
                if not np.isfinite(value):
                    return False, None
                stack.append(np.full(n_rows, value))
                continue
            if code == FEATURE:
                stack.append(Xt[int(value)])
                continue
            op = operators[code]
            args = stack[len(stack) - op.arity :]
            del stack[len(stack) - op.arity :]
            try:
                result = np.asarray(op.numpy(*args), dtype=np.float64)
            except Exception as error:  # noqa: BLE001 - user operators may raise anything
                if op.name not in _reported_failures:
                    _reported_failures.add(op.name)
                    logger.warning("operator %r raised %r; candidates using it on such inputs are invalid", op.name, error)
                return False, None
            if result.shape != (n_rows,):
                if result.shape == ():
                    result = np.full(n_rows, float(result))
                else:
                    return False, None
            if not np.all(np.isfinite(result)):
                return False, None
            stack.append(result)
    return True, stack[-1]


def evaluate_rows_masked(tree, Xt: np.ndarray, operators: Mapping[int, Operator]) -> np.ndarray:
    """Evaluate ``tree`` row by row in effect: rows where any node is non-finite get NaN.

    Unlike :func:`evaluate_reference`, valid rows keep their values when other rows
    are invalid; ``predict`` uses this. A user operator that raises makes every row NaN.

    Shapes
    ------
    Xt : [n_features, n_rows]; returns [n_rows]
    """
    n_rows = Xt.shape[1]
    valid = np.ones(n_rows, dtype=bool)
    stack: list[np.ndarray] = []
    with np.errstate(all="ignore"):
        for code, value in tree:
            if code == CONST:
                result = np.full(n_rows, value)
            elif code == FEATURE:
                result = Xt[int(value)]
            else:
                op = operators[code]
                args = stack[len(stack) - op.arity :]
                del stack[len(stack) - op.arity :]
                try:
                    result = np.broadcast_to(np.asarray(op.numpy(*args), dtype=np.float64), (n_rows,))
                except Exception:  # noqa: BLE001 - user operators may raise anything
                    return np.full(n_rows, np.nan)
            valid &= np.isfinite(result)
            stack.append(result)
    values = np.array(stack[-1], dtype=np.float64)
    values[~valid] = np.nan
    return values
