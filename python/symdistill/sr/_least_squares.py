"""Levenberg-Marquardt on a program's constants, compiled with Numba.

The compiled twin of :func:`symdistill.sr.constants._levenberg_marquardt` for the
common case: built-in operators, the (weighted) L2 loss and no graph aggregation.
The Python version is its reference. Both minimise ``sum(w * (prediction - y)**2)``
with exact forward-mode Jacobians, damp the normal equations by
``damping * (diag + 1e-12)`` and divide or multiply the damping by 10 after an
accepted or rejected step.
"""

from __future__ import annotations

import numba
import numpy as np

from symdistill.sr._kernels import evaluate_program, evaluate_with_jacobian

_JIT = dict(cache=True, nogil=True, error_model="numpy")

MAX_DAMPING_TRIES = 8
"""Damping increases tried per iteration before the fit stops."""


@numba.njit(**_JIT)
def _weighted_cost(prediction, y, w):
    total = 0.0
    has_weights = w.shape[0] > 0
    for r in range(y.shape[0]):
        d = prediction[r] - y[r]
        total += (w[r] if has_weights else 1.0) * d * d
    return total


@numba.njit(**_JIT)
def _solve_cholesky(a, b, out):
    # Solve a @ out = b for a symmetric positive definite a; False when it is not.
    n = a.shape[0]
    lower = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = a[i, j]
            for k in range(j):
                s -= lower[i, k] * lower[j, k]
            if i == j:
                if not s > 0.0:
                    return False
                lower[i, i] = np.sqrt(s)
            else:
                lower[i, j] = s / lower[j, j]
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= lower[i, k] * out[k]
        out[i] = s / lower[i, i]
    for i in range(n - 1, -1, -1):
        s = out[i]
        for k in range(i + 1, n):
            s -= lower[k, i] * out[k]
        out[i] = s / lower[i, i]
    return np.all(np.isfinite(out))


@numba.njit(**_JIT)
def levenberg_marquardt(program, positions, Xt, y, w, iterations):
    """Fit the constants at ``positions`` of ``program`` in place; return the loss.

    Shapes
    ------
    program : [n_nodes, 2]; positions : [n_constants] int64 (rows of program, in
    postfix order); Xt : [n_features, n_rows]; y : [n_rows]; w : [n_rows] or [0]

    Returns
    -------
    (loss, n_calls)
        The weighted mean squared error at the final constants (``inf`` when the
        start is invalid) and the number of value or Jacobian evaluations.
    """
    k = positions.shape[0]
    n_rows = y.shape[0]
    prediction = np.empty(n_rows)
    jacobian = np.empty((k, n_rows))
    weight_sum = float(n_rows)
    if w.shape[0] > 0:
        weight_sum = 0.0
        for r in range(n_rows):
            weight_sum += w[r]
    n_calls = 1
    if not evaluate_with_jacobian(program, Xt, prediction, jacobian):
        return np.inf, n_calls
    cost = _weighted_cost(prediction, y, w)
    x = np.empty(k)
    for j in range(k):
        x[j] = program[positions[j], 1]
    normal = np.empty((k, k))
    damped = np.empty((k, k))
    rhs = np.empty(k)
    delta = np.empty(k)
    trial = np.empty(n_rows)
    damping = 1e-3
    has_weights = w.shape[0] > 0
    for _ in range(iterations):
        for i in range(k):
            for j in range(i + 1):
                s = 0.0
                for r in range(n_rows):
                    s += (w[r] if has_weights else 1.0) * jacobian[i, r] * jacobian[j, r]
                normal[i, j] = s
                normal[j, i] = s
            s = 0.0
            for r in range(n_rows):
                s += (w[r] if has_weights else 1.0) * jacobian[i, r] * (prediction[r] - y[r])
            rhs[i] = -s
        improved = False
        for _try in range(MAX_DAMPING_TRIES):
            for i in range(k):
                for j in range(k):
                    damped[i, j] = normal[i, j]
                damped[i, i] += damping * (normal[i, i] + 1e-12)
            if not _solve_cholesky(damped, rhs, delta):
                damping *= 10.0
                continue
            for j in range(k):
                program[positions[j], 1] = x[j] + delta[j]
            n_calls += 1
            if evaluate_program(program, Xt, trial):
                trial_cost = _weighted_cost(trial, y, w)
                if trial_cost < cost:
                    n_calls += 1
                    if evaluate_with_jacobian(program, Xt, prediction, jacobian):
                        for j in range(k):
                            x[j] += delta[j]
                        converged = cost - trial_cost <= 1e-12 * cost
                        cost = trial_cost
                        damping = max(damping / 10.0, 1e-12)
                        improved = not converged
                        break
            damping *= 10.0
        if not improved:
            break
    for j in range(k):
        program[positions[j], 1] = x[j]
    loss = cost / weight_sum
    if not np.isfinite(loss):
        return np.inf, n_calls
    return loss, n_calls
