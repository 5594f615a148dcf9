"""SympyModule: numerics against sympy.lambdify, gradients, constant read-back."""

from __future__ import annotations

import copy
import io
import pickle

import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

from symdistill.sr.export_torch import SympyModule  # noqa: E402
from symdistill.sr.operators import BUILTIN_OPERATORS  # noqa: E402

x, y, z = sp.symbols("x y z")
VARIABLES = ["x", "y", "z"]


def _cbrt(e):
    return sp.sign(e) * sp.Abs(e) ** sp.Rational(1, 3)


# One expression per operator form the exporter must support.
OPERATOR_FORMS = {
    "add": x + y + 1.5,
    "sub": x - 2.25 * y,
    "mul": 0.7 * x * y * z,
    "div": x / (y + 3.1),
    "pow_int": x**2 + y**3 - 0.5 * z**4,
    "pow_neg_int": 1 / (x**2 + 0.3),
    "inv": 1.0 / x,
    "pow_rational": x ** sp.Rational(3, 2),
    "pow_float_exponent": sp.Abs(y) ** 1.7,
    "pow_symbolic_exponent": sp.Abs(x) ** y,
    "number_base": 2**x,
    "sqrt": sp.sqrt(x),
    "sqrt_abs": sp.sqrt(sp.Abs(x) + 0.1),
    "cbrt": _cbrt(x),
    "cbrt_nested": _cbrt(x * y - 1.2),
    "exp": sp.exp(-0.4 * x) * y,
    "log": sp.log(x),
    "log_abs": sp.log(sp.Abs(y) + 1e-3),
    "sin_cos": sp.sin(1.3 * x) + sp.cos(y - 0.2),
    "tan": sp.tan(0.3 * x),
    "tanh": sp.tanh(x * y),
    "hyperbolic": sp.sinh(0.5 * x) + sp.cosh(0.5 * y),
    "inverse_trig": sp.atan(x) + sp.asin(sp.tanh(y)),
    "abs": sp.Abs(x - y),
    "sign": sp.sign(x) * y,
    "greater": sp.Piecewise((1, x > y), (0, True)),
    "less": sp.Piecewise((1, x < 0.5), (0, True)) - x,
    "greater_equal": sp.Piecewise((x, x >= 0), (y, True)),
    "if_then_else": sp.Piecewise((y, x > 0), (z, True)),
    "piecewise_and": sp.Piecewise((x, (x > -1) & (x < 1)), (0.5, True)),
    "piecewise_or_not": sp.Piecewise((z, (x > 1) | ~(y > 0)), (0, True)),
    "piecewise_no_default": sp.Piecewise((x, x > 0)),
    "heaviside": sp.Heaviside(x - 0.3) * y,
    "min_max": sp.Min(x, y) + sp.Max(x, y, 0.1),
    "pi_e": sp.pi * x + sp.E,
    "erf": sp.erf(x),
    "floor_ceiling": sp.floor(x) + sp.ceiling(y),
    "nested": sp.exp(sp.sin(x) ** 2) / (1 + sp.Abs(z)) + sp.log(1 + y**2),
    "force_law": x * y * z / (x**2 + y**2 + 0.01) ** sp.Rational(3, 2),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    values = rng.normal(0.0, 2.0, size=(500, 3))
    values[:5] = [[0.0, 0.0, 0.0], [-8.0, 1.0, -1.0], [8.0, -1.0, 0.0], [0.3, 0.3, 2.0], [-1.0, 1.0, -0.5]]
    return values


@pytest.mark.parametrize("name", sorted(OPERATOR_FORMS))
def test_forward_matches_lambdify(name, data):
    expr = OPERATOR_FORMS[name]
    reference = sp.lambdify(sp.symbols("x y z"), expr, ["scipy", "numpy"])
    with np.errstate(all="ignore"):
        expected = np.broadcast_to(np.asarray(reference(*data.T), dtype=float), data.shape[:1])

    module = SympyModule(expr, VARIABLES)
    with torch.no_grad():
        got = module(torch.from_numpy(data)).numpy()

    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12, equal_nan=True)


def test_cbrt_real_for_negative_inputs():
    module = SympyModule(_cbrt(x), ["x"])
    out = module(torch.tensor([[-8.0], [-27.0], [8.0]], dtype=torch.float64))
    np.testing.assert_allclose(out.detach().numpy(), [-2.0, -3.0, 2.0], rtol=1e-12)


def test_domain_errors_give_nan():
    module = SympyModule(sp.log(x) + sp.sqrt(y) + sp.Abs(z) ** 0.5 * z**1.5, VARIABLES)
    out = module(torch.tensor([[-1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, -1.0], [1.0, 1.0, 1.0]]))
    assert torch.isnan(out[:3]).all()
    assert torch.isfinite(out[3])


