"""The backend protocol: how a search engine plugs in behind ``SymbolicRegressor``.

A backend receives a validated :class:`Problem` (float64 arrays, weights, variable
names, optional graph aggregation and an ``extra`` payload) and a
:class:`~symdistill.sr.options.SearchOptions`, runs its search and returns a list of
:class:`Candidate`. The estimator does the rest for every backend alike: scoring,
model selection, the ``equations_`` table, ``predict`` and the exports.

Backends are found by name with :func:`get_backend`, which imports optional engines
only when asked and raises an ``ImportError`` naming the extra to install.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np
import sympy

from symdistill.sr.options import SearchOptions


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """One validated regression problem.

    Attributes
    ----------
    X : ndarray of float64, shape [n_rows, n_features]
        Inputs, all finite, C-contiguous.
    y : ndarray of float64, shape [n_targets]
        Targets, all finite. ``n_targets == n_rows`` unless ``receivers`` is set, in
        which case there is one target per receiver node.
    weights : ndarray of float64, shape [n_targets], or None
        Non-negative sample weights with a positive sum.
    variable_names : tuple of str
        One name per column of ``X``; candidate expressions use
        ``sympy.Symbol(name)`` for these names.
    receivers : ndarray of int64, shape [n_rows], or None
        Graph-aggregated loss: row ``i`` is an edge whose value is added to node
        ``receivers[i]`` (``0 <= receivers[i] < n_targets``). The node prediction is
        the sum over its incoming edges, divided by ``node_divisor`` when given.
    node_divisor : ndarray of float64, shape [n_targets], or None
        Known per-node transform applied after the sum (for example the mass, so the
        aggregated forces become accelerations). Non-zero.
    extra : Any
        Payload passed through to a custom ``loss_function`` as ``dataset.extra``.
    guesses : tuple of sympy.Expr
        Expressions to seed the search with (warm start); may be empty.
    """

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    variable_names: tuple[str, ...]
    receivers: np.ndarray | None = None
    node_divisor: np.ndarray | None = None
    extra: Any = None
    guesses: tuple[sympy.Expr, ...] = ()

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def is_graph(self) -> bool:
        """True when the loss aggregates rows over receiver nodes."""
        return self.receivers is not None

    @property
    def symbols(self) -> tuple[sympy.Symbol, ...]:
        """The sympy Symbols of the input columns, in column order (no assumptions)."""
        return tuple(sympy.Symbol(name) for name in self.variable_names)


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One expression found by a backend.

    Attributes
    ----------
    complexity : int
        Complexity as the backend counts it (node count with per-operator weights for
        the native engine).
    loss : float
        Loss of the expression on the full training data under the configured loss;
        ``inf`` for an invalid expression.
    expression : sympy.Expr
        The expression over ``Problem.symbols``: plain ``sympy.Symbol(name)`` for the
        variable names, without assumptions.
    equation : str
        Human-readable equation string as the backend prints it.
    """

    complexity: int
    loss: float
    expression: sympy.Expr
    equation: str = ""


@runtime_checkable
class Backend(Protocol):
    """A symbolic-regression engine.

    ``name`` is the registry name. ``check`` raises ``ValueError`` naming each option
    or problem feature the backend cannot honour (for example a graph-aggregated loss
    or a custom operator), before any work starts. ``search`` runs the search and
    returns the candidates, typically the best per complexity.
    """

    name: ClassVar[str]

    def check(self, problem: Problem, options: SearchOptions) -> None: ...

    def search(self, problem: Problem, options: SearchOptions) -> list[Candidate]: ...


@dataclasses.dataclass(frozen=True)
class _Entry:
    module: str
    attribute: str
    requires: tuple[str, ...]
    extra: str | None


_REGISTRY: dict[str, _Entry] = {
    "native": _Entry("symdistill.sr.backends.native", "NativeBackend", (), None),
    "operon": _Entry("symdistill.sr.backends.operon", "OperonBackend", ("pyoperon",), "operon"),
    "julia": _Entry("symdistill.sr.backends.julia", "JuliaBackend", ("juliacall",), "julia"),
}


def available_backends() -> tuple[str, ...]:
    """Return the registered backend names (installed or not)."""
    return tuple(_REGISTRY)


def check_backend(name: str) -> None:
    """Raise unless ``name`` is a registered backend whose optional dependencies are installed.

    Nothing is imported, so a run can check its backend before any long stage.

    Raises
    ------
    ValueError
        If no backend has that name; the message lists the registered names.
    ImportError
        If the backend's optional dependency is missing; the message names the
        ``pip install 'symdistill[extra]'`` command that installs it.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; registered backends are {list(_REGISTRY)}")
    entry = _REGISTRY[name]
    for requirement in entry.requires:
        if importlib.util.find_spec(requirement) is None:
            raise ImportError(
                f"the {name!r} backend needs the {requirement!r} package, which is not installed; "
                f"install it with: pip install 'symdistill[{entry.extra}]'"
            )


def get_backend(name: str) -> Backend:
    """Return a new instance of the backend registered under ``name``.

    Raises the errors of :func:`check_backend` for an unknown or uninstalled backend.
    """
    check_backend(name)
    entry = _REGISTRY[name]
    module = importlib.import_module(entry.module)
    backend_class = getattr(module, entry.attribute)
    return backend_class()


def candidates_sorted(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Return candidates ordered by complexity, then loss."""
    return sorted(candidates, key=lambda c: (c.complexity, c.loss))
