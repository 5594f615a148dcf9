"""Loss evaluation of candidate trees on one dataset.

:class:`Evaluator` owns the feature-major data, the loss and the optional graph
aggregation. Trees made only of built-in operators under a built-in loss go through
one fused Numba kernel (:func:`symdistill.sr._kernels.program_loss`). Other trees
and losses are first evaluated completely (kernel or guarded NumPy). Only a fully
finite prediction reaches the loss, so a custom loss never receives a partially
evaluated prediction.
"""

from __future__ import annotations

import logging

import numpy as np

from symdistill.sr import _kernels
from symdistill.sr._reference import evaluate_reference
from symdistill.sr.backends.base import Problem
from symdistill.sr.losses import L1, L2, ElementwiseLoss, resolve_elementwise_loss
from symdistill.sr.operators import FIRST_CUSTOM_CODE, OperatorSet
from symdistill.sr.tree import Tree, to_program

logger = logging.getLogger(__name__)

_EMPTY_FLOAT = np.empty(0, dtype=np.float64)
_EMPTY_INT = np.empty(0, dtype=np.int64)


class Evaluator:
    """Compute losses and predictions of trees on one problem.

    Parameters
    ----------
    problem : Problem
        Validated data. ``problem.extra`` and the whole problem reach a custom
        ``loss_function`` as its ``dataset`` argument.
    operator_set : OperatorSet
        Operators of the search (codes -> semantics).
    elementwise_loss : str or callable or ElementwiseLoss
        Per-row loss, see :func:`symdistill.sr.losses.resolve_elementwise_loss`.
    loss_function : callable, optional
        Full objective ``f(prediction, problem) -> float``; replaces the elementwise
        loss. ``prediction`` is per target (per node for a graph problem).
    """

    def __init__(self, problem: Problem, operator_set: OperatorSet, elementwise_loss="L2", loss_function=None):
        self.problem = problem
        self.operators = operator_set.by_code()
        self.Xt = np.ascontiguousarray(problem.X.T, dtype=np.float64)
        self.y = np.ascontiguousarray(problem.y, dtype=np.float64)
        self.weights = None if problem.weights is None else np.ascontiguousarray(problem.weights, dtype=np.float64)
        self.receivers = None if problem.receivers is None else np.ascontiguousarray(problem.receivers, dtype=np.int64)
        self.divisor = None if problem.node_divisor is None else np.ascontiguousarray(problem.node_divisor, dtype=np.float64)
        self.loss: ElementwiseLoss = resolve_elementwise_loss(elementwise_loss)
        self.loss_function = loss_function
        self.n_evaluations = 0
        self._buffer = np.empty(self.Xt.shape[1])
        self._kind, self._delta = _builtin_kind(self.loss)
        self._fused = self._kind is not None and loss_function is None
        self._has_custom = operator_set.has_custom
        self._weights_arg = _EMPTY_FLOAT if self.weights is None else self.weights
        self._receivers_arg = _EMPTY_INT if self.receivers is None else self.receivers
        self._divisor_arg = _EMPTY_FLOAT if self.divisor is None else self.divisor

    @property
    def n_rows(self) -> int:
        return int(self.Xt.shape[1])

    @property
    def n_targets(self) -> int:
        return int(self.y.shape[0])

    def subset(self, targets: np.ndarray) -> "Evaluator":
        """Return an evaluator on some targets (batching).

        ``targets`` are row indices, or for a graph-aggregated loss node indices
        without repeats; each node keeps all its incoming edges.

        Shapes
        ------
        targets : [batch] int
        """
        rows = targets
        receivers = divisor = None
        if self.receivers is not None:
            targets = np.unique(targets)
            remap = np.full(self.n_targets, -1, dtype=np.int64)
            remap[targets] = np.arange(targets.size)
            rows = np.flatnonzero(remap[self.receivers] >= 0)
            receivers = remap[self.receivers[rows]]
            divisor = None if self.divisor is None else self.divisor[targets]
        problem = Problem(
            X=self.problem.X[rows],
            y=self.y[targets],
            weights=None if self.weights is None else self.weights[targets],
            variable_names=self.problem.variable_names,
            receivers=receivers,
            node_divisor=divisor,
            extra=self.problem.extra,
        )
        view = Evaluator.__new__(Evaluator)
        view.__dict__.update(self.__dict__)
        view.problem = problem
        view.Xt = np.ascontiguousarray(self.Xt[:, rows])
        view.y = problem.y
        view.weights = problem.weights
        view.receivers = receivers
        view.divisor = divisor
        view._weights_arg = _EMPTY_FLOAT if view.weights is None else view.weights
        view._receivers_arg = _EMPTY_INT if receivers is None else receivers
        view._divisor_arg = _EMPTY_FLOAT if divisor is None else divisor
        view._buffer = np.empty(len(rows))
        view.n_evaluations = 0
        return view

    def row_values(self, tree: Tree, Xt: np.ndarray | None = None) -> np.ndarray | None:
        """Return the per-row values of ``tree``, or None when any node is non-finite.

        Shapes
        ------
        Xt : [n_features, n_rows] (defaults to the training data); returns [n_rows]
        """
        Xt = self.Xt if Xt is None else Xt
        if any(code >= FIRST_CUSTOM_CODE for code, _ in tree):
            ok, values = evaluate_reference(tree, Xt, self.operators)
            return values if ok else None
        out = np.empty(Xt.shape[1])
        return out if _kernels.evaluate_program(to_program(tree), Xt, out) else None

    def aggregate(self, row_values: np.ndarray) -> np.ndarray:
        """Turn per-row values into predictions of ``y`` (graph sum and divisor, if any).

        Shapes
        ------
        row_values : [n_rows]; returns [n_targets]
        """
        if self.receivers is None:
            return row_values
        node = np.bincount(self.receivers, weights=row_values, minlength=self.y.shape[0])
        if self.divisor is not None:
            node = node / self.divisor
        return node

    def loss_of_prediction(self, prediction: np.ndarray) -> float:
        """Return the loss of a complete, finite prediction of ``y``."""
        if self.loss_function is not None:
            try:
                value = float(self.loss_function(prediction, self.problem))
            except Exception as error:  # noqa: BLE001 - a failing user objective invalidates the candidate
                logger.debug("loss_function raised %r; candidate marked invalid", error)
                return np.inf
            return value if np.isfinite(value) else np.inf
        with np.errstate(all="ignore"):
            return self.loss.mean(prediction, self.y, self.weights)

    def __call__(self, tree: Tree) -> float:
        """Return the loss of ``tree``; ``inf`` when it is invalid anywhere."""
        self.n_evaluations += 1
        if self._fused and (not self._has_custom or not any(code >= FIRST_CUSTOM_CODE for code, _ in tree)):
            return _kernels.program_loss(
                to_program(tree),
                self.Xt,
                self.y,
                self._weights_arg,
                self._kind,
                self._delta,
                self._receivers_arg,
                self._divisor_arg,
                self._buffer,
            )
        values = self.row_values(tree)
        if values is None:
            return np.inf
        return self.loss_of_prediction(self.aggregate(values))


def _builtin_kind(loss: ElementwiseLoss) -> tuple[int | None, float]:
    if loss is L2:
        return _kernels.LOSS_L2, 0.0
    if loss is L1:
        return _kernels.LOSS_L1, 0.0
    if loss.huber_delta > 0:
        return _kernels.LOSS_HUBER, loss.huber_delta
    return None, 0.0
