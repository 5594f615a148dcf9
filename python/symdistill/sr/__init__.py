"""Symbolic regression: a Numba-accelerated search engine behind a scikit-learn estimator.

Quick start::

    from symdistill.sr import SymbolicRegressor

    model = SymbolicRegressor(
        binary_operators=["+", "-", "*", "/"],
        elementwise_loss="L1",
        niterations=40,
        timeout_in_seconds=60,
        random_state=0,
    )
    model.fit(X, y, variable_names=["dx", "dy", "r", "m1", "m2"])
    model.equations_    # Pareto front: complexity, loss, score, equation, sympy
    model.sympy()       # the expression chosen by model_selection ("best")
    model.predict(X)

Graph-aggregated loss (fitting an edge function against node targets)
---------------------------------------------------------------------
When only node-level targets are known (for example accelerations), fit the edge
function directly: each row of ``X`` is an edge, ``receivers[i]`` is the node that
edge ``i`` points to, and ``y`` contains one target per node. The candidate's edge
values are summed over each node's incoming edges, optionally divided by
``node_divisor`` (for example the node's mass), and compared with ``y`` under the
chosen loss::

    # X: [n_edges, n_features] edge features, e.g. dx, dy, r, m1, m2
    # receivers: [n_edges] int node index of each edge's receiver
    # y: [n_nodes] node targets, e.g. the x-acceleration of every node
    model.fit(X, y, variable_names=names, receivers=receivers, node_divisor=mass)
    model.predict(X)                                   # per-edge values, [n_edges]
    model.predict(X, receivers=receivers, node_divisor=mass)   # per node, [n_nodes]

For a vector law fitted with one scalar expression, stack the components as extra
rows: row ``(edge, k)`` contains the edge features with the k-th separation component
in a shared column (``d = dx`` or ``dy``), and receiver index
``node * dim + k``, so ``y`` is the flattened ``[n_nodes * dim]`` target and
``node_divisor`` is ``np.repeat(mass, dim)``. Constants
are fitted with exact gradients through the sum and the division. Batching draws
whole nodes with all their incoming edges.

Other losses
------------
``elementwise_loss``: ``"L2"``, ``"L1"``, ``"Huber"`` / ``"HuberLoss(delta)"`` or a
callable ``f(prediction, target) -> per-row losses``. ``loss_function``: a full
objective ``f(prediction, dataset) -> float`` that receives the complete, finite
prediction of ``y`` and the :class:`~symdistill.sr.backends.base.Problem` (with
``dataset.y``, ``dataset.weights``, ``dataset.extra`` from ``fit(..., extra=...)``).

Operator semantics are defined once in :mod:`symdistill.sr.operators`; other engines
plug in through :mod:`symdistill.sr.backends.base`.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SymbolicRegressor": "symdistill.sr.regressor",
    "SearchOptions": "symdistill.sr.options",
    "custom_operator": "symdistill.sr.operators",
    "get_backend": "symdistill.sr.backends.base",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symdistill.sr' has no attribute {name!r}")
