"""Numba kernels against the NumPy reference: random trees, Jacobians, invalid values."""

import random

import numpy as np
import pytest

from symdistill.sr import _kernels
from symdistill.sr._reference import evaluate_reference
from symdistill.sr.mutations import MutationContext, random_tree
from symdistill.sr.operators import CONST, FEATURE, GT, IF, build_operator_set, lookup
from symdistill.sr.tree import constant_positions, to_program, with_constants

ALL_OPERATORS = build_operator_set(
    binary=["+", "-", "*", "/", "^", ">", "<"],
    unary=["neg", "square", "cube", "sqrt", "cbrt", "exp", "log", "abs", "sin", "cos", "tanh", "inv"],
    ternary=["IF"],
)


def _random_trees(n_trees, n_features, seed=0, max_operators=8):
    ctx = MutationContext(ALL_OPERATORS, n_features, random.Random(seed))
    return [random_tree(ctx, ctx.rng.randrange(0, max_operators)) for _ in range(n_trees)]


def test_random_trees_match_reference():
    rng = np.random.default_rng(1)
    Xt = np.ascontiguousarray(rng.normal(size=(3, 700)) * 2)
    operators = ALL_OPERATORS.by_code()
    n_valid = 0
    for tree in _random_trees(1500, 3):
        out = np.empty(Xt.shape[1])
        kernel_ok = _kernels.evaluate_program(to_program(tree), Xt, out)
        reference_ok, reference = evaluate_reference(tree, Xt, operators)
        assert kernel_ok == reference_ok, tree
        if kernel_ok:
            np.testing.assert_allclose(out, reference, rtol=1e-10, atol=1e-12)
            n_valid += 1
    assert n_valid > 300


def test_overflow_fuzz_never_raises():
    # x0 ~ U(0, 100) makes exp(x0) overflow and cos(exp(x0)) NaN: invalid, never an exception.
    rng = np.random.default_rng(2)
    Xt = np.ascontiguousarray(np.stack([rng.uniform(0, 100, 500), rng.normal(size=500)]))
    operator_set = build_operator_set(binary=["+", "*"], unary=["exp", "cos", "sin"])
    ctx = MutationContext(operator_set, 2, random.Random(3))
    n_invalid = 0
    for _ in range(3000):
        tree = random_tree(ctx, ctx.rng.randrange(0, 10))
        out = np.empty(500)
        n_invalid += not _kernels.evaluate_program(to_program(tree), Xt, out)
    assert n_invalid > 0


def test_nan_hidden_by_comparison_still_invalid():
    # log(-1) is NaN; (log(x0) > 0) would read 0 but the candidate must be invalid.
    tree = ((FEATURE, 0.0), (lookup("log").code, 0.0), (CONST, 0.0), (GT, 0.0))
    assert not _kernels.evaluate_program(to_program(tree), np.array([[-1.0, 2.0]]), np.empty(2))


def test_if_selects_branches():
    tree = ((FEATURE, 0.0), (CONST, 10.0), (CONST, -10.0), (IF, 0.0))
    out = np.empty(3)
    assert _kernels.evaluate_program(to_program(tree), np.array([[-1.0, 0.0, 2.0]]), out)
    np.testing.assert_array_equal(out, [-10.0, -10.0, 10.0])


def test_many_rows_cross_chunks():
    n = _kernels.CHUNK * 3 + 17
    Xt = np.arange(2 * n, dtype=np.float64).reshape(2, n)
    tree = ((FEATURE, 0.0), (FEATURE, 1.0), (lookup("*").code, 0.0))
    out = np.empty(n)
    assert _kernels.evaluate_program(to_program(tree), Xt, out)
    np.testing.assert_array_equal(out, Xt[0] * Xt[1])


def test_jacobian_matches_finite_differences():
    rng = np.random.default_rng(4)
    Xt = np.ascontiguousarray(rng.uniform(0.5, 2.0, size=(3, 50)))
    checked = 0
    for tree in _random_trees(600, 3, seed=5):
        positions = constant_positions(tree)
        if not positions:
            continue
        out = np.empty(50)
        jacobian = np.empty((len(positions), 50))
        if not _kernels.evaluate_with_jacobian(to_program(tree), Xt, out, jacobian):
            continue
        if any(code in (lookup("abs").code, GT, lookup("<").code, IF) for code, _ in tree):
            continue  # kinks and steps: finite differences are unreliable there
        constants = np.array([tree[i][1] for i in positions])
        for j in range(len(positions)):
            step = 1e-6 * max(1.0, abs(constants[j]))
            values = []
            for sign in (1, -1):
                shifted = constants.copy()
                shifted[j] += sign * step
                shifted_out = np.empty(50)
                ok = _kernels.evaluate_program(to_program(with_constants(tree, shifted)), Xt, shifted_out)
                values.append(shifted_out if ok else None)
            if values[0] is None or values[1] is None:
                continue
            numeric = (values[0] - values[1]) / (2 * step)
            scale = np.maximum(1.0, np.abs(numeric))
            assert np.all(np.abs(jacobian[j] - numeric) / scale < 1e-4), tree
            checked += 1
    assert checked > 100


def test_program_loss_kinds():
    rng = np.random.default_rng(6)
    Xt = np.ascontiguousarray(rng.normal(size=(1, 40)))
    y = rng.normal(size=40)
    w = rng.uniform(0.5, 1.5, 40)
    tree = ((FEATURE, 0.0),)
    program = to_program(tree)
    empty_int = np.empty(0, dtype=np.int64)
    buffer = np.empty(40)
    d = Xt[0] - y
    l2 = _kernels.program_loss(program, Xt, y, np.empty(0), _kernels.LOSS_L2, 0.0, empty_int, np.empty(0), buffer)
    l1 = _kernels.program_loss(program, Xt, y, w, _kernels.LOSS_L1, 0.0, empty_int, np.empty(0), buffer)
    huber = _kernels.program_loss(program, Xt, y, np.empty(0), _kernels.LOSS_HUBER, 0.5, empty_int, np.empty(0), buffer)
    assert l2 == pytest.approx(np.mean(d**2))
    assert l1 == pytest.approx(np.sum(w * np.abs(d)) / np.sum(w))
    a = np.abs(d)
    assert huber == pytest.approx(np.mean(np.where(a <= 0.5, 0.5 * a**2, 0.5 * (a - 0.25))))


def test_program_loss_graph_aggregation():
    Xt = np.array([[1.0, 2.0, 3.0, 4.0]])
    receivers = np.array([0, 0, 1, 1], dtype=np.int64)
    divisor = np.array([2.0, 0.5])
    y = np.array([1.0, 10.0])
    program = to_program(((FEATURE, 0.0),))
    loss = _kernels.program_loss(
        program, Xt, y, np.empty(0), _kernels.LOSS_L2, 0.0, receivers, divisor, np.empty(4)
    )
    # Node sums 3 and 7, divided: 1.5 and 14; errors 0.5 and 4.
    assert loss == pytest.approx((0.25 + 16.0) / 2)
