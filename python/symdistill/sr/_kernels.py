"""Numba kernels that evaluate postfix expression programs over rows.

A program is a float64 array ``[n_nodes, 2]`` in postfix order: column 0 is the
operator code from :mod:`symdistill.sr.operators` (``CONST``, ``FEATURE`` or a
built-in operator), column 1 the constant value or the feature index. Inputs are
feature-major, ``Xt[n_features, n_rows]``, so each feature is a contiguous row.

Rows are processed in chunks of :data:`CHUNK` so the value stack stays in cache. Any
NaN or inf produced by any node makes the whole evaluation invalid (the kernel
returns False), also where a later comparison or ``IF`` would hide it. One generic
kernel dispatches on the codes, so it compiles once (``cache=True``) for all trees.
"""

from __future__ import annotations

import numba
import numpy as np

from symdistill.sr.operators import (
    ABS,
    ADD,
    CBRT,
    CONST,
    COS,
    CUBE,
    DIV,
    EXP,
    FEATURE,
    GT,
    IF,
    INV,
    LOG,
    LT,
    MUL,
    NEG,
    POW,
    SIN,
    SQRT,
    SQUARE,
    SUB,
    TANH,
)

CHUNK = 256

_JIT = dict(cache=True, nogil=True, error_model="numpy")

LOSS_L2 = 0
LOSS_L1 = 1
LOSS_HUBER = 2


@numba.njit(inline="always", **_JIT)
def _unary(code, a):
    if code == NEG:
        return -a
    if code == SQUARE:
        return a * a
    if code == CUBE:
        return a * a * a
    if code == SQRT:
        return np.sqrt(a)
    if code == CBRT:
        if a < 0.0:
            return -((-a) ** (1.0 / 3.0))
        return a ** (1.0 / 3.0)
    if code == EXP:
        return np.exp(a)
    if code == LOG:
        return np.log(a)
    if code == ABS:
        return abs(a)
    if code == SIN:
        return np.sin(a)
    if code == COS:
        return np.cos(a)
    if code == TANH:
        return np.tanh(a)
    if code == INV:
        return 1.0 / a
    return np.nan


@numba.njit(inline="always", **_JIT)
def _binary(code, a, b):
    if code == ADD:
        return a + b
    if code == SUB:
        return a - b
    if code == MUL:
        return a * b
    if code == DIV:
        return a / b
    if code == POW:
        return _pow(a, b)
    if code == GT:
        return 1.0 if a > b else 0.0
    if code == LT:
        return 1.0 if a < b else 0.0
    return np.nan


@numba.njit(inline="always", **_JIT)
def _pow(a, b):
    # NaN for a negative base with a non-integer exponent, as np.power.
    if a < 0.0 and b != np.floor(b):
        return np.nan
    return a**b


@numba.njit(**_JIT)
def evaluate_program(program, Xt, out):
    """Evaluate ``program`` on every row of ``Xt`` into ``out``.

    Shapes
    ------
    program : [n_nodes, 2] float64; Xt : [n_features, n_rows]; out : [n_rows]

    Returns
    -------
    bool
        False when any node produced NaN or inf on any row (``out`` is then partial).
    """
    n_nodes = program.shape[0]
    n_rows = Xt.shape[1]
    stack = np.empty((n_nodes + 1, CHUNK))
    for start in range(0, n_rows, CHUNK):
        m = min(CHUNK, n_rows - start)
        sp = 0
        for i in range(n_nodes):
            code = int(program[i, 0])
            check = 0.0
            if code == CONST:
                value = program[i, 1]
                for r in range(m):
                    stack[sp, r] = value
                check = value * 0.0
                sp += 1
            elif code == FEATURE:
                feature = int(program[i, 1])
                for r in range(m):
                    stack[sp, r] = Xt[feature, start + r]
                sp += 1
            elif code < ADD:
                for r in range(m):
                    v = _unary(code, stack[sp - 1, r])
                    stack[sp - 1, r] = v
                    check += v * 0.0
            elif code < IF:
                # Arithmetic gets its own loops so they vectorise; the rest dispatch per row.
                left = stack[sp - 2]
                right = stack[sp - 1]
                if code == ADD:
                    for r in range(m):
                        v = left[r] + right[r]
                        left[r] = v
                        check += v * 0.0
                elif code == SUB:
                    for r in range(m):
                        v = left[r] - right[r]
                        left[r] = v
                        check += v * 0.0
                elif code == MUL:
                    for r in range(m):
                        v = left[r] * right[r]
                        left[r] = v
                        check += v * 0.0
                elif code == DIV:
                    for r in range(m):
                        v = left[r] / right[r]
                        left[r] = v
                        check += v * 0.0
                else:
                    for r in range(m):
                        v = _binary(code, left[r], right[r])
                        left[r] = v
                        check += v * 0.0
                sp -= 1
            else:
                for r in range(m):
                    v = stack[sp - 2, r] if stack[sp - 3, r] > 0.0 else stack[sp - 1, r]
                    stack[sp - 3, r] = v
                    check += v * 0.0
                sp -= 2
            if check != 0.0 or check != check:
                return False
        for r in range(m):
            out[start + r] = stack[0, r]
    return True