def test_sign_and_heaviside_keep_nan():
    module = SympyModule(sp.sign(sp.log(x)) + sp.Heaviside(sp.log(x)), ["x"])
    out = module(torch.tensor([[-1.0], [2.0]], dtype=torch.float64))
    assert torch.isnan(out[0])
    assert out[1].item() == 2.0


def test_integer_and_rational_exponents_stay_fixed():
    fixed = SympyModule(x**2 + x ** sp.Rational(1, 3) + sp.sqrt(x) + 1 / x, ["x"])
    trainable = SympyModule(x**2.0, ["x"])
    assert fixed.n_constants == 0
    assert trainable.n_constants == 1
    assert trainable.constants.requires_grad


def test_each_float_occurrence_is_its_own_constant():
    expr = sp.Mul(1.5, x, evaluate=False) + sp.Mul(1.5, y, evaluate=False)
    module = SympyModule(expr, ["x", "y"])
    assert module.n_constants == 2
    with torch.no_grad():
        module.constants[0] = 2.0
    assert module.sympy() == 2.0 * x + 1.5 * y


def test_gradcheck_constants_and_inputs():
    expr = 1.3 * sp.exp(-0.4 * x) * sp.sin(y) + 0.8 * x * z / (y**2 + 1.5) + sp.Abs(z) ** 1.3
    module = SympyModule(expr, VARIABLES)
    inputs = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 0.1

    def function(constants, values):
        return torch.func.functional_call(module, {"constants": constants}, (values,))

    constants = module.constants.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(function, (constants, inputs.requires_grad_(True)))


def test_constant_gradient_matches_sympy_derivative():
    a = 2.5
    module = SympyModule(a * x * sp.sin(y), ["x", "y"])
    values = torch.tensor([[1.2, 0.7], [-0.3, 2.0]], dtype=torch.float64, requires_grad=True)
    module(values).sum().backward()
    expected = float(sum(xv * np.sin(yv) for xv, yv in values.detach().numpy()))
    assert module.constants.grad.item() == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(values.grad[:, 0].numpy(), a * np.sin(values.detach()[:, 1].numpy()))


def test_readback_after_gradient_refit():
    rng = np.random.default_rng(3)
    data = rng.uniform(0.5, 2.0, size=(256, 2))
    target = torch.from_numpy(3.0 * data[:, 0] / data[:, 1] ** 2 + 0.5)
    module = SympyModule(1.0 * x / y**2 + 0.1, ["x", "y"])
    optimizer = torch.optim.LBFGS(module.parameters(), lr=1, max_iter=60, line_search_fn="strong_wolfe")
    inputs = torch.from_numpy(data)

    def closure():
        optimizer.zero_grad()
        loss = torch.mean((module(inputs) - target) ** 2)
        loss.backward()
        return loss

    optimizer.step(closure)
    refit = module.sympy()
    coefficient = refit.coeff(x / y**2)
    offset = refit.subs({x: 0})
    assert float(coefficient) == pytest.approx(3.0, rel=1e-6)
    assert float(offset) == pytest.approx(0.5, abs=1e-6)
    # The refitted sympy expression evaluates to what the module computes.
    numeric = sp.lambdify([x, y], refit, "numpy")(data[:, 0], data[:, 1])
    np.testing.assert_allclose(module(inputs).detach().numpy(), numeric, rtol=1e-12)


def test_untrainable_constants_are_buffers():
    module = SympyModule(2.5 * x, ["x"], trainable=False)
    assert list(module.parameters()) == []
    assert "constants" in module.state_dict()


def test_float32_input_and_batch_shape():
    module = SympyModule(0.1 * x + y, ["x", "y"])
    out = module(torch.ones(4, 3, 2))
    assert out.shape == (4, 3)
    assert out.dtype == torch.float32
    assert torch.allclose(out, torch.full((4, 3), 1.1))


def test_constant_expression_broadcasts():
    module = SympyModule(sp.Float(4.2), ["x"])
    out = module(torch.zeros(5, 1, dtype=torch.float64))
    assert out.shape == (5,)
    assert torch.all(out == 4.2)
    assert SympyModule(sp.Integer(3), ["x"])(torch.zeros(2, 1)).tolist() == [3.0, 3.0]


def test_unused_variables_and_column_order():
    module = SympyModule(x - 2 * z, ["z", "unused", "x"])
    out = module(torch.tensor([[1.0, 100.0, 5.0]]))
    assert out.item() == 3.0


def test_clashing_names_from_string():
    module = SympyModule("N*S + exec - beta", ["N", "S", "exec", "beta"])
    out = module(torch.tensor([[2.0, 3.0, 1.0, 0.5]]))
    assert out.item() == pytest.approx(6.5)
    assert {s.name for s in module.sympy().free_symbols} == {"N", "S", "exec", "beta"}


