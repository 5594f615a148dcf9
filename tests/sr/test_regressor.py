"""SymbolicRegressor: fit, predict, exports, parameters and input validation."""

import inspect

import numpy as np
import pandas as pd
import pytest
import sympy

from symdistill.sr import SymbolicRegressor


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (300, 2))
    y = 2.5 * np.cos(X[:, 0]) + X[:, 1] ** 2
    model = SymbolicRegressor(
        unary_operators=["cos"], niterations=30, early_stop_condition=1e-12, random_state=0, procs=1
    )
    model.fit(X, y, variable_names=["a", "b"])
    return model, X, y


def test_fit_recovers_expression(fitted):
    model, X, _ = fitted
    a, b = sympy.symbols("a b")
    function = sympy.lambdify((a, b), model.sympy() - (2.5 * sympy.cos(a) + b**2), modules="numpy")
    assert np.max(np.abs(function(*X.T))) < 1e-9


def test_equations_table_columns(fitted):
    model, _, _ = fitted
    assert list(model.equations_.columns) == ["complexity", "loss", "score", "equation", "sympy"]
    assert model.equations_["complexity"].is_monotonic_increasing
    assert model.equations_["loss"].is_monotonic_decreasing


def test_predict_matches_sympy_and_search_loss(fitted):
    model, X, y = fitted
    symbols = model.symbols()
    for index in range(len(model.equations_)):
        predicted = model.predict(X, index=index)
        function = sympy.lambdify(symbols, model.sympy(index), modules="numpy")
        np.testing.assert_allclose(predicted, np.broadcast_to(function(*X.T), predicted.shape), rtol=1e-9, atol=1e-9)
        assert np.mean((predicted - y) ** 2) == pytest.approx(model.equations_["loss"][index], rel=1e-9, abs=1e-20)


def test_get_best_and_latex(fitted):
    model, _, _ = fitted
    best = model.get_best()
    assert best["equation"] == model.equations_["equation"][model.selected_index_]
    assert "\\cos" in model.latex()


def test_predict_wrong_width_rejected(fitted):
    model, _, _ = fitted
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.zeros((3, 5)))


def test_index_out_of_range(fitted):
    model, _, _ = fitted
    with pytest.raises(IndexError, match="out of range"):
        model.sympy(index=99)


def test_not_fitted_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        SymbolicRegressor().predict(np.zeros((2, 2)))


def test_parameters_follow_pysr_names():
    names = set(inspect.signature(SymbolicRegressor.__init__).parameters) - {"self"}
    for name in (
        "binary_operators",
        "unary_operators",
        "maxsize",
        "niterations",
        "populations",
        "population_size",
        "timeout_in_seconds",
        "model_selection",
        "elementwise_loss",
        "loss_function",
        "random_state",
        "deterministic",
    ):
        assert name in names


def test_get_set_params_round_trip():
    model = SymbolicRegressor(maxsize=12)
    assert model.get_params()["maxsize"] == 12
    model.set_params(maxsize=15)
    assert model.maxsize == 15
    clone = SymbolicRegressor(**model.get_params())
    assert clone.get_params() == model.get_params()


def test_unknown_parameter_rejected():
    with pytest.raises(TypeError, match="nitrations"):
        SymbolicRegressor(nitrations=3)


def test_pandas_columns_become_names(fast):
    frame = pd.DataFrame({"my x": np.linspace(1, 2, 30), "z": np.linspace(0, 1, 30)})
    model = SymbolicRegressor(niterations=2, **fast).fit(frame, 2 * frame["my x"].to_numpy())
    assert model.variable_names_ == ("my x", "z")


@pytest.mark.parametrize(
    "X, y, kwargs, match",
    [
        (np.array([[1.0], [np.nan]]), np.array([1.0, 2.0]), {}, "NaN or infinite.*row 1"),
        (np.array([[1.0], [2.0]]), np.array([1.0, np.inf]), {}, "y contains"),
        (np.ones((3, 1)), np.ones(2), {}, "3 rows but y has 2"),
        (np.ones((0, 1)), np.ones(0), {}, "no rows"),
        (np.ones((2, 2)), np.ones(2), dict(variable_names=["a"]), "1 names"),
        (np.ones((2, 2)), np.ones(2), dict(variable_names=["a", "a"]), "duplicates"),
        (np.ones((2, 1)), np.ones(2), dict(weights=[1.0, -1.0]), ">= 0"),
        (np.ones((2, 1)), np.ones(2), dict(receivers=[0, 5]), r"\[0, 2\)"),
        (np.ones((2, 1)), np.ones(1), dict(receivers=[0, 0], node_divisor=[0.0]), "zero"),
    ],
)
def test_bad_input_named(X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        SymbolicRegressor(niterations=1, procs=1).fit(X, y, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(binary_operators=["+", "foo"]), "unknown operator 'foo'"),
        (dict(maxsize=2), "maxsize=2"),
        (dict(model_selection="median"), "model_selection"),
        (dict(elementwise_loss="L7"), "L7"),
        (dict(population_size=5, tournament_selection_n=8), "tournament_selection_n"),
        (dict(mutation_weights={"teleport": 1.0}), "teleport"),
    ],
)
def test_impossible_options_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SymbolicRegressor(**kwargs).fit(np.ones((3, 1)), np.ones(3))