@numba.njit(**_JIT)
def evaluate_with_jacobian(program, Xt, out, jacobian):
    """Evaluate ``program`` and its exact derivatives with respect to its constants.

    Forward-mode differentiation: each stack entry carries its value and its
    derivative with respect to every constant, numbered in postfix order.

    Shapes
    ------
    program : [n_nodes, 2]; Xt : [n_features, n_rows]; out : [n_rows];
    jacobian : [n_constants, n_rows]

    Returns
    -------
    bool
        False when any value or derivative is NaN or inf on any row.
    """
    n_nodes = program.shape[0]
    n_rows = Xt.shape[1]
    k = jacobian.shape[0]
    stack = np.empty((n_nodes + 1, CHUNK))
    # Every slot is written (leaves set all k derivatives) before it is read.
    dstack = np.empty((n_nodes + 1, max(k, 1), CHUNK))
    slope = np.empty(CHUNK)
    left = np.empty(CHUNK)
    right = np.empty(CHUNK)
    for start in range(0, n_rows, CHUNK):
        m = min(CHUNK, n_rows - start)
        sp = 0
        constant_index = 0
        for i in range(n_nodes):
            code = int(program[i, 0])
            check = 0.0
            if code == CONST:
                value = program[i, 1]
                for r in range(m):
                    stack[sp, r] = value
                for j in range(k):
                    d = 1.0 if j == constant_index else 0.0
                    for r in range(m):
                        dstack[sp, j, r] = d
                constant_index += 1
                check = value * 0.0
                sp += 1
            elif code == FEATURE:
                feature = int(program[i, 1])
                for r in range(m):
                    stack[sp, r] = Xt[feature, start + r]
                for j in range(k):
                    for r in range(m):
                        dstack[sp, j, r] = 0.0
                sp += 1
            elif code < ADD:
                s = sp - 1
                for r in range(m):
                    a = stack[s, r]
                    v = _unary(code, a)
                    slope[r] = _unary_slope(code, a, v)
                    stack[s, r] = v
                    check += v * 0.0
                for j in range(k):
                    for r in range(m):
                        da = dstack[s, j, r]
                        d = slope[r] * da if da != 0.0 else 0.0
                        dstack[s, j, r] = d
                        check += d * 0.0
            elif code < IF:
                s = sp - 2
                for r in range(m):
                    left[r] = stack[s, r]
                    right[r] = stack[s + 1, r]
                    stack[s, r] = _binary(code, left[r], right[r])
                    check += stack[s, r] * 0.0
                if code == ADD or code == SUB:
                    sign = 1.0 if code == ADD else -1.0
                    for j in range(k):
                        for r in range(m):
                            d = dstack[s, j, r] + sign * dstack[s + 1, j, r]
                            dstack[s, j, r] = d
                            check += d * 0.0
                elif code == MUL:
                    for j in range(k):
                        for r in range(m):
                            d = left[r] * dstack[s + 1, j, r] + right[r] * dstack[s, j, r]
                            dstack[s, j, r] = d
                            check += d * 0.0
                else:
                    for j in range(k):
                        for r in range(m):
                            d = _binary_derivative(code, left[r], right[r], stack[s, r], dstack[s, j, r], dstack[s + 1, j, r])
                            dstack[s, j, r] = d
                            check += d * 0.0
                sp -= 1
            else:
                s = sp - 3
                for r in range(m):
                    take_second = stack[s, r] > 0.0
                    source = s + 1 if take_second else s + 2
                    v = stack[source, r]
                    stack[s, r] = v
                    check += v * 0.0
                    for j in range(k):
                        dstack[s, j, r] = dstack[source, j, r]
                sp -= 2
            if check != 0.0 or check != check:
                return False
        for r in range(m):
            out[start + r] = stack[0, r]
        for j in range(k):
            for r in range(m):
                jacobian[j, start + r] = dstack[0, j, r]
    return True


