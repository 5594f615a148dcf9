"""SymbolicRegression.jl backend end to end; needs juliacall and a Julia runtime.

These tests are marked ``julia``: the default test run deselects them, and they skip
unless juliacall is installed and a ``julia`` executable is on the PATH (so that no
test starts a Julia download). Run them with ``python -m pytest -m julia``.
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest
import sympy as sp

from symdistill.sr.backends.base import Problem, get_backend
from symdistill.sr.options import SearchOptions

pytestmark = [
    pytest.mark.julia,
    pytest.mark.skipif(
        importlib.util.find_spec("juliacall") is None or shutil.which("julia") is None,
        reason="needs juliacall and a julia executable on the PATH",
    ),
]


def _fast_options(**overrides):
    settings = dict(populations=4, population_size=30, niterations=20, maxsize=12, early_stop_condition=1e-10)
    settings.update(overrides)
    return SearchOptions(**settings)


def test_recovers_product():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 2.0, size=(200, 3))
    problem = Problem(X, X[:, 0] * X[:, 1] + X[:, 2], None, ("m", "beta", "I"))
    candidates = get_backend("julia").search(problem, _fast_options(binary_operators=["+", "*"]))
    best = min(candidates, key=lambda c: c.loss)
    assert best.loss < 1e-10
    m, beta, i = sp.symbols("m beta I")
    assert sp.simplify(best.expression - (m * beta + i)) == 0


def test_if_operator_round_trip():
    rng = np.random.default_rng(1)
    X = rng.uniform(-3.0, 3.0, size=(300, 3))
    y = np.where(X[:, 0] > 0, X[:, 1], X[:, 2])
    problem = Problem(X, y, None, ("a", "b", "c"))
    options = _fast_options(binary_operators=["+", "*"], ternary_operators=["IF"])
    candidates = get_backend("julia").search(problem, options)
    best = min(candidates, key=lambda c: c.loss)
    prediction = sp.lambdify(sp.symbols("a b c"), best.expression, "numpy")(*X.T)
    np.testing.assert_allclose(prediction, y, atol=1e-8)


def test_graph_aggregated_loss():
    rng = np.random.default_rng(2)
    n_edges, n_nodes = 400, 100
    X = rng.uniform(0.5, 2.0, size=(n_edges, 2))
    receivers = rng.integers(0, n_nodes, size=n_edges)
    mass = rng.uniform(1.0, 2.0, size=n_nodes)
    node_targets = np.bincount(receivers, weights=X[:, 0] * X[:, 1], minlength=n_nodes) / mass
    problem = Problem(X, node_targets, None, ("u", "v"), receivers=receivers, node_divisor=mass)
    options = _fast_options(binary_operators=["+", "*"], elementwise_loss="L1")
    candidates = get_backend("julia").search(problem, options)
    best = min(candidates, key=lambda c: c.loss)
    u, v = sp.symbols("u v")
    assert best.loss < 1e-8
    assert sp.simplify(best.expression - u * v) == 0
