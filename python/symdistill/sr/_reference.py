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


def fit_root_constants_reference(tree, Xt: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
                                 receivers: np.ndarray | None = None, divisor: np.ndarray | None = None):
    """Reference for :func:`symdistill.sr._root_fit.fit_root_constants` (built-in operators).

    Finds the root scale constant ``a`` (``a * g``, ``g * a``, ``g / a``, ``a / g``)
    and offset constant ``b`` (``s + b``, ``b + s``, ``s - b``, ``b - s``) and solves
    for them by weighted least squares with ``np.linalg.lstsq``. With ``receivers``,
    edge values are summed per receiver and divided by ``divisor`` first.

    Shapes
    ------
    Xt : [n_features, n_rows]; y : [n_targets]; weights : [n_targets] or None;
    receivers : [n_rows] or None; divisor : [n_targets] or None

    Returns
    -------
    tree
        ``tree`` with the fitted constants, or unchanged when it has no such slot.
    """
    from symdistill.sr.operators import ADD, BUILTIN_BY_CODE, DIV, MUL, SUB
    from symdistill.sr.tree import children, subtree_starts

    starts = subtree_starts(tree)

    def constant_child(i):
        # (position of a one-node CONST child, the other child's span, constant is left).
        (left, right) = children(tree, i, starts)
        if right[1] - right[0] == 1 and tree[right[0]][0] == CONST:
            return right[0], left, False
        if left[1] - left[0] == 1 and tree[left[0]][0] == CONST:
            return left[0], right, True
        return None

    root = len(tree) - 1
    span, offset, core_sign, scale = (0, len(tree)), None, 1.0, None
    if len(tree) >= 3 and tree[root][0] in (ADD, SUB) and constant_child(root):
        position, span, on_left = constant_child(root)
        subtract = tree[root][0] == SUB
        offset = (position, -1.0 if subtract and not on_left else 1.0)
        core_sign = -1.0 if subtract and on_left else 1.0
    top = span[1] - 1
    if span[1] - span[0] >= 3 and tree[top][0] in (MUL, DIV) and constant_child(top):
        position, core, on_left = constant_child(top)
        kind = "divide" if tree[top][0] == DIV and not on_left else "reciprocal" if tree[top][0] == DIV else "multiply"
        scale = (position, kind)
        span = core
    if offset is None and scale is None:
        return tree
    ok, g = evaluate_reference(tree[span[0] : span[1]], Xt, BUILTIN_BY_CODE)
    if not ok:
        return tree
    with np.errstate(all="ignore"):
        g = core_sign * (1.0 / g if scale is not None and scale[1] == "reciprocal" else g)
    ones = np.ones_like(g)
    if receivers is not None:
        g = np.bincount(receivers, weights=g, minlength=len(y))
        ones = np.bincount(receivers, weights=ones, minlength=len(y))
        if divisor is not None:
            g, ones = g / divisor, ones / divisor
    columns = ([g] if scale is not None else []) + ([ones] if offset is not None else [])
    target = y if scale is not None else y - g
    sqrt_w = np.ones_like(y) if weights is None else np.sqrt(weights)
    design = np.column_stack(columns) * sqrt_w[:, None]
    if not np.all(np.isfinite(design)):
        return tree
    solution = np.linalg.lstsq(design, target * sqrt_w, rcond=None)[0]
    nodes = list(tree)
    if scale is not None:
        value = solution[0]
        nodes[scale[0]] = (CONST, float(1.0 / value if scale[1] == "divide" else value))
    if offset is not None:
        nodes[offset[0]] = (CONST, float(offset[1] * solution[-1]))
    return tuple(nodes)
