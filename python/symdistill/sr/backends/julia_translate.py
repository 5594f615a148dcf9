"""Pure-Python translation between symdistill and SymbolicRegression.jl (v2).

Two directions, both testable without Julia:

* :func:`julia_options_code` turns :class:`~symdistill.sr.options.SearchOptions` into
  the Julia source of an ``Options(; ...)`` call, and :func:`search_call_settings` gives
  the ``equation_search`` keywords (iterations, parallelism, graph payload).
* :func:`parse_julia_equation` turns an equation string printed by
  SymbolicRegression.jl's non-pretty ``string_tree`` (variables ``x1``, ``x2`` ...,
  operators by Julia name) into a sympy expression over the problem's variable names,
  with each operator's sympy mapping from :mod:`symdistill.sr.operators`.

The operator semantics match: SymbolicRegression.jl maps ``log``, ``sqrt`` and ``^`` to
versions that return NaN outside their domain, and any NaN makes a candidate invalid
(infinite loss) in both engines. ``greater``/``less`` return 1 or 0 and ``IF`` is
defined in ``julia/SymDistillSR.jl``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Sequence

import numpy as np
import sympy

from symdistill.sr.backends.base import Problem
from symdistill.sr.losses import L1, L2, resolve_elementwise_loss
from symdistill.sr.operators import BUILTIN_OPERATORS, lookup
from symdistill.sr.options import DEFAULT_MUTATION_WEIGHTS, SearchOptions

__all__ = [
    "JULIA_OPERATORS",
    "SearchCallSettings",
    "julia_options_code",
    "julia_support_problems",
    "parse_julia_equation",
    "search_call_settings",
]

#: symdistill operator name -> (Julia expression used in Options, name printed in equations).
JULIA_OPERATORS: dict[str, tuple[str, str]] = {
    "+": ("+", "+"),
    "-": ("-", "-"),
    "*": ("*", "*"),
    "/": ("/", "/"),
    "^": ("^", "^"),
    # SymbolicRegression.jl maps `>` and `<` to its `greater` and `less` (1 or 0), but
    # exports only `greater`, so the Options code names the Base operators.
    ">": ("(>)", "greater"),
    "<": ("(<)", "less"),
    "neg": ("neg", "neg"),
    "square": ("square", "square"),
    "cube": ("cube", "cube"),
    "sqrt": ("sqrt", "sqrt"),
    "cbrt": ("cbrt", "cbrt"),
    "exp": ("exp", "exp"),
    "log": ("log", "log"),
    "abs": ("abs", "abs"),
    "sin": ("sin", "sin"),
    "cos": ("cos", "cos"),
    "tanh": ("tanh", "tanh"),
    "inv": ("inv", "inv"),
    "IF": ("SymDistillSR.IF", "IF"),
}

_LOSS_KIND = {"L2": 1, "L1": 2, "Huber": 3}


def julia_support_problems(problem: Problem, options: SearchOptions) -> list[str]:
    """Return one sentence per option or problem feature the Julia backend cannot run."""
    problems = []
    operator_names = [op.name for op in options.operator_set.operators]
    custom = [op.name for op in options.operator_set.operators if not op.builtin]
    if custom:
        problems.append(
            f"custom operators {custom} are Python callables and cannot run inside Julia; "
            "use the native backend"
        )
    unmapped = [name for name in operator_names if name not in JULIA_OPERATORS and name not in custom]
    if unmapped:
        problems.append(f"operators {unmapped} have no SymbolicRegression.jl translation")
    if options.loss_function is not None:
        problems.append("a Python loss_function cannot run inside Julia; use the native backend")
    loss = resolve_elementwise_loss(options.elementwise_loss)
    if loss not in (L1, L2) and loss.huber_delta == 0:
        problems.append(
            f"elementwise_loss={options.elementwise_loss!r} is a Python callable; use 'L2', 'L1' or 'Huber'"
        )
    if callable(options.early_stop_condition):
        problems.append("a Python early_stop_condition callable cannot run inside Julia; give a loss threshold")
    if options.optimizer_algorithm not in ("BFGS", "auto"):
        problems.append(f"optimizer_algorithm={options.optimizer_algorithm!r} is not in SymbolicRegression.jl; use 'BFGS'")
    if options.tournament_selection_n >= options.population_size:
        problems.append(
            f"SymbolicRegression.jl needs tournament_selection_n ({options.tournament_selection_n}) < "
            f"population_size ({options.population_size})"
        )
    if "IF" in operator_names and options.constraints:
        # NOTE: SymbolicRegression.jl v2.0.0-alpha.9 builds per-argument constraints for
        # arity-3 operator sets from a per-degree layout that its `constraints` keyword
        # does not produce, so the two are not combined here.
        problems.append("constraints cannot be combined with the IF operator in the julia backend")
    if problem.is_graph and options.batching is True:
        problems.append("batching samples random edges and breaks the graph-aggregated loss; set batching=False")
    if problem.guesses:
        problems.append("guesses are not translated to Julia yet; use the native backend to seed a search")
    return problems


def _julia_number(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return repr(value)


def _julia_operator(name: str) -> str:
    expression = JULIA_OPERATORS[lookup(name).name][0]
    # Infix operators need parentheses when used as values, e.g. `(^) => (-1, 1)`.
    return f"({expression})" if expression in ("+", "-", "*", "/", "^") else expression


def _julia_constraint(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(str(int(v)) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(int(value))


def julia_options_code(options: SearchOptions, problem: Problem | None = None) -> str:
    """Return the Julia source of the ``Options(; ...)`` call for ``options``.

    Operators defined by symdistill's Julia module are qualified with
    ``SymDistillSR.``; the code is evaluated in ``Main`` after that module is loaded.
    For a graph problem the loss is ``SymDistillSR.graph_loss`` and its elementwise
    loss travels in the ``extra`` payload (see :func:`search_call_settings`).
    """
    operator_set = options.operator_set
    keywords: list[str] = []

    def add(name: str, value: str) -> None:
        keywords.append(f"{name}={value}")

    unary = [JULIA_OPERATORS[op.name][0] for op in operator_set.unary]
    binary = [JULIA_OPERATORS[op.name][0] for op in operator_set.binary]
    ternary = [JULIA_OPERATORS[op.name][0] for op in operator_set.ternary]
    if ternary:
        # Arity-3 operators need an explicit OperatorEnum keyed by arity.
        degrees = [f"1 => ({', '.join(unary)}{',' if len(unary) == 1 else ''})"]
        degrees.append(f"2 => ({', '.join(binary)}{',' if len(binary) == 1 else ''})")
        degrees.append(f"3 => ({', '.join(ternary)}{',' if len(ternary) == 1 else ''})")
        add("operators", f"OperatorEnum({', '.join(degrees)})")
    else:
        add("binary_operators", "[" + ", ".join(binary) + "]")
        add("unary_operators", "[" + ", ".join(unary) + "]")

    add("maxsize", str(options.maxsize))
    add("maxdepth", str(options.effective_maxdepth))
    add("populations", str(options.populations))
    add("population_size", str(options.population_size))
    add("ncycles_per_iteration", str(options.ncycles_per_iteration))
    add("tournament_selection_n", str(options.tournament_selection_n))
    add("tournament_selection_p", _julia_number(options.tournament_selection_p))
    add("crossover_probability", _julia_number(options.crossover_probability))
    weights = {**DEFAULT_MUTATION_WEIGHTS, **options.mutation_weights}
    add("mutation_weights", "MutationWeights(; " + ", ".join(f"{k}={_julia_number(v)}" for k, v in weights.items()) + ")")
    add("perturbation_factor", _julia_number(options.perturbation_factor))
    add("probability_negate_constant", _julia_number(options.probability_negate_constant))
    add("parsimony", _julia_number(options.parsimony))
    add("adaptive_parsimony_scaling", _julia_number(options.adaptive_parsimony_scaling))
    add("use_frequency", _julia_bool(options.use_frequency))
    add("fraction_replaced", _julia_number(options.fraction_replaced))
    add("fraction_replaced_hof", _julia_number(options.fraction_replaced_hof))
    add("topn", str(options.topn))
    add("should_optimize_constants", _julia_bool(options.should_optimize_constants))
    add("optimizer_probability", _julia_number(options.optimize_probability))
    add("optimizer_algorithm", '"BFGS"')
    add("optimizer_iterations", str(options.optimizer_iterations))
    add("optimizer_nrestarts", str(options.optimizer_nrestarts))
    add("should_simplify", _julia_bool(options.should_simplify))

    if options.complexity_of_operators:
        pairs = [f"{_julia_operator(n)} => {_julia_number(c)}" for n, c in options.complexity_of_operators.items()]
        add("complexity_of_operators", "[" + ", ".join(pairs) + "]")
    add("complexity_of_constants", _julia_number(options.complexity_of_constants))
    add("complexity_of_variables", _julia_number(options.complexity_of_variables))
    if options.constraints:
        pairs = [f"{_julia_operator(n)} => {_julia_constraint(v)}" for n, v in options.constraints.items()]
        add("constraints", "[" + ", ".join(pairs) + "]")
    if options.nested_constraints:
        outer = []
        for name, inner in options.nested_constraints.items():
            inner_pairs = ", ".join(f"{_julia_operator(n)} => {int(c)}" for n, c in inner.items())
            outer.append(f"{_julia_operator(name)} => [{inner_pairs}]")
        add("nested_constraints", "[" + ", ".join(outer) + "]")

    if problem is not None and problem.is_graph:
        add("loss_function", "SymDistillSR.graph_loss")
        add("elementwise_loss", "nothing")
    else:
        add("elementwise_loss", _julia_elementwise_loss(options))
    add("batching", _julia_bool(_batching(options, problem)))
    add("batch_size", str(options.batch_size))
    if options.timeout_in_seconds is not None:
        add("timeout_in_seconds", _julia_number(options.timeout_in_seconds))
    if options.max_evals is not None:
        add("max_evals", str(options.max_evals))
    if options.early_stop_condition is not None:
        add("early_stop_condition", _julia_number(options.early_stop_condition))
    add("deterministic", _julia_bool(options.deterministic))
    add("seed", "nothing" if options.random_state is None else str(int(options.random_state)))
    add("save_to_file", "false")
    return "Options(; " + ", ".join(keywords) + ")"


def _batching(options: SearchOptions, problem: Problem | None) -> bool:
    """Resolve ``batching="auto"``: batch above ``2 * batch_size`` targets, never for a graph loss."""
    if options.batching != "auto":
        return bool(options.batching)
    if problem is None or problem.is_graph:
        return False
    return problem.y.shape[0] > 2 * options.batch_size


def _julia_bool(value: bool) -> str:
    return "true" if value else "false"


def _julia_elementwise_loss(options: SearchOptions) -> str:
    loss = resolve_elementwise_loss(options.elementwise_loss)
    if loss is L2:
        return "L2DistLoss()"
    if loss is L1:
        return "L1DistLoss()"
    if loss.huber_delta > 0:
        return f"HuberLoss({_julia_number(loss.huber_delta)})"
    raise ValueError(f"elementwise_loss={options.elementwise_loss!r} has no SymbolicRegression.jl translation")


@dataclasses.dataclass(frozen=True)
class SearchCallSettings:
    """Keywords of ``SymDistillSR.search_hall_of_fame`` that are not in ``Options``.

    Attributes
    ----------
    niterations : int
    parallelism : str
        ``"serial"`` when ``deterministic`` (SymbolicRegression.jl requires it), else
        ``"multithreading"``.
    threads : int or None
        Julia threads to request when Julia starts (``procs``).
    graph : dict or None
        Arguments of ``SymDistillSR.graph_extra`` for a graph-aggregated problem.
    """

    niterations: int
    parallelism: str
    threads: int | None
    graph: dict[str, Any] | None


def search_call_settings(problem: Problem, options: SearchOptions) -> SearchCallSettings:
    """Return the ``equation_search`` settings that accompany the ``Options`` code."""
    graph = None
    if problem.is_graph:
        loss = resolve_elementwise_loss(options.elementwise_loss)
        kind = "Huber"
        if loss is L2:
            kind = "L2"
        elif loss is L1:
            kind = "L1"
        n_nodes = problem.y.shape[0]
        graph = {
            "receivers": np.asarray(problem.receivers, dtype=np.int64),
            "node_targets": problem.y,
            "node_divisor": problem.node_divisor if problem.node_divisor is not None else np.ones(n_nodes),
            "node_weights": problem.weights if problem.weights is not None else np.ones(n_nodes),
            "loss_kind": _LOSS_KIND[kind],
            "huber_delta": float(loss.huber_delta),
        }
    return SearchCallSettings(
        niterations=options.niterations,
        parallelism="serial" if options.deterministic else "multithreading",
        threads=options.procs,
        graph=graph,
    )


# Julia operator name printed in equations -> symdistill operator.
_PRINTED_NAMES = {printed: BUILTIN_OPERATORS[name] for name, (_, printed) in JULIA_OPERATORS.items()}
# Julia prints a function that Main cannot see with its module path, for example
# `SymbolicRegression.OperatorsModule.less`. Module names start with a capital letter.
_QUALIFIER = re.compile(r"(?<![\w.])(?:[A-Z]\w*\.)+(?=[A-Za-z_])")


def parse_julia_equation(text: str, variable_names: Sequence[str]) -> sympy.Expr:
    """Parse a SymbolicRegression.jl equation string into sympy.

    Variables ``x1`` ... ``xN`` (1-based) become ``sympy.Symbol(variable_names[i - 1])``;
    each operator becomes its sympy mapping (``greater(a, b)`` the numeric
    ``Piecewise((1, a > b), (0, True))``, ``IF(a, b, c)`` ``Piecewise((b, a > 0),
    (c, True))``, ``cbrt`` the real cube root). Module paths before an operator name,
    such as ``SymDistillSR.`` or ``SymbolicRegression.OperatorsModule.``, are ignored.

    Raises
    ------
    ValueError
        If the string uses a variable index outside ``1..len(variable_names)`` or an
        unknown name.
    """
    source = _QUALIFIER.sub("", text)
    local_names: dict[str, Any] = {f"x{i + 1}": sympy.Symbol(n) for i, n in enumerate(variable_names)}
    for printed, operator in _PRINTED_NAMES.items():
        if printed.isidentifier():
            local_names[printed] = operator.sympy
    local_names.update({"Inf": sympy.oo, "NaN": sympy.nan, "pi": sympy.pi})
    identifiers = set(re.findall(r"(?<![\w.])[A-Za-z_]\w*", source))
    unknown = sorted(identifiers - set(local_names))
    if unknown:
        raise ValueError(
            f"equation {text!r} contains unknown names {unknown}; expected x1..x{len(variable_names)} "
            f"and operators {sorted(k for k in _PRINTED_NAMES if k.isidentifier())}"
        )
    try:
        expr = sympy.sympify(source.replace("^", "**"), locals=local_names)
    except (sympy.SympifyError, SyntaxError, TypeError) as error:
        raise ValueError(f"cannot parse SymbolicRegression.jl equation {text!r}: {error}") from error
    return expr

