"""SymbolicRegression.jl backend: option translation and equation parsing (no Julia needed)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symdistill.sr.backends import julia as julia_backend
from symdistill.sr.backends.base import Problem, get_backend
from symdistill.sr.backends.julia_translate import (
    JULIA_OPERATORS,
    julia_options_code,
    julia_support_problems,
    parse_julia_equation,
    search_call_settings,
)
from symdistill.sr.operators import BUILTIN_OPERATORS, custom_operator
from symdistill.sr.options import SearchOptions

JULIA_DIR = Path(__file__).resolve().parents[2] / "julia"


def _problem(n_rows=50, graph=False, weights=None, guesses=()):
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 2.0, size=(n_rows, 3))
    if graph:
        receivers = np.arange(n_rows) % 10
        y = np.bincount(receivers, weights=X[:, 0], minlength=10)
        return Problem(X, y, weights, ("a", "b", "c"), receivers=receivers, node_divisor=np.full(10, 2.0))
    return Problem(X, X[:, 0] * X[:, 1], weights, ("a", "b", "c"), guesses=guesses)


def _keywords(code: str) -> dict[str, str]:
    """Split `Options(; k=v, ...)` into its top-level keywords."""
    assert code.startswith("Options(; ")
    assert code.endswith(")")
    body = code[len("Options(; ") : -1]
    parts, depth, current = [], 0, ""
    for char in body:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        assert depth >= 0, code
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    assert depth == 0
    keywords = dict(part.split("=", 1) for part in parts)
    assert len(keywords) == len(parts), "duplicate keyword"
    return keywords


# --- Options code -------------------------------------------------------------


def test_default_options_code():
    keywords = _keywords(julia_options_code(SearchOptions()))
    assert keywords["binary_operators"] == "[+, -, *, /]"
    assert keywords["unary_operators"] == "[]"
    assert keywords["elementwise_loss"] == "L2DistLoss()"
    assert keywords["deterministic"] == "true"
    assert keywords["seed"] == "0"
    assert keywords["maxsize"] == "30"
    assert keywords["maxdepth"] == "30"
    assert keywords["save_to_file"] == "false"
    assert keywords["optimizer_algorithm"] == '"BFGS"'
    assert "timeout_in_seconds" not in keywords


def test_operator_translation_with_comparisons():
    options = SearchOptions(binary_operators=["+", ">", "<", "^"], unary_operators=["exp", "cbrt", "neg", "inv"])
    keywords = _keywords(julia_options_code(options))
    assert keywords["binary_operators"] == "[+, (>), (<), ^]"
    assert keywords["unary_operators"] == "[exp, cbrt, neg, inv]"


def test_if_uses_operator_enum_by_arity():
    options = SearchOptions(binary_operators=["+", "*"], unary_operators=["exp"], ternary_operators=["IF"])
    keywords = _keywords(julia_options_code(options))
    assert keywords["operators"] == "OperatorEnum(1 => (exp,), 2 => (+, *), 3 => (SymDistillSR.IF,))"
    assert "binary_operators" not in keywords


def test_constraints_and_complexities():
    options = SearchOptions(
        binary_operators=["+", "*", "^"],
        unary_operators=["exp", "sin", "cos"],
        constraints={"^": (-1, 1), "exp": 5},
        nested_constraints={"sin": {"cos": 0, "sin": 1}, "exp": {"exp": 0}},
        complexity_of_operators={"exp": 2, "^": 3.5},
        complexity_of_constants=2.0,
        complexity_of_variables=1.5,
    )
    keywords = _keywords(julia_options_code(options))
    assert keywords["constraints"] == "[(^) => (-1, 1), exp => 5]"
    assert keywords["nested_constraints"] == "[sin => [cos => 0, sin => 1], exp => [exp => 0]]"
    assert keywords["complexity_of_operators"] == "[exp => 2.0, (^) => 3.5]"
    assert keywords["complexity_of_constants"] == "2.0"
    assert keywords["complexity_of_variables"] == "1.5"


@pytest.mark.parametrize(
    "loss, expected",
    [("L2", "L2DistLoss()"), ("L1DistLoss()", "L1DistLoss()"), ("HuberLoss(0.5)", "HuberLoss(0.5)")],
)
def test_elementwise_loss_translation(loss, expected):
    assert _keywords(julia_options_code(SearchOptions(elementwise_loss=loss)))["elementwise_loss"] == expected


def test_stopping_seed_and_determinism():
    options = SearchOptions(
        timeout_in_seconds=12.5, max_evals=1000, early_stop_condition=1e-8, random_state=None, deterministic=False
    )
    keywords = _keywords(julia_options_code(options))
    assert keywords["timeout_in_seconds"] == "12.5"
    assert keywords["max_evals"] == "1000"
    assert keywords["early_stop_condition"] == "1e-08"
    assert keywords["seed"] == "nothing"
    assert keywords["deterministic"] == "false"
    assert search_call_settings(_problem(), options).parallelism == "multithreading"
    assert search_call_settings(_problem(), SearchOptions()).parallelism == "serial"


def test_search_settings_carry_iterations_and_threads():
    settings = search_call_settings(_problem(), SearchOptions(niterations=7, procs=3))
    assert settings.niterations == 7
    assert settings.threads == 3
    assert settings.graph is None


def test_mutation_weights_and_evolution_settings():
    options = SearchOptions(mutation_weights={"optimize": 0.5}, populations=4, population_size=20, parsimony=0.01)
    keywords = _keywords(julia_options_code(options))
    weights = keywords["mutation_weights"]
    assert weights.startswith("MutationWeights(; ")
    assert "optimize=0.5" in weights
    assert "rotate_tree=4.26" in weights
    assert keywords["populations"] == "4"
    assert keywords["population_size"] == "20"
    assert keywords["parsimony"] == "0.01"


def test_batching_auto_resolution():
    small, large = _problem(n_rows=50), _problem(n_rows=3000)
    assert _keywords(julia_options_code(SearchOptions(batching="auto"), small))["batching"] == "false"
    assert _keywords(julia_options_code(SearchOptions(batching="auto", batch_size=1000), large))["batching"] == "true"
    assert _keywords(julia_options_code(SearchOptions(batching="auto"), _problem(graph=True)))["batching"] == "false"
    assert _keywords(julia_options_code(SearchOptions(batching=True), small))["batching"] == "true"
    assert julia_support_problems(_problem(graph=True), SearchOptions(batching="auto")) == []


def test_graph_problem_uses_graph_loss():
    problem = _problem(graph=True)
    keywords = _keywords(julia_options_code(SearchOptions(elementwise_loss="L1"), problem))
    assert keywords["loss_function"] == "SymDistillSR.graph_loss"
    assert keywords["elementwise_loss"] == "nothing"
    graph = search_call_settings(problem, SearchOptions(elementwise_loss="L1")).graph
    assert graph["loss_kind"] == 2
    np.testing.assert_array_equal(graph["receivers"], problem.receivers)
    np.testing.assert_array_equal(graph["node_divisor"], np.full(10, 2.0))
    np.testing.assert_array_equal(graph["node_weights"], np.ones(10))


def test_python_names_exist_in_julia_module():
    source = (JULIA_DIR / "SymDistillSR.jl").read_text()
    for name in ("IF", "graph_loss", "graph_extra", "search_hall_of_fame"):
        assert re.search(rf"^(function )?{name}\(", source, re.MULTILINE), name
    assert 'get_op_name(::typeof(IF)) = "IF"' in source


def test_juliapkg_pins_symbolic_regression():
    spec = json.loads((JULIA_DIR / "juliapkg.json").read_text())
    package = spec["packages"]["SymbolicRegression"]
    assert package["uuid"] == "8254be44-1295-4e6a-a16d-46603ac705cb"
    assert package.get("version") or package.get("rev")
    assert spec["julia"]


def test_julia_source_dir_found():
    assert julia_backend.julia_source_dir() == JULIA_DIR


def test_julia_source_dir_override_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMDISTILL_JULIA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="SYMDISTILL_JULIA_DIR"):
        julia_backend.julia_source_dir()


# --- Unsupported options ------------------------------------------------------


def test_support_problems_listed():
    mysqrt = custom_operator("mysqrt", 1, np.sqrt, sp.sqrt)
    options = SearchOptions(
        unary_operators=[mysqrt],
        ternary_operators=["IF"],
        constraints={"/": (-1, 3)},
        elementwise_loss=lambda p, t: (p - t) ** 4,
        early_stop_condition=lambda loss, complexity: loss < 1e-3,
        optimizer_algorithm="LM",
    )
    problems = " | ".join(julia_support_problems(_problem(guesses=(sp.Symbol("a"),)), options))
    for fragment in ("mysqrt", "Python callable", "early_stop_condition", "'LM'", "IF operator", "guesses"):
        assert fragment in problems


def test_support_problems_python_loss_function():
    options = SearchOptions(loss_function=lambda prediction, dataset: 0.0)
    assert any("loss_function" in p for p in julia_support_problems(_problem(), options))


def test_support_problems_graph_batching():
    problems = julia_support_problems(_problem(graph=True), SearchOptions(batching=True))
    assert any("batching" in p for p in problems)


def test_supported_options_have_no_problems():
    options = SearchOptions(binary_operators=["+", "*", ">"], unary_operators=["exp"], ternary_operators=["IF"])
    assert julia_support_problems(_problem(graph=True), options) == []


# --- Equation strings ---------------------------------------------------------


def _julia_call(name: str, args: list[str]) -> str:
    printed = JULIA_OPERATORS[name][1]
    if printed in ("+", "-", "*", "/", "^"):
        return f"({args[0]} {printed} {args[1]})"
    return f"{printed}({', '.join(args)})"


@pytest.mark.parametrize("name", sorted(JULIA_OPERATORS))
def test_parse_every_operator_matches_numpy(name):
    operator = BUILTIN_OPERATORS[name]
    rng = np.random.default_rng(1)
    data = rng.uniform(-3.0, 3.0, size=(200, 3))
    data[:3, 0] = [-8.0, 0.0, 8.0]
    args = ["x1", "x2", "x3"][: operator.arity]
    expr = parse_julia_equation(_julia_call(name, args), ["u", "v", "w"])
    symbols = sp.symbols("u v w")
    with np.errstate(all="ignore"):
        got = np.broadcast_to(sp.lambdify(symbols, expr, "numpy")(*data.T), data.shape[:1]).astype(float)
        expected = operator.numpy(*data.T[: operator.arity])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


def test_parse_nested_equation_with_constants():
    text = "((x1 * -0.5) + greater(x2, 1.0e-5)) - (IF(x3, 2.5, x1) ^ 2.0)"
    expr = parse_julia_equation(text, ["m1", "m2", "dx"])
    m1, m2, dx = sp.symbols("m1 m2 dx")
    assert expr.free_symbols == {m1, m2, dx}
    value = expr.subs({m1: 2.0, m2: 1.0, dx: -1.0})
    assert float(value) == pytest.approx(-1.0 + 1.0 - 4.0)


def test_parse_module_qualified_operator():
    for prefix in ("SymDistillSR.", "Main.SymDistillSR.", "SymbolicRegression.OperatorsModule."):
        expr = parse_julia_equation(f"{prefix}IF(x1, x2, 1.0)", ["a", "b"])
        assert isinstance(expr, sp.Piecewise)


def test_parse_qualified_comparison():
    expr = parse_julia_equation("SymbolicRegression.OperatorsModule.less(x1, 1.0e-5)", ["a"])
    a = sp.Symbol("a")
    assert expr.subs(a, -1.0) == 1
    assert expr.subs(a, 1.0) == 0


def test_parse_clashing_variable_names():
    expr = parse_julia_equation("(x1 * x2) + x3", ["I", "E", "lambda"])
    assert {s.name for s in expr.free_symbols} == {"I", "E", "lambda"}
    assert not expr.has(sp.I)


def test_parse_rejects_out_of_range_variable():
    with pytest.raises(ValueError, match=r"unknown names \['x3'\]"):
        parse_julia_equation("x1 + x3", ["a", "b"])


def test_parse_rejects_unknown_function():
    with pytest.raises(ValueError, match="gamma"):
        parse_julia_equation("gamma(x1)", ["a"])


# --- Without juliacall --------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("juliacall") is not None, reason="juliacall is installed")
def test_missing_juliacall_raises_import_error():
    with pytest.raises(ImportError, match=re.escape("pip install symdistill[julia]")):
        julia_backend.JuliaBackend()
    with pytest.raises(ImportError, match="symdistill\\[julia\\]"):
        get_backend("julia")
