"""Exact symbolic recovery, judged the SRBench way.

This is SRBench's "symbolic solution" criterion. First the float constants of the
found model are rounded (to 3 decimals by default). The model then counts as an exact
recovery of the true formula when it does not reduce to a constant and either the
difference ``found - truth`` or the ratio ``found / truth`` simplifies to a constant.

``sympy.simplify`` can run for minutes on large expressions, so every call runs under
a timeout. A cheap numeric test on random points runs first: a difference and a ratio
that both vary clearly across the points cannot simplify to a constant, so the
symbolic step is skipped for such models.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing
import os
import signal
import threading
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy

__all__ = ["Recovery", "check_recovery", "parse_formula", "round_constants"]

logger = logging.getLogger(__name__)

# Function spellings of numpy and the AI Feynman tables, mapped to sympy.
_FUNCTION_NAMES: Mapping[str, object] = {
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "arctanh": sympy.atanh,
    "ln": sympy.log,
    "pi": sympy.pi,
}


@dataclasses.dataclass(frozen=True)
class Recovery:
    """Verdict of :func:`check_recovery`.

    Attributes
    ----------
    recovered : bool
        True when the rounded model equals the truth up to an additive or a
        multiplicative constant. ``bool(verdict)`` gives the same value.
    relation : str or None
        ``"difference"`` or ``"ratio"``: which comparison simplified to a constant.
    constant : sympy.Expr or None
        That constant (``found - truth`` or ``found / truth``).
    rounded : sympy.Expr
        The found model after rounding its constants.
    reason : str
        Short explanation when ``recovered`` is False: ``"constant model"``,
        ``"numerically different"``, ``"not simplified to a constant"`` or
        ``"simplify timed out"``.
    """

    recovered: bool
    relation: str | None
    constant: sympy.Expr | None
    rounded: sympy.Expr
    reason: str = ""

    def __bool__(self) -> bool:
        return self.recovered


def parse_formula(text: str, variable_names: Sequence[str]) -> sympy.Expr:
    """Parse a formula string with an explicit Symbol for every variable name.

    Names such as ``I``, ``E``, ``S``, ``N``, ``beta``, ``gamma`` or ``lambda`` stay
    plain variables instead of sympy's imaginary unit, Euler's number or functions.
    ``pi`` is the number pi unless it is a variable name, and numpy's ``arcsin``,
    ``arccos``, ``arctan`` and ``ln`` map to sympy's functions.

    Raises
    ------
    ValueError
        When the text does not parse or uses a name that is neither a variable nor a
        known function.
    """
    names = list(variable_names)
    local_names: dict[str, object] = dict(_FUNCTION_NAMES)
    local_names.update({name: sympy.Symbol(name) for name in names})
    # sympify goes through Python's parser, so a keyword name such as `lambda`
    # needs a stand-in identifier.
    stand_ins = {name: f"_v{i}_" for i, name in enumerate(names) if not name.isidentifier() or _is_keyword(name)}
    source = text
    for name, stand_in in stand_ins.items():
        source = _replace_name(source, name, stand_in)
        local_names[stand_in] = sympy.Symbol(name)
    try:
        expr = sympy.sympify(source, locals=local_names, rational=False)
    except (sympy.SympifyError, SyntaxError, TypeError) as error:
        raise ValueError(f"cannot parse formula {text!r}: {error}") from error
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"formula {text!r} is not a numeric expression (parsed as {type(expr).__name__})")
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in names)
    if unknown:
        raise ValueError(f"formula {text!r} uses names {unknown} that are not variables {names}")
    undefined = sorted({type(f).__name__ for f in expr.atoms(sympy.Function) if isinstance(f, sympy.core.function.AppliedUndef)})
    if undefined:
        raise ValueError(f"formula {text!r} calls unknown functions {undefined}")
    return expr


def round_constants(expr: sympy.Expr, decimals: int = 3) -> sympy.Expr:
    """Round every Float in ``expr`` to ``decimals`` decimals.

    Integer-valued results become sympy Integers, so ``x**2.0`` turns into ``x**2``
    and ``1.0*x`` into ``x``. A Float that rounds to zero becomes exactly 0.
    """
    mapping = {}
    for number in expr.atoms(sympy.Float):
        value = round(float(number), decimals)
        if value == int(value) and math.isfinite(value):
            mapping[number] = sympy.Integer(int(value))
        else:
            mapping[number] = sympy.Float(value)
    return expr.xreplace(mapping)


def check_recovery(
    found: sympy.Expr | str,
    truth: sympy.Expr | str,
    variable_names: Sequence[str] | None = None,
    *,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    decimals: int = 3,
    positive: bool = False,
    timeout: float = 10.0,
    n_points: int = 64,
    seed: int = 0,
) -> Recovery:
    """Decide whether ``found`` exactly recovers ``truth`` (SRBench symbolic solution).

    Parameters
    ----------
    found, truth : sympy.Expr or str
        The model and the true formula. Symbols are matched by name. Strings are parsed
        with :func:`parse_formula` and need ``variable_names``.
    variable_names : sequence of str, optional
        Names of the input variables. Defaults to the names used by the expressions.
    ranges : mapping of name to (low, high), optional
        Sampling ranges for the numeric pre-test; ``[0.5, 3]`` for names not given.
    decimals : int, default 3
        Decimals kept when rounding the found model's constants.
    positive : bool, default False
        Declare every variable positive while simplifying. Use it only when every
        sampling range is positive (as in the Feynman benchmark), because it lets
        ``sqrt(x**2)`` simplify to ``x``.
    timeout : float, default 10
        Seconds allowed for each ``sympy.simplify`` call. When both calls time out
        the verdict is not recovered, with ``reason="simplify timed out"``.
    n_points, seed : int
        Number of random points and seed of the numeric pre-test.

    Returns
    -------
    Recovery
        The verdict, truthy when recovered.
    """
    if isinstance(found, str) or isinstance(truth, str):
        if variable_names is None:
            raise ValueError("variable_names is required when found or truth is a string")
        if isinstance(found, str):
            found = parse_formula(found, variable_names)
        if isinstance(truth, str):
            truth = parse_formula(truth, variable_names)
    found = sympy.sympify(found)
    truth = sympy.sympify(truth)
    names = sorted({s.name for s in found.free_symbols | truth.free_symbols} | set(variable_names or ()))
    symbols = {name: sympy.Symbol(name, positive=True) if positive else sympy.Symbol(name) for name in names}
    found = _rename_symbols(found, symbols)
    truth = _rename_symbols(truth, symbols)

    rounded = round_constants(found, decimals)
    if not rounded.free_symbols:
        return Recovery(False, None, None, rounded, "constant model")

    plausible = _numeric_relations(rounded, truth, [symbols[n] for n in names], ranges or {}, n_points, seed)
    if not plausible:
        return Recovery(False, None, None, rounded, "numerically different")

    timed_out = False
    for relation in plausible:
        comparison = rounded - truth if relation == "difference" else rounded / truth
        if comparison.free_symbols:
            simplified = _simplify_with_timeout(comparison, timeout)
        else:
            simplified = comparison
        if simplified is None:
            timed_out = True
            continue
        if not simplified.free_symbols and simplified.is_finite is not False:
            if relation == "ratio" and simplified == 0:
                continue
            return Recovery(True, relation, simplified, rounded)
    reason = "simplify timed out" if timed_out else "not simplified to a constant"
    return Recovery(False, None, None, rounded, reason)


def _rename_symbols(expr: sympy.Expr, symbols: Mapping[str, sympy.Symbol]) -> sympy.Expr:
    return expr.xreplace({s: symbols[s.name] for s in expr.free_symbols})


def _numeric_relations(
    found: sympy.Expr,
    truth: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    ranges: Mapping[str, tuple[float, float]],
    n_points: int,
    seed: int,
) -> list[str]:
    """Return the relations (``"difference"``, ``"ratio"``) that look constant numerically.

    A relation is kept unless its values at random points spread by more than 1e-4
    relative to the scale of the two models. Evaluation failures keep both relations,
    so the symbolic step decides.
    """
    rng = np.random.default_rng(seed)
    points = [rng.uniform(*ranges.get(s.name, (0.5, 3.0)), size=n_points) for s in symbols]
    try:
        with np.errstate(all="ignore"):
            f = np.broadcast_to(np.asarray(sympy.lambdify(symbols, found, "numpy")(*points), dtype=float), (n_points,))
            t = np.broadcast_to(np.asarray(sympy.lambdify(symbols, truth, "numpy")(*points), dtype=float), (n_points,))
    except Exception as error:  # noqa: BLE001 - any lambdify failure defers to simplify
        logger.debug("numeric pre-test failed for %s vs %s: %s", found, truth, error)
        return ["difference", "ratio"]
    valid = np.isfinite(f) & np.isfinite(t)
    if valid.sum() < 3:
        return ["difference", "ratio"]
    f, t = f[valid], t[valid]
    scale = max(np.max(np.abs(f)), np.max(np.abs(t)), 1e-300)
    relations = []
    if np.ptp(f - t) <= 1e-4 * scale:
        relations.append("difference")
    nonzero = np.abs(t) > 1e-12 * scale
    if nonzero.sum() >= 3:
        ratio = f[nonzero] / t[nonzero]
        if np.ptp(ratio) <= 1e-4 * max(np.max(np.abs(ratio)), 1e-300):
            relations.append("ratio")
    return relations


def _simplify_with_timeout(expr: sympy.Expr, timeout: float) -> sympy.Expr | None:
    """Return ``sympy.simplify(expr)``, or None when it takes longer than ``timeout``."""
    return _call_with_timeout(sympy.simplify, expr, timeout)


class _Timeout(Exception):
    pass


def _call_with_timeout(function: Callable[[sympy.Expr], sympy.Expr], expr: sympy.Expr, timeout: float):
    # In the main thread of a POSIX process an interval timer interrupts sympy (pure
    # Python) cheaply, unless the caller runs a timer of its own (pytest-timeout, for
    # example). Otherwise the call runs in a forked child process.
    main_thread = threading.current_thread() is threading.main_thread()
    if hasattr(signal, "setitimer") and main_thread and signal.getitimer(signal.ITIMER_REAL)[0] == 0:
        return _call_with_alarm(function, expr, timeout)
    if "fork" in multiprocessing.get_all_start_methods():
        return _call_in_child(function, expr, timeout)
    logger.warning("no timeout mechanism on this platform; simplify runs without a time limit")
    return function(expr)


def _call_with_alarm(function, expr, timeout):
    def interrupt(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return function(expr)
    except _Timeout:
        logger.info("simplify timed out after %.1f s on %s", timeout, expr)
        return None
    except RecursionError:
        logger.info("simplify hit the recursion limit on %s", expr)
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _child_entry(function, expr, connection) -> None:
    try:
        connection.send(sympy.srepr(function(expr)))
    except BaseException:  # noqa: BLE001 - the parent treats any failure as no result
        connection.send(None)
    finally:
        connection.close()
        os._exit(0)


def _call_in_child(function, expr, timeout):
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_entry, args=(function, expr, sender), daemon=True)
    process.start()
    sender.close()
    try:
        if receiver.poll(timeout):
            text = receiver.recv()
            return None if text is None else sympy.sympify(text)
        logger.info("simplify timed out after %.1f s on %s", timeout, expr)
        return None
    except EOFError:
        return None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join()


def _is_keyword(name: str) -> bool:
    import keyword

    return keyword.iskeyword(name)


def _replace_name(text: str, name: str, replacement: str) -> str:
    import re

    return re.sub(rf"(?<![\w.]){re.escape(name)}(?!\w)", replacement, text)