def test_symbols_with_assumptions_match_by_name():
    xr = sp.Symbol("x", positive=True)
    module = SympyModule(sp.sqrt(xr) * 2.0, ["x"])
    assert module(torch.tensor([[4.0]])).item() == pytest.approx(4.0)
    assert module.sympy().free_symbols == {xr}


def test_state_dict_and_pickle_round_trip():
    module = SympyModule(1.5 * sp.exp(-0.5 * x), ["x"])
    with torch.no_grad():
        module.constants += 1.0
    clone = SympyModule(1.5 * sp.exp(-0.5 * x), ["x"])
    clone.load_state_dict(module.state_dict())
    assert clone.sympy() == module.sympy()

    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    inputs = torch.linspace(-1, 1, 5, dtype=torch.float64)[:, None]
    assert torch.equal(restored(inputs), module(inputs))
    assert pickle.loads(pickle.dumps(module)).sympy() == module.sympy()
    assert copy.deepcopy(module).sympy() == module.sympy()


def test_error_unknown_symbol():
    with pytest.raises(ValueError, match=r"\['y'\].*not in variables"):
        SympyModule(x + y, ["x"])


def test_error_duplicate_variables():
    with pytest.raises(ValueError, match="more than once"):
        SympyModule(x, ["x", "x"])


def test_error_wrong_input_width():
    module = SympyModule(x + y, ["x", "y"])
    with pytest.raises(ValueError, match=r"expected \[\.\.\., 2\]"):
        module(torch.zeros(3, 3))


def test_error_unsupported_function():
    with pytest.raises(NotImplementedError, match="gamma"):
        SympyModule(sp.gamma(x), ["x"])


def test_error_complex_constant():
    with pytest.raises(ValueError, match="complex"):
        SympyModule(sp.I * x, ["x"])


@pytest.mark.parametrize("name", sorted(BUILTIN_OPERATORS))
def test_operator_table_sympy_mapping_matches_numpy(name, data):
    # Every built-in operator, exported through its sympy mapping, computes what the
    # operator's NumPy reference computes (the semantics the search uses).
    operator = BUILTIN_OPERATORS[name]
    symbols = sp.symbols("x y z")[: operator.arity]
    module = SympyModule(operator.sympy(*symbols), VARIABLES)
    with np.errstate(all="ignore"):
        expected = operator.numpy(*data.T[: operator.arity])
    with torch.no_grad():
        got = module(torch.from_numpy(data)).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("seed", range(4))
def test_nested_comparisons_round_trip(seed):
    # Nested comparisons and IF become nested Piecewise, which sympy rewrites with
    # ITE and other boolean functions; the torch module must match the search kernel.
    import random

    from symdistill.sr import _kernels
    from symdistill.sr.mutations import MutationContext, random_tree
    from symdistill.sr.operators import build_operator_set
    from symdistill.sr.tree import to_program, to_sympy

    operators = build_operator_set(["+", "*", ">", "<"], ["sin"], ["IF"])
    context = MutationContext(operators, 3, random.Random(seed))
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(200, 3))
    Xt = np.ascontiguousarray(X.T)
    symbols = sp.symbols("x y z")
    n_with_ite = 0
    for _ in range(30):
        tree = random_tree(context, 6)
        expected = np.empty(len(X))
        assert _kernels.evaluate_program(to_program(tree), Xt, expected)
        expression = to_sympy(tree, operators.by_code(), symbols)
        n_with_ite += expression.has(sp.ITE)
        module = SympyModule(expression, VARIABLES)
        with torch.no_grad():
            actual = module(torch.tensor(X, dtype=torch.float64)).numpy()
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10, err_msg=str(expression))
    assert n_with_ite > 0


def test_boolean_functions_export():
    conditions = [sp.ITE(x > 0, y > 0, z > 0), sp.Xor(x > 0, y > 0), sp.Nand(x > 0, y > 0), sp.Nor(x > 0, y > 0),
                  sp.Implies(x > 0, y > 0), sp.Equivalent(x > 0, y > 0)]
    data = torch.tensor([[a, b, c] for a in (-1.0, 1.0) for b in (-1.0, 1.0) for c in (-1.0, 1.0)], dtype=torch.float64)
    for condition in conditions:
        expression = sp.Piecewise((x + 2.0, condition), (y - 3.0, True))
        module = SympyModule(expression, VARIABLES)
        expected = sp.lambdify(sp.symbols("x y z"), expression, "numpy")(*data.numpy().T)
        with torch.no_grad():
            np.testing.assert_allclose(module(data).numpy(), expected, err_msg=str(condition))
