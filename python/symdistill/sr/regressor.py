"""``SymbolicRegressor``: the scikit-learn estimator in front of every SR backend.

``__init__`` stores keyword parameters (PySR's names: every field of
:class:`~symdistill.sr.options.SearchOptions`, plus ``backend`` and ``warm_start``);
``fit`` validates the data, runs the backend and builds ``equations_``, the Pareto
front with scores. Model selection, ``predict`` and the exports work the same for
every backend; for the native backend ``predict`` runs the very kernels the search
used.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
from typing import Any, Sequence

import numpy as np
import sympy

from symdistill.sr.backends.base import Candidate, Problem, get_backend
from symdistill.sr.hall_of_fame import pareto_scores, select_index
from symdistill.sr.options import SearchOptions
from symdistill.sr.validation import build_problem

logger = logging.getLogger(__name__)

_OPTION_FIELDS = [field for field in dataclasses.fields(SearchOptions)]
_EXTRA_PARAMETERS = {"backend": "native", "warm_start": False, "guesses": None}


def _default(field: dataclasses.Field) -> Any:
    # Mappings with a factory default are stored as None and filled in by SearchOptions.
    return None if field.default is dataclasses.MISSING else field.default


_PARAMETER_DEFAULTS = {field.name: _default(field) for field in _OPTION_FIELDS} | _EXTRA_PARAMETERS


class SymbolicRegressor:
    """Symbolic regression with a scikit-learn interface and PySR's keyword names.

    Parameters
    ----------
    backend : str, default "native"
        Search engine: ``"native"`` (built in), ``"operon"`` (needs pyoperon) or
        ``"julia"`` (needs juliacall and SymbolicRegression.jl).
    warm_start : bool, default False
        Start the next ``fit`` from the previous fit's Pareto front and, when
        ``equation_file`` exists, from the trees stored in it (native backend).
    guesses : list of str or sympy.Expr, optional
        Expressions over the variable names placed into the initial populations,
        e.g. ``["m1*m2*dx/r**3"]`` (native backend).
    **options
        Any field of :class:`~symdistill.sr.options.SearchOptions`, e.g.
        ``binary_operators``, ``unary_operators``, ``maxsize``, ``niterations``,
        ``populations``, ``population_size``, ``timeout_in_seconds``,
        ``model_selection``, ``elementwise_loss``, ``loss_function``,
        ``random_state``, ``procs``, ``equation_file``.

    Attributes
    ----------
    equations_ : pandas.DataFrame
        The Pareto front: ``complexity, loss, score, equation, sympy``.
    selected_index_ : int
        Row of ``equations_`` chosen by ``model_selection``.
    variable_names_ : tuple of str
    n_features_in_ : int
    stop_reason_ : str
        Why the native search stopped (``niterations``, ``timeout`` ...); ``""`` for
        other backends.
    """

    def __init__(self, **parameters: Any):
        unknown = sorted(set(parameters) - set(_PARAMETER_DEFAULTS))
        if unknown:
            raise TypeError(
                f"SymbolicRegressor got unknown parameter(s) {unknown}; valid parameters are "
                f"{sorted(_PARAMETER_DEFAULTS)}"
            )
        for name, default in _PARAMETER_DEFAULTS.items():
            setattr(self, name, parameters.get(name, default))

    # scikit-learn parameter protocol ---------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor parameters."""
        return {name: getattr(self, name) for name in _PARAMETER_DEFAULTS}

    def set_params(self, **parameters: Any) -> "SymbolicRegressor":
        """Set constructor parameters; raises ``ValueError`` on an unknown name."""
        for name, value in parameters.items():
            if name not in _PARAMETER_DEFAULTS:
                raise ValueError(f"invalid parameter {name!r} for SymbolicRegressor")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if v is not _PARAMETER_DEFAULTS[k] and v != _PARAMETER_DEFAULTS[k]}
        return "SymbolicRegressor(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

    def search_options(self) -> SearchOptions:
        """Return the validated :class:`SearchOptions` for the current parameters."""
        values = {}
        for field in _OPTION_FIELDS:
            value = getattr(self, field.name)
            if value is None and field.default is dataclasses.MISSING:
                continue
            values[field.name] = value
        return SearchOptions(**values)

    # fitting ---------------------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        weights: Any = None,
        variable_names: Sequence[str] | None = None,
        *,
        receivers: Any = None,
        node_divisor: Any = None,
        extra: Any = None,
    ) -> "SymbolicRegressor":
        """Search for expressions of ``y`` in the columns of ``X``.

        Parameters
        ----------
        X : array-like or DataFrame, shape [n_rows, n_features]
        y : array-like, shape [n_rows], or [n_nodes] with ``receivers``
        weights : array-like, shape like ``y``, optional
        variable_names : sequence of str, optional
            Column names (default: DataFrame columns, else ``x0, x1, ...``).
        receivers : int array, shape [n_rows], optional
            Graph-aggregated loss: each row is an edge whose value is summed into
            node ``receivers[i]``, and ``y`` contains one target per node.
        node_divisor : array-like, shape [n_nodes], optional
            Divide each node's sum by this (e.g. the mass, to compare with
            accelerations).
        extra : any, optional
            Payload for a custom ``loss_function`` (``dataset.extra``).

        Returns
        -------
        self
        """
        import pandas  # noqa: F401 - imported before the search so the timeout covers no import time after it

        options = self.search_options()
        problem = build_problem(X, y, weights, variable_names, receivers, node_divisor, extra)
        if self.guesses:
            problem = dataclasses.replace(problem, guesses=tuple(self.guesses))
        backend = get_backend(self.backend)
        backend.check(problem, options)
        if self.backend == "native":
            from symdistill.sr.backends.native import warm_start_trees

            seeds = self._warm_start_seeds(problem, options, warm_start_trees)
            candidates = backend.search(problem, options, seeds)
            self.stop_reason_ = backend.result.stop_reason
            self.n_evaluations_ = backend.result.n_evaluations
        else:
            candidates = backend.search(problem, options)
            self.stop_reason_ = ""
            self.n_evaluations_ = None
        self._set_results(problem, options, candidates)
        return self

    def _warm_start_seeds(self, problem: Problem, options: SearchOptions, read) -> list:
        if not self.warm_start:
            return []
        seeds = []
        if options.equation_file is not None and os.path.exists(options.equation_file):
            seeds.extend(read(options.equation_file, options, problem.n_features))
        previous = getattr(self, "_candidates", None)
        if previous and getattr(self, "n_features_in_", None) == problem.n_features:
            seeds.extend(candidate.tree for candidate in previous if getattr(candidate, "tree", ()))
        return seeds

    def _set_results(self, problem: Problem, options: SearchOptions, candidates: list[Candidate]) -> None:
        import pandas as pd

        front = _pareto(candidates)
        if not front:
            raise RuntimeError(
                "the search found no valid expression (every candidate was non-finite on the data); "
                "check the operators and the data range, or run longer"
            )
        complexities = [c.complexity for c in front]
        losses = [c.loss for c in front]
        scores = pareto_scores(complexities, losses)
        self._candidates = front
        self._problem_meta = (problem.receivers is not None, problem.node_divisor is not None)
        self._operator_set = options.operator_set
        self.variable_names_ = problem.variable_names
        self.n_features_in_ = problem.n_features
        self.equations_ = pd.DataFrame(
            {
                "complexity": complexities,
                "loss": losses,
                "score": scores,
                "equation": [c.equation or str(c.expression) for c in front],
                "sympy": [c.expression for c in front],
            }
        )
        self.selected_index_ = select_index(losses, scores, options.model_selection)

    # using the result ------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "equations_"):
            raise RuntimeError("this SymbolicRegressor is not fitted yet; call fit(X, y) first")

    def _index(self, index: int | None) -> int:
        self._check_fitted()
        if index is None:
            return self.selected_index_
        n = len(self.equations_)
        if not -n <= index < n:
            raise IndexError(f"equation index {index} is out of range for {n} equations")
        return index % n

    def get_best(self, index: int | None = None):
        """Return the selected row of ``equations_`` (a pandas Series)."""
        return self.equations_.iloc[self._index(index)]

    def sympy(self, index: int | None = None) -> sympy.Expr:
        """Return the selected (or ``index``-th) expression as sympy."""
        return self.equations_["sympy"].iloc[self._index(index)]

    def latex(self, index: int | None = None, precision: int = 3) -> str:
        """Return the LaTeX form of the selected expression, floats to ``precision`` digits."""
        expression = self.sympy(index)
        rounded = expression.xreplace({f: sympy.Float(f, precision) for f in expression.atoms(sympy.Float)})
        return sympy.latex(rounded)

    def symbols(self) -> tuple[sympy.Symbol, ...]:
        """Return the input Symbols in column order."""
        self._check_fitted()
        return tuple(sympy.Symbol(name) for name in self.variable_names_)

    def torch(self, index: int | None = None, trainable: bool = True):
        """Return a torch module of the expression with trainable float constants.

        The module maps a tensor ``[..., n_features]`` (columns in
        ``variable_names_`` order) to ``[...]``; its ``.sympy()`` method returns the
        expression with the current constant values.
        """
        from symdistill.sr.export_torch import SympyModule

        return SympyModule(self.sympy(index), list(self.symbols()), trainable=trainable)

    def predict(self, X: Any, index: int | None = None, *, receivers: Any = None, node_divisor: Any = None) -> np.ndarray:
        """Evaluate the selected expression on ``X``.

        Returns one value per row, or, with ``receivers`` (and optionally
        ``node_divisor``), one value per node: the sum over each node's rows divided
        by the divisor, as in the graph-aggregated loss. NaN marks rows where the
        expression is undefined.

        Shapes
        ------
        X : [n_rows, n_features]; receivers : [n_rows]; returns [n_rows] or [n_nodes]
        """
        i = self._index(index)
        X_array = np.asarray(X, dtype=np.float64)
        if X_array.ndim == 1 and self.n_features_in_ == 1:
            X_array = X_array[:, None]
        if X_array.ndim != 2 or X_array.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape [n_rows, {self.n_features_in_}], got {X_array.shape}")
        candidate = self._candidates[i]
        tree = getattr(candidate, "tree", ())
        if tree:
            values = _evaluate_tree_rows(tree, X_array, self._operator_set)
        else:
            values = _evaluate_sympy_rows(candidate.expression, self.symbols(), X_array)
        if receivers is None:
            return values
        receivers_array = np.asarray(receivers, dtype=np.int64)
        if receivers_array.shape != (X_array.shape[0],):
            raise ValueError(f"receivers must have shape [{X_array.shape[0]}], got {receivers_array.shape}")
        n_nodes = int(receivers_array.max()) + 1 if node_divisor is None else len(node_divisor)
        nodes = np.bincount(receivers_array, weights=values, minlength=n_nodes)
        if node_divisor is not None:
            nodes = nodes / np.asarray(node_divisor, dtype=np.float64)
        return nodes


