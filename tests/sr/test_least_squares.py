"""Compiled Levenberg-Marquardt against its Python reference."""

import random

import numpy as np
import pytest

from symdistill.sr import constants
from symdistill.sr.backends.base import Problem
from symdistill.sr.constants import optimize_constants
from symdistill.sr.evaluator import Evaluator
from symdistill.sr.operators import build_operator_set
from symdistill.sr.tree import parse

OPERATORS = build_operator_set(["+", "-", "*", "/"], ["exp", "sin"])

# Postfix trees over features f0, f1 with constants to fit.
TREES = [
    "c1.0 c0.1 f0 * exp * c0.0 +",     # a * exp(b * x0) + c
    "f0 c0.3 + sin c2.0 * f1 *",       # sin(x0 + a) * b * x1
    "f0 c0.5 * exp f1 c0.2 * +",       # exp(a * x0) + b * x1
]


def _evaluator(weighted):
    rng = np.random.default_rng(3)
    X = rng.uniform(0.5, 2.0, size=(300, 2))
    y = 1.8 * np.exp(-0.7 * X[:, 0]) + np.sin(X[:, 0] + 0.4) * X[:, 1] + 0.01 * rng.standard_normal(300)
    weights = rng.uniform(0.2, 3.0, size=300) if weighted else None
    return Evaluator(Problem(X, y, weights, ("a", "b")), OPERATORS)


def _fit(tree, evaluator, compiled, monkeypatch):
    monkeypatch.setattr(constants, "COMPILED_LEVENBERG_MARQUARDT", compiled)
    return optimize_constants(tree, evaluator(tree), evaluator, random.Random(0), algorithm="LM", iterations=12,
                              nrestarts=1)


@pytest.mark.parametrize("text", TREES)
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_lm_matches_python(text, weighted, monkeypatch):
    evaluator = _evaluator(weighted)
    tree = parse(text, OPERATORS.by_name(), 2)
    start_loss = evaluator(tree)
    compiled_tree, compiled_loss, _ = _fit(tree, evaluator, True, monkeypatch)
    python_tree, python_loss, _ = _fit(tree, evaluator, False, monkeypatch)
    assert compiled_loss < start_loss
    assert compiled_loss == pytest.approx(python_loss, rel=1e-8)
    np.testing.assert_allclose([v for _, v in compiled_tree], [v for _, v in python_tree], rtol=1e-6, atol=1e-9)


def test_compiled_lm_loss_matches_evaluator():
    evaluator = _evaluator(True)
    tree = parse(TREES[0], OPERATORS.by_name(), 2)
    fitted, loss, calls = optimize_constants(tree, evaluator(tree), evaluator, random.Random(0), algorithm="LM",
                                             iterations=20, nrestarts=0)
    assert loss == pytest.approx(evaluator(fitted), rel=1e-12)
    assert calls > 1


def test_compiled_lm_invalid_start_keeps_tree():
    evaluator = _evaluator(False)
    tree = parse("c-1.0 f0 * sqrt", build_operator_set(["*"], ["sqrt"]).by_name(), 2)
    fitted, loss, _ = optimize_constants(tree, evaluator(tree), evaluator, random.Random(0), algorithm="LM",
                                         nrestarts=0)
    assert fitted == tree
    assert loss == np.inf


def test_auto_algorithm_uses_lm_under_l2():
    evaluator = _evaluator(False)
    tree = parse(TREES[0], OPERATORS.by_name(), 2)
    results = {}
    for algorithm in ("auto", "LM", "BFGS"):
        results[algorithm] = optimize_constants(tree, evaluator(tree), evaluator, random.Random(0),
                                                algorithm=algorithm, iterations=4, nrestarts=0)
    assert results["auto"] == results["LM"]
    assert results["auto"][0] != results["BFGS"][0]


def test_optimizer_algorithm_option_values():
    from symdistill.sr.options import SearchOptions

    assert SearchOptions().optimizer_algorithm == "auto"
    with pytest.raises(ValueError, match="optimizer_algorithm='Newton' is invalid"):
        SearchOptions(optimizer_algorithm="Newton")
