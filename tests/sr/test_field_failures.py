"""Failure kinds reported by users of other SR tools, each with its expected outcome.

Each test is one kind of field failure with a small input and the value symdistill
must produce.
"""

import math
import time
import warnings

import numpy as np
import pytest
import sympy

from symdistill.sr import SymbolicRegressor
from symdistill.sr.operators import custom_operator


def test_overflow_search_finishes(fast):
    # cos(exp(x0)) overflows for x0 ~ U(0, 100): such candidates get infinite loss.
    rng = np.random.default_rng(0)
    X = np.stack([rng.uniform(0, 100, 500), rng.normal(size=500)], axis=1)
    y = np.cos(X[:, 1]) + X[:, 0] / 50
    model = SymbolicRegressor(binary_operators=["+", "*"], unary_operators=["exp", "cos", "sin"], niterations=4, **fast)
    model.fit(X, y)
    assert np.all(np.isfinite(model.equations_["loss"]))
    assert model.equations_["loss"].min() < np.var(y)


def test_custom_operator_domain_error_guarded(fast):
    # A square root that raises below 0 never crashes the search.
    def strict_sqrt(a):
        if np.any(a < 0):
            raise ValueError("math domain error")
        return np.sqrt(a)

    mysqrt = custom_operator("mysqrt", 1, strict_sqrt, sympy.sqrt)
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 10, (200, 1))
    y = np.sqrt(X[:, 0])
    model = SymbolicRegressor(
        binary_operators=["+", "-", "*"], unary_operators=[mysqrt], niterations=20, early_stop_condition=1e-20, **fast
    )
    model.fit(X, y)
    assert model.equations_["loss"].min() < 1e-20
    x0 = sympy.Symbol("x0")
    assert any(sympy.simplify(expr - sympy.sqrt(x0)) == 0 for expr in model.equations_["sympy"])


def test_comparison_exports_numeric(fast):
    # y = (x0 > 4) - x0: internal, predict, sympy and torch agree on every row.
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 8, (300, 1))
    y = (X[:, 0] > 4).astype(float) - X[:, 0]
    model = SymbolicRegressor(binary_operators=[">", "-", "+"], niterations=30, early_stop_condition=1e-20, **fast)
    model.fit(X, y)
    assert model.equations_["loss"].min() < 1e-20
    expression = model.sympy(index=int(np.argmin(model.equations_["loss"])))
    assert expression.has(sympy.Piecewise)
    function = sympy.lambdify(model.symbols(), expression, modules="numpy")
    predicted = model.predict(X, index=int(np.argmin(model.equations_["loss"])))
    np.testing.assert_allclose(function(*X.T), predicted, atol=1e-12)
    np.testing.assert_allclose(predicted, y, atol=1e-9)
    assert float((expression + 1).subs(model.symbols()[0], 5.0)) == pytest.approx(1 - 5 + 1)
    torch = pytest.importorskip("torch")
    for index, candidate in enumerate(model.equations_["sympy"]):
        # NOTE: a comparison of a comparison becomes a sympy ITE condition, which the
        # torch exporter does not translate yet, so such rows are left out here.
        if candidate.has(sympy.ITE):
            continue
        module = model.torch(index=index)
        with torch.no_grad():
            np.testing.assert_allclose(module(torch.as_tensor(X)).numpy(), model.predict(X, index=index), atol=1e-9)


