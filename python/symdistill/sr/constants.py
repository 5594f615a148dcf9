"""Constant fitting in float64: BFGS or Levenberg-Marquardt with exact gradients.

For trees of built-in operators the Jacobian of the prediction with respect to the
constants comes from forward-mode differentiation in the Numba kernel, is summed over
receivers for a graph loss, and is chained with the loss derivative. Trees with user
operators and full custom objectives fall back to central finite differences.
Exponents of ``^`` are snapped to integers when that does not worsen the loss by
more than :data:`SNAP_TOLERANCE` (relative).
"""

from __future__ import annotations

import random
import time

import numpy as np

from symdistill.sr import _kernels
from symdistill.sr.evaluator import Evaluator
from symdistill.sr.losses import L2
from symdistill.sr.operators import CONST, FIRST_CUSTOM_CODE, GT, LT, POW
from symdistill.sr.tree import Tree, arity_of, constants_of, subtree_starts, to_program, with_constants

COMPILED_LEVENBERG_MARQUARDT = True
"""Whether Levenberg-Marquardt runs compiled where it can; False forces the Python
version (its reference, for tests and benchmarks)."""

SNAP_TOLERANCE = 1e-4
"""Relative loss increase accepted when an exponent is rounded to an integer."""


class _Objective:
    """Loss and gradient of one tree as a function of its constants."""

    def __init__(self, tree: Tree, evaluator: Evaluator):
        self.tree = tree
        self.evaluator = evaluator
        self.program = to_program(tree)
        self.positions = [i for i, (code, _) in enumerate(tree) if code == CONST]
        self.exact = not any(code >= FIRST_CUSTOM_CODE for code, _ in tree) and evaluator.loss_function is None
        n_rows = evaluator.n_rows
        self._out = np.empty(n_rows)
        self._jacobian = np.empty((len(self.positions), n_rows))
        self.n_calls = 0

    def loss(self, constants: np.ndarray) -> float:
        self.n_calls += 1
        return self.evaluator(with_constants(self.tree, constants))

    def prediction_and_jacobian(self, constants: np.ndarray):
        """Return the prediction of y and its Jacobian [n_constants, n_targets], or None."""
        self.n_calls += 1
        self.program[self.positions, 1] = constants
        if not _kernels.evaluate_with_jacobian(self.program, self.evaluator.Xt, self._out, self._jacobian):
            return None
        evaluator = self.evaluator
        if evaluator.receivers is None:
            return self._out, self._jacobian
        prediction = evaluator.aggregate(self._out)
        jacobian = np.stack([evaluator.aggregate(row) for row in self._jacobian]) if len(self.positions) else self._jacobian
        return prediction, jacobian

    def loss_and_gradient(self, constants: np.ndarray) -> tuple[float, np.ndarray | None]:
        if not self.exact:
            return self._finite_difference(constants)
        result = self.prediction_and_jacobian(constants)
        if result is None:
            return np.inf, None
        prediction, jacobian = result
        evaluator = self.evaluator
        loss = evaluator.loss_of_prediction(prediction)
        if not np.isfinite(loss):
            return np.inf, None
        with np.errstate(all="ignore"):
            gradient = jacobian @ evaluator.loss.gradient_weights(prediction, evaluator.y, evaluator.weights)
        if not np.all(np.isfinite(gradient)):
            return loss, None
        return loss, gradient

    def _finite_difference(self, constants: np.ndarray) -> tuple[float, np.ndarray | None]:
        loss = self.loss(constants)
        if not np.isfinite(loss):
            return np.inf, None
        gradient = np.empty_like(constants)
        for j in range(constants.size):
            step = 1e-6 * max(1.0, abs(constants[j]))
            up = constants.copy()
            up[j] += step
            down = constants.copy()
            down[j] -= step
            gradient[j] = (self.loss(up) - self.loss(down)) / (2 * step)
        if not np.all(np.isfinite(gradient)):
            return loss, None
        return loss, gradient


