"""pyoperon backend: option translation, infix parsing, end-to-end search."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symdistill.sr.backends.base import Problem, get_backend
from symdistill.sr.backends.operon import (
    OPERON_SYMBOLS,
    OperonBackend,
    operon_allowed_symbols,
    parse_operon_infix,
)
from symdistill.sr.operators import custom_operator, lookup
from symdistill.sr.options import SearchOptions


def _problem(n_rows=200, weights=None, receivers=None, names=("x0", "x1", "x2"), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 2.0, size=(n_rows, len(names)))
    y = X[:, 0] * X[:, 1] + X[:, 2]
    return Problem(X=X, y=y, weights=weights, variable_names=tuple(names), receivers=receivers)


def test_operator_table_names_are_builtin():
    for name in OPERON_SYMBOLS:
        assert lookup(name).name == name


def test_allowed_symbols_translation():
    options = SearchOptions(binary_operators=["+", "*", "/", "^"], unary_operators=["exp", "cbrt", "square"])
    symbols = operon_allowed_symbols(options).split(",")
    assert set(symbols) == {"add", "mul", "div", "pow", "exp", "cbrt", "square", "constant", "variable"}


@pytest.mark.parametrize("operator", [">", "<"])
def test_comparisons_rejected(operator):
    options = SearchOptions(binary_operators=["+", operator])
    with pytest.raises(ValueError, match=f"no primitive for operator.*'{operator}'"):
        operon_allowed_symbols(options)


def test_parse_every_operator():
    names = ["x", "y"]
    text = (
        "((1.5 * _v0_) + (_v1_ - 2.000000000000)) * (_v0_ / _v1_) + (_v0_ ^ 2) + (_v0_ ^ (-0.5 * _v1_)) "
        "+ exp(_v0_) + log(_v1_) + sqrt(_v0_) + abs(_v1_) + sin(_v0_) + cos(_v1_) + tanh(_v0_) "
        "+ square(_v1_) + cbrt(_v0_) + 1e-05"
    )
    expr = parse_operon_infix(text, names)
    x, y = sp.symbols("x y")
    expected = (
        (1.5 * x + y - 2) * (x / y) + x**2 + x ** (-0.5 * y) + sp.exp(x) + sp.log(y) + sp.sqrt(x) + sp.Abs(y)
        + sp.sin(x) + sp.cos(y) + sp.tanh(x) + y**2 + sp.sign(x) * sp.Abs(x) ** sp.Rational(1, 3) + 1e-05
    )
    assert sp.simplify(expr - expected) == 0


def test_parse_real_cube_root():
    expr = parse_operon_infix("cbrt(_v0_)", ["x"])
    assert float(expr.subs(sp.Symbol("x"), -8)) == pytest.approx(-2.0)


def test_parse_clashing_names_stay_symbols():
    names = ["I", "E", "lambda", "my var"]
    expr = parse_operon_infix("(_v0_ * _v1_) + (_v2_ / _v3_)", names)
    assert {s.name for s in expr.free_symbols} == set(names)
    assert not expr.has(sp.I)
    assert not expr.has(sp.E)


def test_parse_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"unknown names \['X1'\]"):
        parse_operon_infix("X1 + _v0_", ["x"])


def test_check_lists_every_unsupported_option():
    backend = OperonBackend()
    problem = _problem(weights=np.ones(200))
    options = SearchOptions(
        binary_operators=["+", "*", ">"],
        elementwise_loss="Huber",
        constraints={"^": (-1, 1)},
        early_stop_condition=1e-6,
    )
    with pytest.raises(ValueError) as info:
        backend.check(problem, options)
    message = str(info.value)
    for fragment in ("'>'", "sample weights", "Huber", "constraints", "early_stop_condition"):
        assert fragment in message


@pytest.mark.parametrize("batching", [True, False, "auto"])
def test_check_ignores_batching(batching):
    OperonBackend().check(_problem(), SearchOptions(batching=batching))


def test_check_rejects_graph_loss():
    problem = _problem(receivers=np.zeros(200, dtype=np.int64))
    with pytest.raises(ValueError, match="graph-aggregated loss"):
        OperonBackend().check(problem, SearchOptions())


def test_check_rejects_custom_loss_and_operator():
    def loss_function(prediction, dataset):
        return float(np.mean(np.abs(prediction - dataset.y)))

    mysqrt = custom_operator("mysqrt", 1, np.sqrt, sp.sqrt)
    with pytest.raises(ValueError, match="custom loss_function") as info:
        OperonBackend().check(_problem(), SearchOptions(unary_operators=[mysqrt], loss_function=loss_function))
    assert "mysqrt" in str(info.value)


def test_regressor_parameters_translation():
    options = SearchOptions(
        binary_operators=["+", "*"],
        maxsize=25,
        maxdepth=8,
        elementwise_loss="L1",
        timeout_in_seconds=7.9,
        max_evals=50_000,
        populations=4,
        population_size=50,
        random_state=3,
        procs=2,
    )
    parameters = OperonBackend().regressor_parameters(_problem(), options)
    assert parameters["objectives"] == ["mae", "length"]
    assert parameters["max_length"] == 25
    assert parameters["max_depth"] == 8
    assert parameters["max_time"] == 7
    assert parameters["max_evaluations"] == 50_000
    assert parameters["population_size"] == 200
    assert parameters["generations"] == 250
    assert parameters["random_state"] == 3
    assert parameters["n_threads"] == 2


def test_short_timeout_rounds_up_to_one_second():
    parameters = OperonBackend().regressor_parameters(_problem(), SearchOptions(timeout_in_seconds=0.2))
    assert parameters["max_time"] == 1
    assert parameters["objectives"][0] == "r2"


# --- End-to-end, with pyoperon installed -------------------------------------


@pytest.fixture(scope="module")
def operon_result():
    pytest.importorskip("pyoperon")
    problem = _problem(names=("m", "beta", "I"))
    options = SearchOptions(
        binary_operators=["+", "-", "*", "/"],
        populations=4,
        population_size=50,
        max_evals=40_000,
        random_state=0,
        procs=1,
    )
    backend = get_backend("operon")
    return problem, options, backend, backend.search(problem, options)


def test_search_finds_exact_model(operon_result):
    problem, _, _, candidates = operon_result
    assert candidates
    best = min(candidates, key=lambda c: c.loss)
    # Operon fits float32 constants, so an exact model keeps a loss near 1e-9.
    assert best.loss < 1e-6
    m, beta, i = sp.symbols("m beta I")
    assert best.expression.free_symbols == {m, beta, i}


def test_candidate_losses_match_expressions(operon_result):
    problem, _, _, candidates = operon_result
    symbols = problem.symbols
    for candidate in candidates:
        prediction = sp.lambdify(symbols, candidate.expression, "numpy")(*problem.X.T)
        expected = float(np.mean((np.broadcast_to(prediction, problem.y.shape) - problem.y) ** 2))
        assert candidate.loss == pytest.approx(expected, rel=1e-9, abs=1e-15)
    complexities = [c.complexity for c in candidates]
    assert complexities == sorted(set(complexities))


def test_search_is_deterministic(operon_result):
    problem, options, backend, candidates = operon_result
    again = backend.search(problem, options)
    assert [(c.complexity, c.loss, str(c.expression)) for c in again] == [
        (c.complexity, c.loss, str(c.expression)) for c in candidates
    ]
    assert backend.last_run["generations"] > 0