def test_cbrt_agrees_everywhere(fast):
    # Odd roots of negatives: predict and the sympy export agree to 1e-6.
    rng = np.random.default_rng(3)
    X = rng.uniform(-5, 5, (200, 1))
    y = np.cbrt(X[:, 0])
    model = SymbolicRegressor(
        binary_operators=["+", "*"], unary_operators=["cbrt"], niterations=20, early_stop_condition=1e-20, **fast
    )
    model.fit(X, y)
    index = int(np.argmin(model.equations_["loss"]))
    assert model.equations_["loss"][index] < 1e-20
    function = sympy.lambdify(model.symbols(), model.sympy(index), modules="numpy")
    np.testing.assert_allclose(function(*X.T), model.predict(X, index=index), atol=1e-6)
    np.testing.assert_allclose(model.predict(X, index=index), y, atol=1e-6)
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        values = model.torch(index=index)(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(values, model.predict(X, index=index), atol=1e-6)


def test_square_through_pow_recovered():
    # x0^2 with "^" on data with negative x0: a non-integer exponent is NaN there.
    rng = np.random.default_rng(4)
    X = 8 * rng.normal(size=(300, 1))
    y = X[:, 0] ** 2
    model = SymbolicRegressor(
        binary_operators=["+", "^"],
        unary_operators=["cos", "exp"],
        maxsize=7,
        niterations=15,
        populations=6,
        procs=1,
        early_stop_condition=1e-20,
    )
    model.fit(X, y)
    best = model.sympy()
    assert sympy.simplify(best - sympy.Symbol("x0") ** 2) == 0
    assert model.get_best()["loss"] < 1e-20


def test_huge_target_has_finite_losses(fast):
    # y up to ~1e23 stays finite in float64, with a warning about the range.
    rng = np.random.default_rng(5)
    X = rng.integers(0, 10, (1000, 4)).astype(float)
    y = 2.0 ** X[:, 0] * 3.0 ** X[:, 1] * 5.0 ** X[:, 2] * 7.0 ** X[:, 3]
    model = SymbolicRegressor(binary_operators=["+", "*", "^"], niterations=3, **fast)
    with pytest.warns(RuntimeWarning, match="rescaling"):
        model.fit(X, y)
    assert np.all(np.isfinite(model.equations_["loss"]))
    assert model.equations_["complexity"].max() > 1


def test_custom_loss_sees_only_complete_predictions(fast):
    # Angle between prediction and target vectors; the stored loss is reproducible.
    seen_non_finite = []

    def angle(prediction, dataset):
        seen_non_finite.append(not np.all(np.isfinite(prediction)))
        norm = np.linalg.norm(prediction) * np.linalg.norm(dataset.y)
        if norm == 0:
            return math.pi
        return float(np.arccos(np.clip(prediction @ dataset.y / norm, -1, 1)))

    rng = np.random.default_rng(6)
    X = rng.uniform(0, 1, (30, 4))
    y = (X[:, 0] * X[:, 3] - X[:, 2] * X[:, 1]) ** 3
    model = SymbolicRegressor(
        binary_operators=["+", "-", "*", "/"], unary_operators=["log"], loss_function=angle, niterations=3, **fast
    )
    model.fit(X, y)
    assert not any(seen_non_finite)

    class Dataset:
        pass

    dataset = Dataset()
    dataset.y = y
    for index in range(len(model.equations_)):
        function = sympy.lambdify(model.symbols(), model.sympy(index), modules="numpy")
        prediction = np.broadcast_to(np.asarray(function(*X.T), dtype=float), y.shape)
        assert angle(prediction, dataset) == pytest.approx(model.equations_["loss"][index], rel=1e-9, abs=1e-12)


def _row8_data():
    rng = np.random.default_rng(0)
    X = 2 * rng.normal(size=(1000, 2))
    y = 3 * np.cos(X[:, 1]) + X[:, 0] ** 2 - 2
    return X, y


def _row8_fit(procs):
    X, y = _row8_data()
    model = SymbolicRegressor(
        binary_operators=["+", "*", "/", "-"],
        unary_operators=["cos"],
        niterations=2,
        populations=3,
        population_size=20,
        tournament_selection_n=8,
        ncycles_per_iteration=50,
        random_state=0,
        procs=procs,
    )
    model.fit(X, y)
    return list(zip(model.equations_["equation"], model.equations_["loss"]))


def test_same_seed_same_hall_of_fame():
    assert _row8_fit(1) == _row8_fit(1)


def test_same_seed_any_process_count():
    # Islands carry their own random streams and merge in a fixed order, so the
    # process count does not change the result.
    assert _row8_fit(1) == _row8_fit(2)


def test_timeout_returns_promptly(tmp_path):
    # 200,000 rows, 5 s budget: returns within the budget plus bounded slack, front saved.
    rng = np.random.default_rng(9)
    X = rng.normal(size=(200_000, 5))
    y = np.sin(X[:, 0]) * X[:, 1]
    path = tmp_path / "hof.csv"
    model = SymbolicRegressor(
        unary_operators=["sin"], niterations=10_000, timeout_in_seconds=5, equation_file=str(path), procs=1
    )
    # The timeout covers the search, not the one-time Numba compilation of a fresh
    # environment, so compile first on a tiny problem.
    SymbolicRegressor(unary_operators=["sin"], niterations=1, populations=1, procs=1).fit(X[:10], y[:10])
    started = time.monotonic()
    model.fit(X, y)
    elapsed = time.monotonic() - started
    assert model.stop_reason_ == "timeout"
    assert elapsed < 5 + 4  # validation, setup and the final hall-of-fame merge
    assert len(path.read_text().splitlines()) >= 2


def test_clashing_feature_names():
    # Names that are sympy or Python names map to plain symbols; export and predict work.
    rng = np.random.default_rng(10)
    X = rng.uniform(1, 2, (100, 4))
    names = ["N", "S", "exec", "beta"]
    y = X[:, 0] * X[:, 1] + X[:, 2]
    model = SymbolicRegressor(
        binary_operators=["+", "*"], niterations=40, populations=8, procs=1, early_stop_condition=1e-20
    )
    model.fit(X, y, variable_names=names)
    expression = model.sympy(index=int(np.argmin(model.equations_["loss"])))
    N, S, exec_ = sympy.Symbol("N"), sympy.Symbol("S"), sympy.Symbol("exec")
    assert {symbol.name for symbol in expression.free_symbols} <= {"N", "S", "exec"}
    difference = sympy.lambdify((N, S, exec_), expression - (N * S + exec_), modules="numpy")
    assert np.max(np.abs(difference(*X[:, :3].T))) < 1e-12
    np.testing.assert_allclose(model.predict(X, index=int(np.argmin(model.equations_["loss"]))), y, rtol=1e-12)
    assert "exec" in model.latex(index=int(np.argmin(model.equations_["loss"])))


def test_single_row_finite(fast):
    X = np.array([[2.0, math.pi, math.e]])
    y = np.array([2.2214414691])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = SymbolicRegressor(niterations=2, **fast).fit(X, y)
    assert np.all(np.isfinite(model.equations_["loss"]))
    assert np.all(np.isfinite(model.equations_["score"]))


def test_constant_target_returns_constant(fast):
    X = np.ones((100, 1))
    y = np.full(100, 4.2)
    model = SymbolicRegressor(niterations=3, early_stop_condition=0.0, **fast).fit(X, y)
    assert model.get_best()["loss"] == 0.0
    assert float(model.sympy()) == pytest.approx(4.2, abs=1e-12)
    assert np.all(np.isfinite(model.equations_["score"]))


def _force_law_edges(n_edges, seed):
    rng = np.random.default_rng(seed)
    dx, dy = rng.uniform(-1, 1, (2, n_edges))
    r = np.sqrt(dx**2 + dy**2) + 0.1
    m1, m2 = rng.uniform(0.5, 2, (2, n_edges))
    X = np.stack([dx, dy, r, m1, m2], axis=1)
    truth = m1 * m2 * dx / r**3
    return X, truth, rng


def _matches_force_law(model, X, truth):
    prediction = model.predict(X)
    return np.median(np.abs(prediction - truth) / np.abs(truth)) < 0.02


@pytest.mark.slow
def test_force_law_from_edges():
    # 5,000 noisy rows, L1 loss, 60 s budget.
    X, truth, rng = _force_law_edges(5000, 0)
    y = truth * (1 + 0.01 * rng.standard_normal(truth.size))
    model = SymbolicRegressor(elementwise_loss="L1", niterations=200, timeout_in_seconds=60, random_state=0)
    model.fit(X, y, variable_names=["dx", "dy", "r", "m1", "m2"])
    assert _matches_force_law(model, X, truth)


@pytest.mark.slow
def test_force_law_through_graph_loss():
    # Node targets are sums of the noisy edge law over 4 incoming edges, divided by mass.
    X, truth, rng = _force_law_edges(5000, 1)
    receivers = np.repeat(np.arange(1250), 4)
    mass = rng.uniform(0.5, 2, 1250)
    node_targets = np.bincount(receivers, weights=truth, minlength=1250) / mass
    node_targets = node_targets * (1 + 0.01 * rng.standard_normal(node_targets.size))
    model = SymbolicRegressor(elementwise_loss="L1", niterations=200, timeout_in_seconds=60, random_state=0)
    model.fit(X, node_targets, variable_names=["dx", "dy", "r", "m1", "m2"], receivers=receivers, node_divisor=mass)
    assert _matches_force_law(model, X, truth)