def test_unknown_backend_lists_names():
    with pytest.raises(ValueError, match="registered backends"):
        SymbolicRegressor(backend="nope").fit(np.ones((3, 1)), np.ones(3))


def test_weights_change_fit(fast):
    x = np.linspace(0, 1, 40)[:, None]
    y = np.where(x[:, 0] < 0.5, 1.0, 3.0)
    weights = np.where(x[:, 0] < 0.5, 100.0, 1.0)
    model = SymbolicRegressor(niterations=3, maxsize=5, model_selection="accuracy", **fast)
    model.fit(x, y, weights=weights)
    constant = float(model.predict(x, index=0)[0])
    assert constant < 1.2


def test_warm_start_from_equation_file(tmp_path, fast):
    x = np.linspace(1, 2, 50)
    X = np.stack([x, x**2], axis=1)
    y = 3.0 * x * x + x
    path = tmp_path / "hof.csv"
    first = SymbolicRegressor(niterations=3, equation_file=str(path), random_state=1, **fast).fit(X, y)
    assert path.exists()
    second = SymbolicRegressor(niterations=0, equation_file=str(path), warm_start=True, random_state=2, **fast)
    second.fit(X, y)
    # Combining constants in the seeds may change the last bits of the loss.
    assert second.equations_["loss"].min() <= first.equations_["loss"].min() * (1 + 1e-9)


def test_torch_export_matches_predict(fitted):
    pytest.importorskip("torch")
    import torch

    model, X, _ = fitted
    module = model.torch()
    with torch.no_grad():
        values = module(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(values, model.predict(X), rtol=1e-6, atol=1e-9)


def test_import_sr_does_not_load_torch():
    import subprocess
    import sys

    code = "import sys, symdistill.sr, symdistill.sr.regressor, symdistill.sr.search; print('torch' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"


def test_sklearn_clone_keeps_parameters():
    base = pytest.importorskip("sklearn.base")
    model = SymbolicRegressor(maxsize=11, unary_operators=["exp"])
    copy = base.clone(model)
    assert copy.get_params() == model.get_params()
    assert copy is not model


@pytest.mark.parametrize(
    "guess, binary, unary",
    [
        ("m1*m2*dx/r**3", ["+", "-", "*", "/"], []),
        ("N - 2*exp(-S) + sqrt(N)/S**2", ["+", "-", "*", "/"], ["exp", "sqrt"]),
        ("cos(N)**2 - 1/S", ["-", "*", "/", "^"], ["cos"]),
    ],
)
def test_guess_conversion_keeps_values(guess, binary, unary):
    from symdistill.sr import _kernels
    from symdistill.sr.from_sympy import tree_from_sympy
    from symdistill.sr.operators import build_operator_set
    from symdistill.sr.tree import to_program

    names = ["m1", "m2", "dx", "r"] if "m1" in guess else ["N", "S"]
    operator_set = build_operator_set(binary=binary, unary=unary)
    tree = tree_from_sympy(guess, operator_set, names)
    X = np.random.default_rng(0).uniform(0.5, 2, (50, len(names)))
    out = np.empty(50)
    assert _kernels.evaluate_program(to_program(tree), np.ascontiguousarray(X.T), out)
    function = sympy.lambdify([sympy.Symbol(n) for n in names], sympy.sympify(guess, locals={n: sympy.Symbol(n) for n in names}))
    np.testing.assert_allclose(out, function(*X.T), rtol=1e-12)


def test_guess_needing_missing_operator_rejected():
    with pytest.raises(ValueError, match="'exp'"):
        SymbolicRegressor(guesses=["exp(x0)"], niterations=1, procs=1).fit(np.ones((3, 1)), np.ones(3))


def test_guess_seeds_search(fast):
    rng = np.random.default_rng(3)
    X = rng.uniform(0.5, 2, (200, 3))
    y = X[:, 0] * X[:, 1] / X[:, 2] ** 2 + 1.5
    model = SymbolicRegressor(guesses=["a*b/c**2 + 1.5"], niterations=0, **fast)
    model.fit(X, y, variable_names=["a", "b", "c"])
    assert model.equations_["loss"].min() < 1e-20