def _pareto(candidates: Sequence[Candidate]) -> list[Candidate]:
    front = []
    best = np.inf
    for candidate in sorted(candidates, key=lambda c: (c.complexity, c.loss)):
        if np.isfinite(candidate.loss) and candidate.loss < best:
            front.append(candidate)
            best = candidate.loss
    return front


def _evaluate_tree_rows(tree, X: np.ndarray, operator_set) -> np.ndarray:
    # Same code path as the search: the Numba kernel, or NumPy for user operators.
    from symdistill.sr import _kernels
    from symdistill.sr._reference import evaluate_rows_masked
    from symdistill.sr.operators import FIRST_CUSTOM_CODE
    from symdistill.sr.tree import to_program

    Xt = np.ascontiguousarray(X.T)
    if not any(code >= FIRST_CUSTOM_CODE for code, _ in tree):
        out = np.empty(Xt.shape[1])
        if _kernels.evaluate_program(to_program(tree), Xt, out):
            return out
    # Some rows are non-finite (or user operators are present): NaN marks those rows only.
    return evaluate_rows_masked(tree, Xt, operator_set.by_code())


def _evaluate_sympy_rows(expression: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray) -> np.ndarray:
    function = sympy.lambdify(list(symbols), expression, modules="numpy")
    with np.errstate(all="ignore"):
        values = np.asarray(function(*X.T), dtype=np.float64)
    return np.broadcast_to(values, (X.shape[0],)).copy()


# Give __init__ an explicit keyword-only signature so scikit-learn style introspection
# (inspect.signature, get_params, clone) finds every parameter and its default.
SymbolicRegressor.__init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default) for name, default in _PARAMETER_DEFAULTS.items()]
)
