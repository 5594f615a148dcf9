"""Snapping fitted constants to integers, fractions and multiples of pi."""

import math
import random

import numpy as np
import pytest
import sympy

from symdistill.sr.backends.base import Problem
from symdistill.sr.constants import optimize_constants
from symdistill.sr.evaluator import Evaluator
from symdistill.sr.operators import CONST, FEATURE, MUL, SUB, build_operator_set
from symdistill.sr.snapping import exact_value, simple_candidates, snap_constants
from symdistill.sr.tree import constants_of, to_sympy

OPERATORS = build_operator_set(binary=["+", "-", "*", "/"], unary=["sin"])
SIN = OPERATORS.by_name()["sin"].code
SYMBOLS = sympy.symbols("x0 x1")


def _evaluator(y_of, loss="L2"):
    rng = np.random.default_rng(0)
    X = rng.uniform(1.0, 5.0, size=(300, 2))
    problem = Problem(X, y_of(X[:, 0], X[:, 1]), None, ("x0", "x1"))
    return Evaluator(problem, OPERATORS, loss)


def _phase_tree(phase):
    # x0 * sin(x1 - phase)
    return ((FEATURE, 0.0), (FEATURE, 1.0), (CONST, phase), (SUB, 0.0), (SIN, 0.0), (MUL, 0.0))


def test_exact_value_recognises_only_exact_floats():
    assert exact_value(math.pi / 2) == sympy.pi / 2
    assert exact_value(-5 * math.pi / 2) == -5 * sympy.pi / 2
    assert exact_value(1 / 3) == sympy.Rational(1, 3)
    assert exact_value(3.0) == sympy.Integer(3)
    assert exact_value(1 / (4 * math.pi)) == 1 / (4 * sympy.pi)
    assert exact_value(math.pi / 2 + 1e-12) is None
    assert exact_value(0.123456789) is None
    assert exact_value(math.inf) is None


def test_simple_candidates_are_nearest_of_each_kind():
    assert simple_candidates(1.5707) == [2.0, 11 / 7, math.pi / 2, 59 / (12 * math.pi)]
    assert simple_candidates(0.15915) == [0.0, 1 / 6, math.pi / 12, 1 / (2 * math.pi)]
    assert math.nan not in simple_candidates(math.nan)


@pytest.mark.parametrize("loss", ["L2", "L1"])
def test_fitted_half_pi_snaps_to_exact_value(loss):
    evaluator = _evaluator(lambda x0, x1: -x0 * np.cos(x1), loss)
    start = _phase_tree(1.4)
    fitted, fitted_loss, _ = optimize_constants(start, evaluator(start), evaluator, random.Random(0), algorithm="BFGS",
                                                iterations=200, nrestarts=0)  # fmt: skip
    assert constants_of(fitted)[0] == pytest.approx(math.pi / 2, abs=1e-6)
    snapped, snapped_loss, calls = snap_constants(fitted, fitted_loss, evaluator)
    assert calls > 1
    assert constants_of(snapped)[0] == math.pi / 2
    assert snapped_loss <= fitted_loss * (1 + 1e-9) + 1e-20
    x0, x1 = SYMBOLS
    assert to_sympy(snapped, OPERATORS.by_code(), SYMBOLS) == -x0 * sympy.cos(x1)


def test_snap_that_worsens_the_loss_is_refused():
    # The true phase 1.56 is 0.011 away from pi/2: snapping it would cost loss.
    evaluator = _evaluator(lambda x0, x1: x0 * np.sin(x1 - 1.56))
    tree = _phase_tree(1.56)
    loss = evaluator(tree)
    snapped, snapped_loss, calls = snap_constants(tree, loss, evaluator)
    assert calls == 1 + len(simple_candidates(1.56))
    assert snapped == tree
    assert snapped_loss == loss


def test_snap_keeps_exact_values_and_invalid_trees():
    evaluator = _evaluator(lambda x0, x1: x0 * np.sin(x1 - 1.0))
    exact = _phase_tree(math.pi / 2)
    assert snap_constants(exact, evaluator(exact), evaluator)[0] == exact
    assert snap_constants(exact, math.inf, evaluator) == (exact, math.inf, 0)


@pytest.mark.parametrize("snap", [True, False])
def test_search_snaps_hall_of_fame_when_asked(snap, fast):
    from symdistill.sr.options import SearchOptions
    from symdistill.sr.search import run_search

    evaluator = _evaluator(lambda x0, x1: -x0 * np.cos(x1))
    seed = _phase_tree(math.pi / 2 + 3e-15)
    options = SearchOptions(binary_operators=["+", "-", "*", "/"], unary_operators=["sin"], niterations=0,
                            snap_constants=snap, **fast)  # fmt: skip
    result = run_search(evaluator.problem, options, seeds=[seed])
    loss, tree = result.hall_of_fame.entries[len(seed)]
    assert constants_of(tree)[0] == (math.pi / 2 if snap else math.pi / 2 + 3e-15)
