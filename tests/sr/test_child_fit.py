"""Levenberg-Marquardt on mutated children inside the compiled evolution loop."""

import numpy as np

from symdistill.sr import _evolve
from symdistill.sr._kernels import LOSS_L2, program_loss
from symdistill.sr.backends.base import Problem
from symdistill.sr.operators import build_operator_set
from symdistill.sr.options import SearchOptions
from symdistill.sr.search import run_search
from symdistill.sr.tree import parse, to_program

OPERATORS = build_operator_set(binary=["+", "-", "*", "/"], unary=["exp"])
NAMES = OPERATORS.by_name()


def _arrays(text):
    tree = parse(text, NAMES, 1)
    c = np.array([code for code, _ in tree] + [0] * 8, dtype=np.int64)
    v = np.array([value for _, value in tree] + [0.0] * 8)
    program = np.zeros((len(c), 2))
    program[: len(tree)] = to_program(tree)
    return tree, c, v, program


def test_fit_child_fits_all_constants():
    x = np.linspace(-1, 1, 200)
    Xt, y, w = x[None, :], 2.0 * np.exp(-1.5 * x) + 0.5, np.empty(0)
    tree, c, v, program = _arrays("c1.0 c0.1 f0 * exp * c0.0 +")
    n = len(tree)
    loss = program_loss(program[:n], Xt, y, w, LOSS_L2, 1.0, np.empty(0, np.int64), np.empty(0), np.empty(200))
    positions = np.empty(len(c), dtype=np.int64)
    fitted, calls = _evolve._fit_child(c, v, n, loss, program, positions, Xt, y, w, 50)
    assert calls > 1
    assert fitted < 1e-12 < loss
    np.testing.assert_allclose(v[[0, 1, 6]], [2.0, -1.5, 0.5], rtol=1e-6)
    # An exact start cannot improve, so the constants stay as they are.
    before = v.copy()
    again, _ = _evolve._fit_child(c, v, n, 0.0, program, positions, Xt, y, w, 50)
    assert again == 0.0
    assert np.array_equal(v, before)


def test_fit_child_skips_trees_without_constants():
    tree, c, v, program = _arrays("f0 f0 *")
    positions = np.empty(len(c), dtype=np.int64)
    x = np.linspace(0, 1, 10)
    assert _evolve._fit_child(c, v, len(tree), 0.5, program, positions, x[None, :], x, np.empty(0), 8) == (0.5, 0)


def test_child_fitting_is_deterministic_and_active():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, size=(100, 2))
    problem = Problem(X, 1.0 / (np.exp(0.7 * X[:, 0]) - 1.0) + X[:, 1], None, ("a", "b"))

    def search(probability):
        options = SearchOptions(binary_operators=("+", "-", "*", "/"), unary_operators=("exp",), populations=2,
                                population_size=16, tournament_selection_n=4, niterations=3,
                                ncycles_per_iteration=40, child_optimize_probability=probability,
                                random_state=3, procs=1)  # fmt: skip
        return run_search(problem, options)

    first, second, off = search(0.5), search(0.5), search(0.0)
    assert first.hall_of_fame.entries == second.hall_of_fame.entries
    assert first.n_evaluations == second.n_evaluations
    assert first.n_evaluations != off.n_evaluations
