"""Closed-form fit of a tree's root scale and offset constants under the L2 loss.

Many targets are a simpler expression times a constant, plus a constant. When a tree
has that form at its root, the best values of those two constants follow from
weighted least squares on the rest of the tree, so the compiled search sets them
at every evaluation instead of waiting for mutations or the optimizer to find them.
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
def fit_root_constants(c, v, n, arity, starts, stack, program, Xt, y, w, buffer):
    """Set the root scale and offset constants of ``(c, v)[:n]`` to their L2 optimum.

    ``v`` is changed in place; nothing changes when the tree has no root slot, the
    rest of the tree is invalid or constant on the rows, or the fit is not finite.

    Shapes
    ------
    c, v : [>= n]; program : [>= n, 2] scratch; Xt : [n_features, n_rows];
    y : [n_rows]; w : [n_rows] or [0]; buffer : [n_rows] scratch

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
    has_weights = w.shape[0] > 0
    s_w = s_g = s_y = s_gg = s_gy = 0.0
    for r in range(y.shape[0]):
        g = buffer[r]
        if scale_kind == 2:
            g = 1.0 / g
        g *= core_sign
        weight = w[r] if has_weights else 1.0
        s_w += weight
        s_g += weight * g
        s_y += weight * y[r]
        s_gg += weight * g * g
        s_gy += weight * g * y[r]
    scale = 1.0
    offset = 0.0
    if scale_pos >= 0 and offset_pos >= 0:
        det = s_w * s_gg - s_g * s_g
        if not det > 1e-12 * s_w * s_gg:
            return False
        scale = (s_w * s_gy - s_g * s_y) / det
        offset = (s_y - scale * s_g) / s_w
    elif scale_pos >= 0:
        if not s_gg > 0.0:
            return False
        scale = s_gy / s_gg
    else:
        if not s_w > 0.0:
            return False
        offset = (s_y - s_g) / s_w
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
