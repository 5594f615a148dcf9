"""Closed-form fit of root scale and offset constants (compiled kernel against NumPy)."""

import numpy as np
import pytest

from symdistill.sr import _root_fit
from symdistill.sr._reference import fit_root_constants_reference
from symdistill.sr.operators import BUILTIN_OPERATORS, build_operator_set
from symdistill.sr.options import SearchOptions
from symdistill.sr.tree import arity_of, parse

OPERATORS = build_operator_set(["+", "-", "*", "/"], ["sin", "exp"]).by_name()
ARITY = np.array([arity_of(code) if code in {op.code for op in BUILTIN_OPERATORS.values()} or code < 2 else 0
                  for code in range(256)], dtype=np.int64)

# Trees in postfix tokens over features f0, f1; each has root scale and/or offset constants.
TREES = [
    "c2.0 f0 f1 * *",          # a * g
    "f0 sin c0.5 *",           # g * a
    "f0 f1 + c3.0 /",          # g / a
    "c1.5 f0 f1 + /",          # a / g
    "f0 sin c1.0 +",           # g + b
    "c1.0 f0 f1 * +",          # b + g
    "f0 f1 * c1.0 -",          # g - b
    "c1.0 f0 exp -",           # b - g
    "c2.0 f0 * c1.0 +",        # a * g + b
    "c1.0 f1 c2.0 / -",        # b - g / a
    "f0 c2.0 f1 / * c0.1 -",   # g * (a / h) - b: the scale is inside, only b is a root slot
]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 2.0, size=(200, 2))
    y = 1.7 * np.sin(X[:, 0]) * X[:, 1] - 0.3 + 0.05 * rng.standard_normal(200)
    return np.ascontiguousarray(X.T), y, rng.uniform(0.1, 2.0, size=200)


def _kernel_fit(tree, Xt, y, w, receivers=None, divisor=None):
    n = len(tree)
    c = np.array([code for code, _ in tree], dtype=np.int64)
    v = np.array([value for _, value in tree], dtype=np.float64)
    scratch = np.empty(2 * n + 8, dtype=np.int64)
    receivers = np.empty(0, dtype=np.int64) if receivers is None else receivers
    divisor = np.empty(0) if divisor is None else divisor
    changed = _root_fit.fit_root_constants(c, v, n, ARITY, scratch, scratch.copy(), np.empty((n, 2)), Xt, y, w,
                                           receivers, divisor, np.empty(Xt.shape[1]))
    return changed, tuple(zip(c.tolist(), v.tolist()))


@pytest.mark.parametrize("text", TREES)
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_matches_reference(text, weighted):
    Xt, y, w = _data()
    weights = w if weighted else None
    tree = parse(text, OPERATORS, 2)
    changed, fitted = _kernel_fit(tree, Xt, y, w if weighted else np.empty(0))
    expected = fit_root_constants_reference(tree, Xt, y, weights)
    assert changed
    assert expected != tree
    np.testing.assert_allclose([v for _, v in fitted], [v for _, v in expected], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("text", TREES)
@pytest.mark.parametrize("with_divisor", [False, True])
def test_graph_fit_matches_reference(text, with_divisor):
    Xt, _, _ = _data()
    rng = np.random.default_rng(5)
    receivers = np.sort(rng.integers(0, 40, size=Xt.shape[1]))
    divisor = rng.uniform(0.5, 2.0, size=40) if with_divisor else None
    y = rng.normal(size=40)
    w = rng.uniform(0.1, 2.0, size=40)
    tree = parse(text, OPERATORS, 2)
    changed, fitted = _kernel_fit(tree, Xt, y, w, receivers, divisor)
    expected = fit_root_constants_reference(tree, Xt, y, w, receivers, divisor)
    assert changed
    np.testing.assert_allclose([v for _, v in fitted], [v for _, v in expected], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("text", TREES)
def test_fit_does_not_worsen_the_loss(text):
    from symdistill.sr._reference import evaluate_reference
    from symdistill.sr.operators import BUILTIN_BY_CODE

    Xt, y, _ = _data(1)
    tree = parse(text, OPERATORS, 2)
    _, fitted = _kernel_fit(tree, Xt, y, np.empty(0))
    before = np.mean((evaluate_reference(tree, Xt, BUILTIN_BY_CODE)[1] - y) ** 2)
    after = np.mean((evaluate_reference(fitted, Xt, BUILTIN_BY_CODE)[1] - y) ** 2)
    assert after <= before


def test_exact_scale_and_offset_are_recovered():
    Xt, _, _ = _data()
    y = 4.0 * Xt[0] * Xt[1] - 2.5
    tree = parse("c1.0 f0 f1 * * c0.0 +", OPERATORS, 2)
    _, fitted = _kernel_fit(tree, Xt, y, np.empty(0))
    assert fitted[0][1] == pytest.approx(4.0, rel=1e-12)
    assert fitted[-2][1] == pytest.approx(-2.5, rel=1e-12)


@pytest.mark.parametrize("text", ["f0 f1 *", "f0 c2.0 ^", "f0 sin", "f0 f1 c2.0 * sin *", "f0 c1.0 c2.0 + *"])
def test_trees_without_root_slots_are_unchanged(text):
    Xt, y, _ = _data()
    tree = parse(text, OPERATORS | build_operator_set(["^"]).by_name(), 2)
    changed, fitted = _kernel_fit(tree, Xt, y, np.empty(0))
    assert not changed
    assert fitted == tree
    assert fit_root_constants_reference(tree, Xt, y) == tree


def test_invalid_core_leaves_constants():
    Xt, y, _ = _data()
    Xt = Xt.copy()
    Xt[0, 3] = 0.0
    tree = parse("c2.0 c1.0 f0 / *", OPERATORS, 2)  # a * (1 / f0) is inf at f0 = 0
    changed, fitted = _kernel_fit(tree, Xt, y, np.empty(0))
    assert not changed and fitted == tree


def test_search_option_switches_the_fit_off():
    from symdistill.sr.backends.base import Problem
    from symdistill.sr.search import run_search

    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, size=(100, 2))
    y = 3.7 * X[:, 0] * X[:, 1]
    problem = Problem(X, y, None, ("a", "b"))
    seeds = [parse("c1.0 f0 f1 * *", OPERATORS, 2)]
    for flag in (True, False):
        options = SearchOptions(binary_operators=("+", "*"), populations=1, population_size=12,
                                tournament_selection_n=4, niterations=1, ncycles_per_iteration=30,
                                should_optimize_constants=flag, fit_root_constants=flag,
                                child_optimize_probability=0.0, random_state=1)
        result = run_search(problem, options, seeds)
        best = result.hall_of_fame.best_loss()
        if flag:
            assert best < 1e-20
        else:
            assert best > 1e-3
