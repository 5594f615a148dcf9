"""The operator table: kernel, NumPy reference and sympy agree on every operator."""

import numpy as np
import pytest
import sympy

from symdistill.sr import _kernels
from symdistill.sr._reference import evaluate_reference
from symdistill.sr.operators import (
    BUILTIN_OPERATORS,
    CONST,
    FEATURE,
    build_operator_set,
    custom_operator,
    lookup,
)
from symdistill.sr.tree import to_program, to_sympy

RNG = np.random.default_rng(0)
A = np.concatenate([RNG.uniform(-3, 3, 200), [-2.0, -1.0, 0.5, 2.0, 3.0]])
B = np.concatenate([RNG.uniform(-3, 3, 200), [2.0, 3.0, -1.0, 0.0, -2.0]])
C = RNG.uniform(-3, 3, A.size)
XT = np.stack([A, B, C])


def _tree_for(op):
    leaves = tuple((FEATURE, float(i)) for i in range(op.arity))
    return leaves + ((op.code, 0.0),)


@pytest.mark.parametrize("name", sorted(BUILTIN_OPERATORS))
def test_kernel_matches_reference_row_by_row(name):
    op = BUILTIN_OPERATORS[name]
    tree = _tree_for(op)
    operators = {op.code: op}
    for row in range(XT.shape[1]):
        column = np.ascontiguousarray(XT[:, row : row + 1])
        out = np.empty(1)
        kernel_ok = _kernels.evaluate_program(to_program(tree), column, out)
        reference_ok, reference = evaluate_reference(tree, column, operators)
        assert kernel_ok == reference_ok, (name, XT[:, row])
        if kernel_ok:
            np.testing.assert_allclose(out[0], reference[0], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", sorted(BUILTIN_OPERATORS))
def test_sympy_mapping_matches_kernel(name):
    op = BUILTIN_OPERATORS[name]
    tree = _tree_for(op)
    symbols = sympy.symbols("a b c")
    expression = to_sympy(tree, {op.code: op}, symbols)
    function = sympy.lambdify(symbols, expression, modules="numpy")
    checked = 0
    for row in range(0, XT.shape[1], 7):
        column = np.ascontiguousarray(XT[:, row : row + 1])
        out = np.empty(1)
        if not _kernels.evaluate_program(to_program(tree), column, out):
            continue
        with np.errstate(all="ignore"):
            value = float(function(*column[:, 0]))
        np.testing.assert_allclose(value, out[0], rtol=1e-9, atol=1e-12)
        checked += 1
    assert checked > 5


def test_sympy_forms_fixed():
    a, b, c = sympy.symbols("a b c")
    assert lookup(">").sympy(a, b) == sympy.Piecewise((1, a > b), (0, True))
    assert lookup("<").sympy(a, b) == sympy.Piecewise((1, a < b), (0, True))
    assert lookup("IF").sympy(a, b, c) == sympy.Piecewise((b, a > 0), (c, True))
    assert lookup("cbrt").sympy(a) == sympy.sign(a) * sympy.Abs(a) ** sympy.Rational(1, 3)


@pytest.mark.parametrize(
    "name, inputs",
    [("log", [-1.0]), ("log", [0.0]), ("sqrt", [-4.0]), ("^", [-2.0, 0.5]), ("/", [1.0, 0.0]), ("inv", [0.0])],
)
def test_domain_errors_are_invalid(name, inputs):
    op = lookup(name)
    tree = _tree_for(op)
    column = np.array(inputs, dtype=np.float64)[:, None]
    assert not _kernels.evaluate_program(to_program(tree), column, np.empty(1))


def test_negative_base_integer_exponent_valid():
    tree = ((FEATURE, 0.0), (CONST, 3.0), (lookup("^").code, 0.0))
    out = np.empty(1)
    assert _kernels.evaluate_program(to_program(tree), np.array([[-2.0]]), out)
    assert out[0] == -8.0


def test_aliases_resolve():
    assert lookup("pow").name == "^"
    assert lookup("greater").name == ">"
    assert lookup("if").name == "IF"


def test_unknown_operator_names_value():
    with pytest.raises(ValueError, match="'sinh'"):
        lookup("sinh")


def test_wrong_arity_group_rejected():
    with pytest.raises(ValueError, match="unary_operators"):
        build_operator_set(binary=["+", "sin"])


def test_duplicate_operator_rejected():
    with pytest.raises(ValueError, match="listed twice"):
        build_operator_set(binary=["+", "add"])


def test_custom_operator_gets_code():
    mysqrt = custom_operator("mysqrt", 1, np.sqrt, sympy.sqrt)
    operator_set = build_operator_set(binary=["+"], unary=[mysqrt])
    assert [op.code for op in operator_set.unary] == [100]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(name="sin", arity=1), "clashes"),
        (dict(name="my op", arity=1), "invalid"),
        (dict(name="myop", arity=4), "arity"),
    ],
)
def test_custom_operator_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        custom_operator(function=np.sin, sympy_mapping=sympy.sin, **kwargs)
