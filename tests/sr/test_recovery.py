"""Exact-recovery judge: true positives, true negatives, parsing and timeouts."""

from __future__ import annotations

import signal
import threading
import time

import pytest
import sympy as sp

from symdistill.sr import recovery
from symdistill.sr.recovery import check_recovery, parse_formula, round_constants

x, y, z, m1, m2, r = sp.symbols("x y z m1 m2 r")


@pytest.mark.parametrize(
    "found, truth, relation",
    [
        (x * y, x * y, "difference"),
        (2.0001 * x**2.0 + 1.5, 2 * x**2, "difference"),  # offset, exponent 2.0 rounds to 2
        (3.14159 * x * y, sp.pi * x * y, "ratio"),
        (0.0796 * m1 / r**2, m1 * r / (4 * sp.pi * r**3), "ratio"),
        (sp.exp(-0.49999 * x**2) * 0.399, sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi), "ratio"),
        (x / (y * (1.0 / x)), x**2 / y, "difference"),  # needs simplify to cancel
        (sp.sin(x) ** 2 + sp.cos(x) ** 2 + y, y + 7, "difference"),
        (m1 * m2 * x / (x**2 + y**2) ** 1.5, m1 * m2 * x / (x**2 + y**2) ** sp.Rational(3, 2), "difference"),
        (-1.00001 * x * sp.cos(y), -x * sp.cos(y), "difference"),
        (x * y + 0.0001 * z, x * y, "difference"),  # a tiny constant rounds to zero
    ],
)
def test_true_positives(found, truth, relation):
    verdict = check_recovery(found, truth)
    assert verdict.recovered, verdict
    assert verdict.relation == relation
    assert bool(verdict) is True
    assert not verdict.constant.free_symbols


@pytest.mark.parametrize(
    "found, truth, reason",
    [
        (x + y, x * y, "numerically different"),
        (x**2.01, x**2, "numerically different"),  # 2.01 survives rounding
        (sp.sin(x), x, "numerically different"),
        (2.5 * x + y, x + y, "numerically different"),  # neither difference nor ratio constant
        (sp.Float(3.0), sp.Integer(3), "constant model"),
        (0.0001 * x, x, "constant model"),  # rounds to 0
        (x * y, x * y * z, "numerically different"),
    ],
)
def test_true_negatives(found, truth, reason):
    verdict = check_recovery(found, truth)
    assert not verdict.recovered
    assert verdict.reason == reason
    assert verdict.relation is None


def test_positive_assumption_needed_for_sqrt_of_square():
    found = sp.sqrt(x**2) * y
    assert check_recovery(found, x * y, positive=True).recovered
    # On the reals sqrt(x**2) is |x|: the numeric test samples positive points only, so
    # the verdict rests on sympy, which cannot reduce |x|*y / (x*y) to a constant.
    assert not check_recovery(found, x * y, positive=False).recovered


def test_strings_with_clashing_names():
    names = ["I", "E_n", "lambda", "beta", "N"]
    verdict = check_recovery("2.0*I*E_n/lambda + beta*N", "2*I*E_n/lambda + N*beta", names)
    assert verdict.recovered
    assert verdict.relation == "difference"


def test_symbols_match_by_name_across_assumptions():
    xp = sp.Symbol("x", positive=True)
    assert check_recovery(2 * xp, x).recovered


def test_strings_need_variable_names():
    with pytest.raises(ValueError, match="variable_names is required"):
        check_recovery("x", "x")


def test_parse_formula_feynman_spellings():
    expr = parse_formula("arcsin(n*sin(theta2)) + 1/2*k*x**2 + d**(3/2)/(4*pi)", ["n", "theta2", "k", "x", "d"])
    n, theta2, k, d = sp.symbols("n theta2 k d")
    expected = sp.asin(n * sp.sin(theta2)) + k * x**2 / 2 + d ** sp.Rational(3, 2) / (4 * sp.pi)
    assert sp.simplify(expr - expected) == 0
    assert isinstance(expr.atoms(sp.Pow).pop().exp, (sp.Rational, sp.Integer))


def test_parse_formula_keeps_variables_plain():
    expr = parse_formula("I*E + S*gamma", ["I", "E", "S", "gamma"])
    assert {s.name for s in expr.free_symbols} == {"I", "E", "S", "gamma"}
    assert not expr.has(sp.I)
    assert not expr.has(sp.E)


def test_parse_formula_errors():
    with pytest.raises(ValueError, match=r"\['w'\]"):
        parse_formula("x + w", ["x"])
    with pytest.raises(ValueError, match="cannot parse"):
        parse_formula("x +* (", ["x"])
    with pytest.raises(ValueError, match="unknown functions"):
        parse_formula("foo(x)", ["x"])


def test_round_constants():
    rounded = round_constants(1.00004 * x**2.0 + 0.12345 * y - 0.00002)
    assert rounded == x**2 + sp.Float(0.123) * y


def _slow_simplify(expr):
    time.sleep(5)
    return expr


def test_outer_interval_timer_survives():
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        assert check_recovery(sp.sin(x) ** 2 + sp.cos(x) ** 2 + y, y).recovered
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    assert 90.0 < remaining <= 100.0


@pytest.mark.parametrize("in_thread", [False, True])
def test_simplify_timeout_guard(monkeypatch, in_thread):
    # The numeric test accepts this difference (exactly 1), so the slow simplify
    # runs and must be interrupted.
    monkeypatch.setattr(recovery.sympy, "simplify", _slow_simplify)
    results = {}

    def run():
        start = time.perf_counter()
        results["verdict"] = check_recovery(sp.sin(x) ** 2 + sp.cos(x) ** 2 + y, y, timeout=0.3)
        results["elapsed"] = time.perf_counter() - start

    if in_thread:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(30)
    else:
        run()
    verdict = results["verdict"]
    assert not verdict.recovered
    assert verdict.reason == "simplify timed out"
    assert results["elapsed"] < 4.0