def _bfgs(objective: _Objective, x0: np.ndarray, iterations: int, deadline: float | None):
    loss, gradient = objective.loss_and_gradient(x0)
    x = x0.copy()
    if gradient is None:
        return x, loss
    inverse_hessian = np.eye(x.size)
    for _ in range(iterations):
        if deadline is not None and time.monotonic() > deadline:
            break
        direction = -inverse_hessian @ gradient
        slope = float(direction @ gradient)
        if slope >= 0:
            inverse_hessian = np.eye(x.size)
            direction = -gradient
            slope = -float(gradient @ gradient)
            if slope == 0:
                break
        # Backtracking line search on the loss alone; the gradient is computed once the
        # Armijo condition holds, because a Jacobian costs several loss evaluations.
        step = 1.0
        accepted = False
        for _ in range(20):
            candidate = x + step * direction
            if objective.loss(candidate) <= loss + 1e-4 * step * slope:
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        candidate_loss, candidate_gradient = objective.loss_and_gradient(candidate)
        if candidate_gradient is None or not candidate_loss <= loss:
            break
        s = candidate - x
        change = candidate_gradient - gradient
        converged = loss - candidate_loss <= 1e-12 * abs(loss) or np.all(np.abs(s) <= 1e-12 * (1 + np.abs(x)))
        x, loss, gradient = candidate, candidate_loss, candidate_gradient
        if converged:
            break
        curvature = float(s @ change)
        if curvature > 1e-12:
            rho = 1.0 / curvature
            identity = np.eye(x.size)
            inverse_hessian = (identity - rho * np.outer(s, change)) @ inverse_hessian @ (
                identity - rho * np.outer(change, s)
            ) + rho * np.outer(s, s)
    return x, loss


def _levenberg_marquardt(objective: _Objective, x0: np.ndarray, iterations: int, deadline: float | None):
    # Least squares on sqrt(w) * (prediction - y); exact only for the L2 loss.
    evaluator = objective.evaluator
    sqrt_w = None if evaluator.weights is None else np.sqrt(evaluator.weights)
    x = x0.copy()
    damping = 1e-3

    def residuals(constants):
        result = objective.prediction_and_jacobian(constants)
        if result is None:
            return None, None
        prediction, jacobian = result
        r = prediction - evaluator.y
        if sqrt_w is not None:
            return r * sqrt_w, jacobian * sqrt_w
        return r, jacobian.copy()

    r, jacobian = residuals(x)
    if r is None:
        return x, np.inf
    cost = float(r @ r)
    for _ in range(iterations):
        if deadline is not None and time.monotonic() > deadline:
            break
        normal = jacobian @ jacobian.T
        rhs = -(jacobian @ r)
        improved = False
        for _ in range(8):
            try:
                delta = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-12), rhs)
            except np.linalg.LinAlgError:
                damping *= 10
                continue
            candidate = x + delta
            r_new, jacobian_new = residuals(candidate)
            if r_new is not None and float(r_new @ r_new) < cost:
                converged = cost - float(r_new @ r_new) <= 1e-12 * cost
                x, r, jacobian, cost = candidate, r_new, jacobian_new, float(r_new @ r_new)
                damping = max(damping / 10, 1e-12)
                improved = not converged
                break
            damping *= 10
        if not improved:
            break
    return x, objective.loss(x)


def _compiled_levenberg_marquardt(objective: _Objective, x0: np.ndarray, iterations: int):
    # The Numba twin of _levenberg_marquardt, for built-in operators under the L2 loss
    # without graph aggregation.
    from symdistill.sr import _least_squares

    evaluator = objective.evaluator
    program = objective.program
    positions = np.asarray(objective.positions, dtype=np.int64)
    program[positions, 1] = x0
    loss, calls = _least_squares.levenberg_marquardt(
        program, positions, evaluator.Xt, evaluator.y, evaluator._weights_arg, iterations
    )
    objective.n_calls += calls
    return program[positions, 1].copy(), loss


THRESHOLD_CANDIDATES = 64
"""Number of data quantiles tried for a constant compared with ``>`` or ``<``."""


def fit_thresholds(tree: Tree, loss: float, evaluator: Evaluator) -> tuple[Tree, float, int]:
    """Choose constants compared by ``>``/``<`` from the data, where gradients vanish.

    The loss is a step function of such a threshold, so BFGS cannot move it. For each
    comparison with a constant argument, the other argument is evaluated on the data
    and thresholds between its quantiles are tried; the best one is kept.

    Returns
    -------
    (tree, loss, n_calls)
    """
    n_calls = 0
    arity = arity_of  # built-in operators only; the caller skips trees with custom ones
    for i, (code, _) in enumerate(tree):
        if code not in (GT, LT):
            continue
        starts = subtree_starts(tree, arity)
        right = (starts[i - 1], i)
        left = (starts[starts[i - 1] - 1], starts[i - 1])
        for (constant_span, other_span) in ((right, left), (left, right)):
            start, end = constant_span
            if end - start != 1 or tree[start][0] != CONST:
                continue
            values = evaluator.row_values(tree[other_span[0] : other_span[1]])
            if values is None:
                continue
            levels = np.unique(np.quantile(values, np.linspace(0, 1, THRESHOLD_CANDIDATES + 1)))
            candidates = 0.5 * (levels[1:] + levels[:-1]) if levels.size > 1 else levels
            for candidate in candidates:
                trial = tree[:start] + ((CONST, float(candidate)),) + tree[end:]
                trial_loss = evaluator(trial)
                n_calls += 1
                if trial_loss < loss:
                    tree, loss = trial, trial_loss
    return tree, loss, n_calls


