"""Closed-form fit of a tree's root scale and offset constants under the L2 loss.

Many targets are a simpler expression times a constant, plus a constant. When a tree
has that form at its root, weighted least squares on the rest of the tree gives the
best values of those two constants. The compiled search sets them at every
evaluation instead of waiting for mutations or the optimizer to find them.
The tree stays an ordinary expression: only the values of its existing constants
change. The recognised root forms, with ``g`` any subtree and ``a``, ``b`` constants::

    a * g    g * a    g / a    a / g          (scale)
    s + b    b + s    s - b    b - s          (offset; s is g or a scale form)

The NumPy reference is :func:`symdistill.sr._reference.fit_root_constants_reference`.
"""

from __future__ import annotations

import numba
import numpy as np

from symdistill.sr._kernels import evaluate_program
from symdistill.sr.operators import ADD, CONST, DIV, MUL, SUB

_JIT = dict(cache=True, nogil=True, error_model="numpy")


@numba.njit(**_JIT)
def root_slots(c, n, arity, starts, stack):
    """Find the root scale and offset constants of the postfix tree ``c[:n]``.

    Returns
    -------
    (scale_pos, scale_kind, offset_pos, offset_sign, core_sign, core_lo, core_hi)
        ``scale_pos``/``offset_pos`` are node positions or -1. ``scale_kind`` is 0 for
        ``a * g``, 1 for ``g / a`` and 2 for ``a / g``. The prediction is
        ``core_sign * scale(g) + offset_sign * b`` with ``g`` the nodes
        ``[core_lo, core_hi)``. With no slot, ``scale_pos == offset_pos == -1``.
    """
    scale_pos, scale_kind, offset_pos, offset_sign, core_sign = -1, 0, -1, 1.0, 1.0
    if n < 3:
        return scale_pos, scale_kind, offset_pos, offset_sign, core_sign, 0, n
    # Subtree start of every node.
    sp = 0
    for i in range(n):
        start = i
        for _ in range(arity[c[i]]):
            sp -= 1
            start = stack[sp]
        starts[i] = start
        stack[sp] = start
        sp += 1
    lo, hi = 0, n
    root = n - 1
    if c[root] == ADD or c[root] == SUB:
        right = n - 2
        if c[right] == CONST:
            offset_pos = right
            offset_sign = 1.0 if c[root] == ADD else -1.0
            lo, hi = 0, right
        elif starts[right] == 1 and c[0] == CONST:
            offset_pos = 0
            core_sign = 1.0 if c[root] == ADD else -1.0
            lo, hi = 1, right + 1
    top = hi - 1
    if hi - lo >= 3 and (c[top] == MUL or c[top] == DIV):
        right = top - 1
        if c[right] == CONST:
            scale_pos = right
            scale_kind = 0 if c[top] == MUL else 1
            hi = right
        elif starts[right] == lo + 1 and c[lo] == CONST:
            scale_pos = lo
            scale_kind = 0 if c[top] == MUL else 2
            lo, hi = lo + 1, top
    return scale_pos, scale_kind, offset_pos, offset_sign, core_sign, lo, hi


@numba.njit(**_JIT)
def fit_root_constants(c, v, n, arity, starts, stack, program, Xt, y, w, receivers, divisor, buffer):
    """Set the root scale and offset constants of ``(c, v)[:n]`` to their L2 optimum.

    ``v`` is changed in place; nothing changes when the tree has no root slot, the
    rest of the tree is invalid or constant on the rows, or the fit is not finite.
    With a graph-aggregated loss (non-empty ``receivers``) the per-edge values are
    summed per receiver and divided by ``divisor``, which is linear in both
    constants, so the fit is exact there too.

    Shapes
    ------
    c, v : [>= n]; program : [>= n, 2] scratch; Xt : [n_features, n_rows];
    y : [n_targets]; w : [n_targets] or [0]; receivers : [n_rows] or [0] (int64);
    divisor : [n_targets] or [0]; buffer : [n_rows] scratch

    Returns
    -------
    bool
        Whether a constant was changed.
    """
    scale_pos, scale_kind, offset_pos, offset_sign, core_sign, lo, hi = root_slots(c, n, arity, starts, stack)
    if scale_pos < 0 and offset_pos < 0:
        return False
    m = hi - lo
    for i in range(m):
        program[i, 0] = c[lo + i]
        program[i, 1] = v[lo + i]
    if not evaluate_program(program[:m], Xt, buffer):
        return False
    for r in range(buffer.shape[0]):
        g = 1.0 / buffer[r] if scale_kind == 2 else buffer[r]
        buffer[r] = core_sign * g
    # The prediction is scale * core + offset * ones, both taken through the aggregation.
    graph = receivers.shape[0] > 0
    core = buffer
    ones = np.ones(1)
    if graph:
        core = np.zeros(y.shape[0])
        ones = np.zeros(y.shape[0])
        for r in range(receivers.shape[0]):
            core[receivers[r]] += buffer[r]
            ones[receivers[r]] += 1.0
        if divisor.shape[0] > 0:
            for t in range(y.shape[0]):
                core[t] /= divisor[t]
                ones[t] /= divisor[t]
    has_weights = w.shape[0] > 0
    s_dd = s_gd = s_yd = s_gg = s_gy = 0.0
    for t in range(y.shape[0]):
        g = core[t]
        d = ones[t] if graph else 1.0
        weight = w[t] if has_weights else 1.0
        s_dd += weight * d * d
        s_gd += weight * g * d
        s_yd += weight * y[t] * d
        s_gg += weight * g * g
        s_gy += weight * g * y[t]
    scale = 1.0
    offset = 0.0
    if scale_pos >= 0 and offset_pos >= 0:
        det = s_dd * s_gg - s_gd * s_gd
        if not det > 1e-12 * s_dd * s_gg:
            return False
        scale = (s_dd * s_gy - s_gd * s_yd) / det
        offset = (s_yd - scale * s_gd) / s_dd
    elif scale_pos >= 0:
        if not s_gg > 0.0:
            return False
        scale = s_gy / s_gg
    else:
        if not s_dd > 0.0:
            return False
        offset = (s_yd - s_gd) / s_dd
    if not (np.isfinite(scale) and np.isfinite(offset)):
        return False
    if scale_pos >= 0:
        if scale_kind == 1:
            if scale == 0.0:
                return False
            v[scale_pos] = 1.0 / scale
        else:
            v[scale_pos] = scale
    if offset_pos >= 0:
        v[offset_pos] = offset_sign * offset
    return True
