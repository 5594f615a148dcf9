"""Search options shared by every backend, with PySR's keyword names.

:class:`SearchOptions` is frozen and validated on construction, so a backend can
trust every field. Backends read the fields they understand and raise a
``ValueError`` (via :meth:`symdistill.sr.backends.base.Backend.check`) for options
they cannot honour.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Callable, Mapping

from symdistill.sr.operators import DEFAULT_BINARY_OPERATORS, Operator, build_operator_set

MUTATION_NAMES = (
    "mutate_constant",
    "mutate_operator",
    "mutate_feature",
    "swap_operands",
    "rotate_tree",
    "add_node",
    "insert_node",
    "delete_node",
    "simplify",
    "randomize",
    "do_nothing",
    "optimize",
)

# Default mutation weights of PySR 1.x (the `weight_*` keywords), which SymbolicRegression.jl's
# `Options()` also uses.
DEFAULT_MUTATION_WEIGHTS: Mapping[str, float] = {
    "mutate_constant": 0.0346,
    "mutate_operator": 0.293,
    "mutate_feature": 0.1,
    "swap_operands": 0.198,
    "rotate_tree": 4.26,
    "add_node": 2.47,
    "insert_node": 0.0112,
    "delete_node": 0.870,
    "simplify": 0.00209,
    "randomize": 0.000502,
    "do_nothing": 0.273,
    "optimize": 0.0,
}

MODEL_SELECTIONS = ("best", "score", "accuracy")

OPTIMIZER_ALGORITHMS = ("auto", "BFGS", "LM")


@dataclasses.dataclass(frozen=True)
class SearchOptions:
    """Options of one symbolic-regression search.

    Names follow PySR where the concept is the same. Operator lists hold PySR names
    (``"+"``, ``"^"``, ``"exp"``, ``">"``, ``"IF"`` ...) or operators built with
    :func:`symdistill.sr.operators.custom_operator`.

    Losses: ``elementwise_loss`` is ``"L2"``, ``"L1"``, ``"Huber"`` (PySR's
    ``"L2DistLoss()"``, ``"L1DistLoss()"``, ``"HuberLoss(delta)"`` spellings are
    accepted) or a callable ``f(prediction, target) -> array`` of per-row losses.
    ``loss_function`` replaces the whole objective: a callable
    ``f(prediction, dataset) -> float`` that receives only fully finite predictions.

    Batching: each island iteration evaluates on ``batch_size`` targets drawn at
    random, and hall-of-fame entries are re-scored on the full data. Rows are drawn
    with replacement. For a graph-aggregated loss, whole nodes are drawn with all
    their incoming edges. ``"auto"`` batches when there are more than
    ``2 * batch_size`` targets.

    Constant fitting: ``optimizer_algorithm="LM"`` (Levenberg-Marquardt) applies to
    the L2 loss without a custom ``loss_function`` and falls back to BFGS otherwise;
    ``"auto"`` (the default) does the same in the native engine and means BFGS for
    backends without LM.

    ``fit_root_constants``: under the L2 loss (also graph-aggregated), a child whose
    root is ``a * g``, ``g / a``, ``a / g`` and/or ``... + b`` (or ``- b``) gets the
    least-squares values of ``a`` and ``b`` before its loss is taken. It applies in the
    compiled loop (built-in operators and loss, no operator constraints) and only when
    ``should_optimize_constants`` is on.

    ``child_optimize_probability``: under the L2 loss without graph aggregation, this
    fraction of the children made by a structural mutation (any but a constant
    perturbation) get all their constants fitted by ``optimizer_iterations``
    Levenberg-Marquardt steps before their loss is taken, so a new structure is not
    judged by constants tuned for its parent. Compiled loop only, and only when
    ``should_optimize_constants`` is on.

    ``snap_constants``: after the search, each hall-of-fame constant is replaced by
    the nearest integer, fraction ``p/q`` or multiple ``p/q * pi`` (``q <= 12``)
    where the loss grows by no more than float noise (see
    :func:`symdistill.sr.snapping.snap_constants`), and such values appear as exact
    numbers in the sympy forms, so a fitted ``1.5707963267948966`` becomes ``pi/2``.
    The native engine applies it; other backends ignore it.

    Determinism: the same ``random_state`` gives the same hall of fame for any
    ``procs``, because every island has its own random stream and islands merge in
    a fixed order. Only ``timeout_in_seconds`` and Ctrl-C stop a run at a
    time-dependent point. ``random_state=None`` draws a fresh seed. ``deterministic``
    is accepted for PySR compatibility and changes nothing.
    """

    binary_operators: tuple[str | Operator, ...] = DEFAULT_BINARY_OPERATORS
    unary_operators: tuple[str | Operator, ...] = ()
    ternary_operators: tuple[str | Operator, ...] = ()
    maxsize: int = 30
    maxdepth: int | None = None
    niterations: int = 40
    populations: int = 15
    population_size: int = 33
    ncycles_per_iteration: int = 300
    tournament_selection_n: int = 12
    tournament_selection_p: float = 0.86
    crossover_probability: float = 0.0259
    mutation_weights: Mapping[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_MUTATION_WEIGHTS))
    perturbation_factor: float = 0.129
    probability_negate_constant: float = 0.01
    parsimony: float = 0.0
    adaptive_parsimony_scaling: float = 20.0
    use_frequency: bool = True
    fraction_replaced: float = 0.00036
    fraction_replaced_hof: float = 0.0614
    topn: int = 12
    should_optimize_constants: bool = True
    optimize_probability: float = 0.14
    optimizer_algorithm: str = "auto"
    optimizer_iterations: int = 8
    optimizer_nrestarts: int = 2
    should_simplify: bool = True
    fit_root_constants: bool = True
    child_optimize_probability: float = 0.05
    snap_constants: bool = True
    complexity_of_operators: Mapping[str, float] = dataclasses.field(default_factory=dict)
    complexity_of_constants: float = 1.0
    complexity_of_variables: float = 1.0
    constraints: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    nested_constraints: Mapping[str, Mapping[str, int]] = dataclasses.field(default_factory=dict)
    elementwise_loss: str | Callable[..., Any] = "L2"
    loss_function: Callable[..., float] | None = None
    model_selection: str = "best"
    batching: bool | str = "auto"
    batch_size: int = 1000
    timeout_in_seconds: float | None = None
    max_evals: int | None = None
    early_stop_condition: float | Callable[[float, int], bool] | None = None
    random_state: int | None = 0
    deterministic: bool = True
    procs: int | None = None
    equation_file: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        for name in ("binary_operators", "unary_operators", "ternary_operators"):
            value = getattr(self, name)
            if isinstance(value, (str, Operator)):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        # Resolving the operators validates their names and arities.
        build_operator_set(self.binary_operators, self.unary_operators, self.ternary_operators)
        _check_int(self, "maxsize", minimum=4)
        if self.maxdepth is not None:
            _check_int(self, "maxdepth", minimum=1)
        _check_int(self, "niterations", minimum=0)
        _check_int(self, "populations", minimum=1)
        _check_int(self, "population_size", minimum=2)
        _check_int(self, "ncycles_per_iteration", minimum=1)
        _check_int(self, "tournament_selection_n", minimum=1)
        if self.tournament_selection_n > self.population_size:
            raise ValueError(
                f"tournament_selection_n={self.tournament_selection_n} exceeds population_size="
                f"{self.population_size}; lower it or raise population_size"
            )
        _check_int(self, "topn", minimum=1)
        _check_int(self, "optimizer_iterations", minimum=0)
        _check_int(self, "optimizer_nrestarts", minimum=0)
        _check_int(self, "batch_size", minimum=1)
        if self.batching not in (True, False, "auto"):
            raise ValueError(f"batching={self.batching!r} is invalid; use True, False or 'auto'")
        for name in (
            "tournament_selection_p",
            "crossover_probability",
            "probability_negate_constant",
            "fraction_replaced",
            "fraction_replaced_hof",
            "optimize_probability",
            "child_optimize_probability",
        ):
            _check_float(self, name, 0.0, 1.0)
        for name in ("perturbation_factor", "parsimony", "adaptive_parsimony_scaling"):
            _check_float(self, name, 0.0, math.inf)
        for name in ("complexity_of_constants", "complexity_of_variables"):
            _check_float(self, name, 1e-12, math.inf)
        unknown = sorted(set(self.mutation_weights) - set(MUTATION_NAMES))
        if unknown:
            raise ValueError(f"unknown mutation(s) {unknown} in mutation_weights; valid names are {list(MUTATION_NAMES)}")
        weights = {**DEFAULT_MUTATION_WEIGHTS, **self.mutation_weights}
        bad = {k: v for k, v in weights.items() if not (isinstance(v, (int, float)) and v >= 0 and math.isfinite(v))}
        if bad:
            raise ValueError(f"mutation weights must be finite and >= 0, got {bad}")
        if sum(weights.values()) <= 0:
            raise ValueError("all mutation weights are zero; give at least one a positive weight")
        object.__setattr__(self, "mutation_weights", weights)
        if self.optimizer_algorithm not in OPTIMIZER_ALGORITHMS:
            raise ValueError(
                f"optimizer_algorithm={self.optimizer_algorithm!r} is invalid; use one of {OPTIMIZER_ALGORITHMS}"
            )
        if self.model_selection not in MODEL_SELECTIONS:
            raise ValueError(f"model_selection={self.model_selection!r} is invalid; use one of {MODEL_SELECTIONS}")
        if self.timeout_in_seconds is not None and not (self.timeout_in_seconds > 0):
            raise ValueError(f"timeout_in_seconds={self.timeout_in_seconds!r} must be positive or None")
        if self.max_evals is not None:
            _check_int(self, "max_evals", minimum=1)
        if self.procs is not None:
            _check_int(self, "procs", minimum=1)
        if self.loss_function is not None and not callable(self.loss_function):
            raise TypeError(f"loss_function must be callable f(prediction, dataset) -> float, got {self.loss_function!r}")
        if self.early_stop_condition is not None and not callable(self.early_stop_condition):
            if not isinstance(self.early_stop_condition, (int, float)) or math.isnan(self.early_stop_condition):
                raise ValueError(
                    f"early_stop_condition={self.early_stop_condition!r} must be a loss threshold or "
                    "a callable f(loss, complexity) -> bool"
                )
        for name, value in self.complexity_of_operators.items():
            from symdistill.sr.operators import lookup

            lookup(name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ValueError(f"complexity_of_operators[{name!r}]={value!r} must be a positive number")
        # Loss names are validated here so a typo fails before any work starts.
        from symdistill.sr.losses import resolve_elementwise_loss

        resolve_elementwise_loss(self.elementwise_loss)

    @property
    def operator_set(self):
        """The resolved :class:`~symdistill.sr.operators.OperatorSet`."""
        return build_operator_set(self.binary_operators, self.unary_operators, self.ternary_operators)

    @property
    def effective_maxdepth(self) -> int:
        """``maxdepth``, defaulting to ``maxsize`` as in SymbolicRegression.jl."""
        return self.maxdepth if self.maxdepth is not None else self.maxsize


def _check_int(options: SearchOptions, name: str, minimum: int) -> None:
    value = getattr(options, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid; expected an integer >= {minimum}")


def _check_float(options: SearchOptions, name: str, low: float, high: float) -> None:
    value = getattr(options, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
        raise ValueError(f"{name}={value!r} is invalid; expected a number in [{low}, {high}]")
