"""pyoperon as an optional symbolic-regression backend (``backend="operon"``).

Operon is a C++ genetic-programming library with Python bindings (pyoperon). This
backend runs it with NSGA-II over two objectives, accuracy and tree length, with its
default Levenberg-Marquardt constant fitting and linear scaling. This backend
translates the options both engines share, runs ``pyoperon.sklearn.SymbolicRegressor``
and parses its Pareto front into sympy expressions over the problem's variable names.
The loss of each candidate is recomputed by symdistill on the training data with the
configured loss, so losses from every backend are comparable.

Translated options: the operator set (``+ - * / ^ exp log sqrt abs sin cos tanh square
cbrt``), ``maxsize`` and ``maxdepth``, ``elementwise_loss`` (L2 or L1),
``timeout_in_seconds`` (whole seconds, at least 1), ``max_evals``, ``niterations``,
``populations * population_size`` as Operon's population size, ``random_state`` and
``procs``. The evolution settings of the native engine (mutation weights, tournament,
parsimony, migration, batching) have no Operon counterpart and are not used; Operon
evaluates every candidate on all rows. Options that would
change the result and cannot be honoured raise ``ValueError`` in :meth:`check`.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from typing import Any, Sequence

import numpy as np
import sympy

from symdistill.sr.backends.base import Candidate, Problem
from symdistill.sr.losses import L1, L2, resolve_elementwise_loss
from symdistill.sr.options import SearchOptions

__all__ = ["OperonBackend", "OPERON_SYMBOLS", "operon_allowed_symbols", "parse_operon_infix"]

logger = logging.getLogger(__name__)

#: symdistill operator name -> Operon primitive name.
OPERON_SYMBOLS: dict[str, str] = {
    "+": "add",
    "-": "sub",
    "*": "mul",
    "/": "div",
    "^": "pow",
    "exp": "exp",
    "log": "log",
    "sqrt": "sqrt",
    "abs": "abs",
    "sin": "sin",
    "cos": "cos",
    "tanh": "tanh",
    "square": "square",
    "cbrt": "cbrt",
}

# Candidate evaluations per native iteration, per population and per cycle: two
# tournament events per cycle, as in SymbolicRegression.jl's regularized evolution.
# NOTE: an estimate used only to size Operon's evaluation budget from `niterations`.
_EVALUATIONS_PER_CYCLE = 2


def _real_cbrt(x: sympy.Expr) -> sympy.Expr:
    return sympy.sign(x) * sympy.Abs(x) ** sympy.Rational(1, 3)


def _placeholder(index: int) -> str:
    # Operon prints the names it is given verbatim; placeholders keep any column name
    # (spaces, `lambda`, `I`) out of the infix string that sympy parses.
    return f"_v{index}_"


def operon_allowed_symbols(options: SearchOptions) -> str:
    """Return Operon's ``allowed_symbols`` string for the operators in ``options``.

    Raises
    ------
    ValueError
        If an operator has no Operon primitive with the same semantics.
    """
    names = [op.name for op in options.operator_set.operators]
    missing = [name for name in names if name not in OPERON_SYMBOLS]
    if missing:
        raise ValueError(
            f"the operon backend has no primitive for operator(s) {missing}; "
            f"use only {sorted(OPERON_SYMBOLS)} or the native backend"
        )
    return ",".join([OPERON_SYMBOLS[name] for name in names] + ["constant", "variable"])


def parse_operon_infix(text: str, variable_names: Sequence[str]) -> sympy.Expr:
    """Parse Operon's infix output into sympy, with ``Symbol(name)`` for each variable.

    ``text`` must use the placeholders ``_v0_``, ``_v1_`` ... for the input columns.
    ``^`` is the power operator and ``cbrt`` becomes the real cube root
    ``sign(x)*Abs(x)**(1/3)``, as in symdistill's operator semantics.

    Raises
    ------
    ValueError
        If the text contains a name that is not a placeholder or a known function.
    """
    local_names: dict[str, Any] = {_placeholder(i): sympy.Symbol(n) for i, n in enumerate(variable_names)}
    local_names.update(
        {
            "cbrt": _real_cbrt,
            "abs": sympy.Abs,
            "square": lambda x: x**2,
            "exp": sympy.exp,
            "log": sympy.log,
            "sqrt": sympy.sqrt,
            "sin": sympy.sin,
            "cos": sympy.cos,
            "tanh": sympy.tanh,
        }
    )
    # The lookbehind skips exponent markers such as the `e` in 1e-05.
    identifiers = set(re.findall(r"(?<![\w.])[A-Za-z_]\w*", text))
    unknown = sorted(identifiers - set(local_names))
    if unknown:
        raise ValueError(f"Operon expression {text!r} contains unknown names {unknown}")
    try:
        expr = sympy.sympify(text.replace("^", "**"), locals=local_names)
    except (sympy.SympifyError, SyntaxError, TypeError) as error:
        raise ValueError(f"cannot parse Operon expression {text!r}: {error}") from error
    return expr


class OperonBackend:
    """Run pyoperon's NSGA-II symbolic regression behind ``SymbolicRegressor``.

    After :meth:`search`, ``last_run`` stores ``generations``, ``population_size``,
    ``seconds`` and ``evaluations_estimate`` (generations times population size,
    without the constant-fitting evaluations).
    """

    name = "operon"

    def __init__(self) -> None:
        self.last_run: dict[str, float] = {}

    def check(self, problem: Problem, options: SearchOptions) -> None:
        """Raise ``ValueError`` listing every option or problem feature Operon cannot honour."""
        problems: list[str] = []
        try:
            operon_allowed_symbols(options)
        except ValueError as error:
            problems.append(str(error))
        if problem.is_graph:
            problems.append("a graph-aggregated loss (receivers) needs the native backend")
        if problem.weights is not None:
            problems.append("sample weights are not supported by pyoperon's estimator; drop weights")
        if options.loss_function is not None:
            problems.append("a custom loss_function needs the native or julia backend")
        elif resolve_elementwise_loss(options.elementwise_loss) not in (L1, L2):
            problems.append(
                f"elementwise_loss={options.elementwise_loss!r} is not available in Operon; use 'L2' or 'L1'"
            )
        if options.constraints or options.nested_constraints:
            problems.append("constraints and nested_constraints are not available in Operon; remove them")
        if options.complexity_of_operators or options.complexity_of_constants != 1 or options.complexity_of_variables != 1:
            problems.append("complexity weights are not available in Operon; Operon counts tree nodes")
        if options.early_stop_condition is not None:
            problems.append("early_stop_condition is not available in Operon; use timeout_in_seconds or max_evals")
        if problem.guesses:
            problems.append("guesses (warm start from expressions) are not available in Operon")
        if problems:
            raise ValueError("options not supported by the operon backend: " + "; ".join(problems))

    def regressor_parameters(self, problem: Problem, options: SearchOptions) -> dict[str, Any]:
        """Return the keyword arguments for ``pyoperon.sklearn.SymbolicRegressor``."""
        loss = resolve_elementwise_loss(options.elementwise_loss)
        population_size = options.populations * options.population_size
        if options.max_evals is not None:
            max_evaluations = options.max_evals
        else:
            max_evaluations = (
                options.niterations * options.populations * options.ncycles_per_iteration * _EVALUATIONS_PER_CYCLE
            )
        parameters: dict[str, Any] = {
            "allowed_symbols": operon_allowed_symbols(options),
            "objectives": ["mae" if loss is L1 else "r2", "length"],
            "max_length": options.maxsize,
            "max_depth": options.effective_maxdepth,
            "population_size": population_size,
            "pool_size": population_size,
            "generations": max(1, math.ceil(max_evaluations / population_size)),
            "max_evaluations": max(1, max_evaluations),
            "n_threads": options.procs or _cpu_count(),
            "random_state": options.random_state,
        }
        if options.timeout_in_seconds is not None:
            # Operon takes whole seconds. Rounding down keeps the run within the budget.
            parameters["max_time"] = max(1, int(options.timeout_in_seconds))
        return parameters

    def search(self, problem: Problem, options: SearchOptions) -> list[Candidate]:
        """Run Operon and return the best candidate per complexity on its Pareto front."""
        self.check(problem, options)
        import pyoperon
        from pyoperon.sklearn import SymbolicRegressor as OperonRegressor

        parameters = self.regressor_parameters(problem, options)
        logger.info("starting Operon with %s", parameters)
        regressor = OperonRegressor(**parameters)
        start = time.perf_counter()
        regressor.fit(problem.X, problem.y)
        seconds = time.perf_counter() - start

        names_map = {key: _placeholder(i) for i, key in enumerate(regressor.variables_)}
        loss = resolve_elementwise_loss(options.elementwise_loss)
        best: dict[int, Candidate] = {}
        for entry in regressor.pareto_front_:
            # Operon stores float32 constants; 12 decimals print them without loss
            # unless their magnitude is below about 1e-5.
            text = pyoperon.InfixFormatter.Format(entry["tree"], names_map, 12)
            expression = parse_operon_infix(text, problem.variable_names)
            complexity = int(entry["length"])
            candidate = Candidate(
                complexity=complexity,
                loss=_candidate_loss(expression, problem, loss),
                expression=expression,
                equation=_readable(text, problem.variable_names),
            )
            if complexity not in best or candidate.loss < best[complexity].loss:
                best[complexity] = candidate

        generations = int(regressor.stats_.get("generations", 0))
        self.last_run = {
            "generations": generations,
            "population_size": parameters["population_size"],
            "seconds": seconds,
            "evaluations_estimate": generations * parameters["pool_size"],
        }
        logger.info("Operon finished: %d generations in %.1f s", generations, seconds)
        return sorted(best.values(), key=lambda c: (c.complexity, c.loss))


def _candidate_loss(expression: sympy.Expr, problem: Problem, loss) -> float:
    symbols = problem.symbols
    function = sympy.lambdify(symbols, expression, "numpy")
    with np.errstate(all="ignore"):
        values = function(*problem.X.T)
    prediction = np.broadcast_to(np.asarray(values, dtype=np.float64), problem.y.shape)
    if not np.all(np.isfinite(prediction)):
        return math.inf
    return loss.mean(prediction, problem.y, problem.weights)


def _readable(text: str, variable_names: Sequence[str]) -> str:
    for i in range(len(variable_names) - 1, -1, -1):
        text = text.replace(_placeholder(i), variable_names[i])
    return text


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not available on macOS and Windows
        return os.cpu_count() or 1

