"""Constant fitting (BFGS, LM, graph Jacobians, exponent snapping) and the losses."""

import random

import numpy as np
import pytest

from symdistill.sr.backends.base import Problem
from symdistill.sr.constants import optimize_constants, snap_exponents
from symdistill.sr.evaluator import Evaluator
from symdistill.sr.losses import L1, L2, huber_loss, resolve_elementwise_loss
from symdistill.sr.operators import ADD, CONST, FEATURE, MUL, POW, build_operator_set, custom_operator
from symdistill.sr.tree import constants_of

OPERATORS = build_operator_set(binary=["+", "*", "^"], unary=["exp"])
EXP = OPERATORS.by_name()["exp"].code


def _problem(X, y, **kwargs):
    return Problem(np.asarray(X, float), np.asarray(y, float), None, tuple(f"x{i}" for i in range(np.shape(X)[1])), **kwargs)


# c0 * exp(c1 * x0) + c2
TREE = ((CONST, 1.0), (CONST, 0.1), (FEATURE, 0.0), (MUL, 0.0), (EXP, 0.0), (MUL, 0.0), (CONST, 0.0), (ADD, 0.0))


@pytest.mark.parametrize("algorithm", ["BFGS", "LM"])
def test_optimizer_recovers_constants(algorithm):
    x = np.linspace(-1, 1, 200)
    y = 2.0 * np.exp(-1.5 * x) + 0.5
    evaluator = Evaluator(_problem(x[:, None], y), OPERATORS)
    loss = evaluator(TREE)
    tree, fitted_loss, _ = optimize_constants(TREE, loss, evaluator, random.Random(0), algorithm=algorithm, iterations=100, nrestarts=2)
    assert fitted_loss < 1e-10
    np.testing.assert_allclose(constants_of(tree), [2.0, -1.5, 0.5], rtol=1e-4, atol=1e-5)


def test_optimizer_keeps_tree_when_no_improvement():
    x = np.linspace(-1, 1, 20)
    evaluator = Evaluator(_problem(x[:, None], 3 * x), OPERATORS)
    tree = ((CONST, 3.0), (FEATURE, 0.0), (MUL, 0.0))
    fitted, loss, _ = optimize_constants(tree, evaluator(tree), evaluator, random.Random(0))
    assert fitted == tree
    assert loss == 0.0


def test_graph_loss_gradient_fits_constant():
    # Edge value c * x0, summed over receivers and divided by mass; the truth is c = 2.
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2, 60)
    receivers = np.repeat(np.arange(20), 3)
    mass = rng.uniform(1, 2, 20)
    y = np.bincount(receivers, weights=2.0 * x) / mass
    problem = _problem(x[:, None], y, receivers=receivers, node_divisor=mass)
    evaluator = Evaluator(problem, OPERATORS, "L1")
    tree = ((CONST, 0.3), (FEATURE, 0.0), (MUL, 0.0))
    fitted, loss, _ = optimize_constants(tree, evaluator(tree), evaluator, random.Random(0), iterations=50)
    assert constants_of(fitted)[0] == pytest.approx(2.0, rel=1e-4)
    assert loss < 1e-4


def test_custom_operator_uses_finite_differences():
    mysquare = custom_operator("mysquare", 1, lambda a: a * a, lambda a: a**2)
    operator_set = build_operator_set(binary=["*"], unary=[mysquare])
    code = operator_set.by_name()["mysquare"].code
    x = np.linspace(0.5, 2, 30)
    evaluator = Evaluator(_problem(x[:, None], 1.7 * x * x), operator_set)
    tree = ((CONST, 1.0), (FEATURE, 0.0), (code, 0.0), (MUL, 0.0))
    fitted, loss, _ = optimize_constants(tree, evaluator(tree), evaluator, random.Random(0), iterations=50)
    assert constants_of(fitted)[0] == pytest.approx(1.7, rel=1e-5)


def test_exponent_snapped_when_not_worse():
    x = np.linspace(0.5, 3, 50)
    evaluator = Evaluator(_problem(x[:, None], x**3), OPERATORS)
    tree = ((FEATURE, 0.0), (CONST, 2.6), (POW, 0.0))
    fitted, loss, _ = optimize_constants(tree, evaluator(tree), evaluator, random.Random(0), iterations=50)
    assert constants_of(fitted)[0] == 3.0
    assert loss < 1e-25


def test_snap_exponents_rounds_only_exponents():
    tree = ((CONST, 1.4), (FEATURE, 0.0), (CONST, 1.6), (POW, 0.0), (MUL, 0.0))
    assert constants_of(snap_exponents(tree)).tolist() == [1.4, 2.0]


def test_losses_match_formulas():
    p = np.array([0.0, 1.0, 4.0])
    t = np.array([1.0, 1.0, 1.0])
    w = np.array([1.0, 2.0, 3.0])
    assert L2.mean(p, t) == pytest.approx((1 + 0 + 9) / 3)
    assert L1.mean(p, t, w) == pytest.approx((1 + 0 + 9) / 6)
    assert huber_loss(1.0).mean(p, t) == pytest.approx((0.5 + 0 + 2.5) / 3)


@pytest.mark.parametrize(
    "name, expected",
    [("L2", "L2"), ("L2DistLoss()", "L2"), ("mae", "L1"), ("L1DistLoss()", "L1"), ("HuberLoss(0.5)", "Huber(0.5)"), ("Huber", "Huber(1)")],
)
def test_loss_names_resolve(name, expected):
    assert resolve_elementwise_loss(name).name == expected


def test_unknown_loss_names_value():
    with pytest.raises(ValueError, match="'L3'"):
        resolve_elementwise_loss("L3")


def test_custom_loss_wrong_shape_rejected():
    loss = resolve_elementwise_loss(lambda p, t: np.sum(p - t))
    with pytest.raises(ValueError, match="one loss per row"):
        loss.mean(np.ones(3), np.ones(3))


def test_threshold_fitted_from_data():
    operator_set = build_operator_set(binary=[">", "-"])
    greater = operator_set.by_name()[">"].code
    minus = operator_set.by_name()["-"].code
    x = np.linspace(0, 8, 101)
    evaluator = Evaluator(_problem(x[:, None], (x > 4).astype(float) - x), operator_set)
    tree = ((FEATURE, 0.0), (CONST, 4.3), (greater, 0.0), (FEATURE, 0.0), (minus, 0.0))
    fitted, loss, _ = optimize_constants(tree, evaluator(tree), evaluator, random.Random(0))
    assert loss == 0.0
    assert 4.0 <= constants_of(fitted)[0] < 4.08