def exponent_positions(tree: Tree) -> list[int]:
    """Return the positions of constants that are the exponent of a ``^`` node."""
    return [i - 1 for i, (code, _) in enumerate(tree) if code == POW and i > 0 and tree[i - 1][0] == CONST]


def snap_exponents(tree: Tree) -> Tree:
    """Return ``tree`` with every constant exponent of ``^`` rounded to an integer."""
    nodes = list(tree)
    for i in exponent_positions(tree):
        nodes[i] = (CONST, float(np.round(nodes[i][1])))
    return tuple(nodes)


def snap_if_not_worse(tree: Tree, loss: float, evaluator: Evaluator) -> tuple[Tree, float]:
    """Round each constant exponent to an integer where the loss grows by <= SNAP_TOLERANCE."""
    for i in exponent_positions(tree):
        value = tree[i][1]
        if float(value).is_integer():
            continue
        nodes = list(tree)
        nodes[i] = (CONST, float(np.round(value)))
        snapped = tuple(nodes)
        snapped_loss = evaluator(snapped)
        if snapped_loss <= loss * (1 + SNAP_TOLERANCE) or not np.isfinite(loss):
            tree, loss = snapped, snapped_loss
    return tree, loss


def optimize_constants(
    tree: Tree,
    loss: float,
    evaluator: Evaluator,
    rng: random.Random,
    *,
    algorithm: str = "BFGS",
    iterations: int = 8,
    nrestarts: int = 2,
    deadline: float | None = None,
) -> tuple[Tree, float, int]:
    """Fit the constants of ``tree``; keep the result only if the loss improves.

    ``algorithm`` is ``"BFGS"``, or ``"LM"``/``"auto"`` for Levenberg-Marquardt where
    the loss is L2 with built-in operators and no custom objective (BFGS elsewhere).
    Runs the optimizer from the current constants and from ``nrestarts`` perturbed
    starts ``c * (1 + 0.5 * N(0, 1))``, then snaps exponents of ``^`` to integers
    where that does not worsen the loss.

    Returns
    -------
    (tree, loss, n_calls)
        The best tree and its loss, and the number of loss/gradient evaluations.
    """
    constants = constants_of(tree)
    if constants.size == 0:
        return tree, loss, 0
    objective = _Objective(tree, evaluator)
    use_lm = algorithm in ("LM", "auto") and evaluator.loss is L2 and evaluator.loss_function is None and objective.exact
    best_constants, best_loss = constants, loss
    starts = [constants]
    for _ in range(nrestarts):
        noise = np.array([rng.gauss(0.0, 1.0) for _ in range(constants.size)])
        starts.append(constants * (1 + 0.5 * noise))
    for start in starts:
        if deadline is not None and time.monotonic() > deadline:
            break
        with np.errstate(all="ignore"):
            if use_lm and evaluator.receivers is None and COMPILED_LEVENBERG_MARQUARDT:
                found, found_loss = _compiled_levenberg_marquardt(objective, start, iterations)
            elif use_lm:
                found, found_loss = _levenberg_marquardt(objective, start, iterations, deadline)
            else:
                found, found_loss = _bfgs(objective, start, iterations, deadline)
        if found_loss < best_loss:
            best_constants, best_loss = found, found_loss
    best_tree = with_constants(tree, best_constants) if best_loss < loss else tree
    best_loss = min(best_loss, loss)
    best_tree, best_loss = snap_if_not_worse(best_tree, best_loss, evaluator)
    extra_calls = 0
    codes = [code for code, _ in best_tree]
    if (GT in codes or LT in codes) and max(codes) < FIRST_CUSTOM_CODE:
        best_tree, best_loss, extra_calls = fit_thresholds(best_tree, best_loss, evaluator)
    return best_tree, best_loss, objective.n_calls + extra_calls