@numba.njit(inline="always", **_JIT)
def _unary_slope(code, a, v):
    # Derivative of the unary operator at a, given its value v = f(a).
    if code == NEG:
        return -1.0
    if code == SQUARE:
        return 2.0 * a
    if code == CUBE:
        return 3.0 * a * a
    if code == SQRT:
        return 0.5 / v
    if code == CBRT:
        return 1.0 / (3.0 * v * v)
    if code == EXP:
        return v
    if code == LOG:
        return 1.0 / a
    if code == ABS:
        if a > 0.0:
            return 1.0
        if a < 0.0:
            return -1.0
        return 0.0
    if code == SIN:
        return np.cos(a)
    if code == COS:
        return -np.sin(a)
    if code == TANH:
        return 1.0 - v * v
    if code == INV:
        return -v * v
    return np.nan


@numba.njit(inline="always", **_JIT)
def _binary_derivative(code, a, b, v, da, db):
    if code == ADD:
        return da + db
    if code == SUB:
        return da - db
    if code == MUL:
        return a * db + b * da
    if code == DIV:
        return (da - v * db) / b
    if code == POW:
        d = 0.0
        if da != 0.0:
            d += b * _pow(a, b - 1.0) * da
        if db != 0.0 and a > 0.0:
            # For a <= 0 the exponent is locked at an integer (non-integers give NaN),
            # so its derivative there is taken as 0.
            d += v * np.log(a) * db
        return d
    return 0.0


@numba.njit(**_JIT)
def program_loss(program, Xt, y, weights, loss_kind, delta, receivers, divisor, prediction):
    """Return the built-in loss of ``program``, or ``inf`` when evaluation is invalid.

    With a non-empty ``receivers`` the per-row values are summed into
    ``y.shape[0]`` nodes (``node[receivers[i]] += value[i]``) and divided by
    ``divisor`` when it is non-empty, before the loss is taken against ``y``.

    Shapes
    ------
    program : [n_nodes, 2]; Xt : [n_features, n_rows]; y : [n_targets];
    weights : [n_targets] or [0]; receivers : [n_rows] or [0] (int64);
    divisor : [n_targets] or [0]; prediction : [n_rows] scratch buffer
    """
    if not evaluate_program(program, Xt, prediction):
        return np.inf
    if receivers.shape[0] > 0:
        node = np.zeros(y.shape[0])
        for i in range(receivers.shape[0]):
            node[receivers[i]] += prediction[i]
        if divisor.shape[0] > 0:
            for i in range(node.shape[0]):
                node[i] /= divisor[i]
        return _reduce_loss(node, y, weights, loss_kind, delta)
    return _reduce_loss(prediction, y, weights, loss_kind, delta)


@numba.njit(**_JIT)
def _reduce_loss(prediction, y, weights, loss_kind, delta):
    total = 0.0
    weight_sum = 0.0
    has_weights = weights.shape[0] > 0
    for i in range(y.shape[0]):
        d = prediction[i] - y[i]
        if loss_kind == LOSS_L2:
            value = d * d
        elif loss_kind == LOSS_L1:
            value = abs(d)
        else:
            a = abs(d)
            value = 0.5 * a * a if a <= delta else delta * (a - 0.5 * delta)
        w = weights[i] if has_weights else 1.0
        total += w * value
        weight_sum += w
    result = total / weight_sum
    if not np.isfinite(result):
        return np.inf
    return result
