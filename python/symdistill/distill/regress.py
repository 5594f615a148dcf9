"""Symbolic regression on the parts of a trained graph network.

Three kinds of fits, all with ``symdistill.sr.SymbolicRegressor`` and, by default, its
``score`` model-selection rule (the expression maximising ``-d log(loss) / d complexity`` along
the Pareto front):

- an edge formula per kept message component, against the edge inputs (receiver and
  sender states, ``dx dy [dz]`` and ``r``). Optionally the loss is graph-aggregated:
  the candidate is summed over each receiver's incoming edges and compared with the
  network's summed message;
- a node formula per output column, against the body's own state and the summed kept
  message components ``E<k>``, with the network's node-model output as target;
- for the flattened Hamiltonian network, the pair energy (edge inputs, momenta in place
  of velocities) and the self energy (node state with momenta).

Samples come from training graphs. Each fit writes its hall of fame as CSV.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from symdistill.symbolic.features import edge_names, state_names, summed_message_name
from symdistill.symbolic.formula import Formula

logger = logging.getLogger(__name__)

EDGE_VARIABLE_SETS = ("all", "relative")
EDGE_TARGETS = ("messages", "summed")
SCREEN_SETTINGS = ("screen_steps", "screen_graphs", "screen_lr", "screen_tolerance")


@dataclasses.dataclass(frozen=True)
class RegressionConfig:
    """Settings of every symbolic-regression fit of one run.

    Attributes
    ----------
    binary_operators, unary_operators, ternary_operators : tuple of str
        Operator names as ``SymbolicRegressor`` spells them (PySR names; ``IF`` is
        ternary).
    maxsize : int
        Largest expression complexity.
    niterations, populations, population_size : int
        Search effort per fit.
    timeout_in_seconds : float or None
        Wall-clock limit per fit.
    n_edges, n_nodes : int
        Edge and node samples drawn from training graphs for the fits.
    edge_variables : {"all", "relative"}
        ``all``: receiver and sender states, ``d<axis>`` and ``r``; ``relative``:
        ``d<axis>``, ``r``, charges and masses only.
    edge_target : {"messages", "summed"}
        ``messages`` fits each edge value; ``summed`` uses the graph-aggregated loss
        against each receiver's summed message.
    elementwise_loss : str
        Loss of every fit (``"L1"`` is the mean absolute error used by Cranmer et al.).
    model_selection : str
        ``score``, ``best`` or ``accuracy``.
    backend : str
        ``SymbolicRegressor`` backend name.
    procs : int or None
        Worker threads per fit; None uses all cores.
    sr_options : mapping
        Further ``SymbolicRegressor`` keywords (for example ``parsimony`` or
        ``tournament_selection_n``); they override the fields above.
    seed : int
        Seed of the sampling and of every search.
    screen_steps : int
        Steps of the short joint refit that screens every hall-of-fame candidate in the
        substituted model (``symdistill.screening``); 0 keeps the ``model_selection`` choice.
    screen_graphs : int
        Training graphs for the screening refits, and as many other training graphs
        that judge them.
    screen_lr : float
        Learning rate of the screening refits, relative to each constant's size (larger
        than the final refit's, so that a short refit reaches a candidate's basin).
    screen_tolerance : float
        Screening keeps the simplest candidate whose acceleration error is within
        ``1 + screen_tolerance`` times the minimum error.
    """

    binary_operators: tuple[str, ...] = ("+", "-", "*", "/")
    unary_operators: tuple[str, ...] = ()
    ternary_operators: tuple[str, ...] = ()
    maxsize: int = 25
    niterations: int = 40
    populations: int = 8
    population_size: int = 33
    timeout_in_seconds: float | None = 60.0
    n_edges: int = 3000
    n_nodes: int = 2000
    edge_variables: str = "all"
    edge_target: str = "messages"
    elementwise_loss: str = "L1"
    model_selection: str = "score"
    backend: str = "native"
    procs: int | None = None
    sr_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 0
    screen_steps: int = 0
    screen_graphs: int = 500
    screen_lr: float = 3e-2
    screen_tolerance: float = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "binary_operators", tuple(self.binary_operators))
        object.__setattr__(self, "unary_operators", tuple(self.unary_operators))
        object.__setattr__(self, "ternary_operators", tuple(self.ternary_operators))
        if self.edge_variables not in EDGE_VARIABLE_SETS:
            raise ValueError(f"edge_variables={self.edge_variables!r} is invalid; use one of {EDGE_VARIABLE_SETS}")
        if self.edge_target not in EDGE_TARGETS:
            raise ValueError(f"edge_target={self.edge_target!r} is invalid; use one of {EDGE_TARGETS}")
        for name in ("n_edges", "n_nodes", "niterations", "populations", "maxsize", "screen_graphs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"regression {name} must be a positive integer, got {value!r}")
        from symdistill.sr.backends.base import check_backend

        try:
            check_backend(self.backend)
        except ImportError as error:
            # Raised as ValueError so that the run stops at configuration time, before training.
            raise ValueError(str(error)) from None
        if self.backend == "native":
            # Checked here so that a misspelt operator stops the run before training.
            from symdistill.sr.operators import build_operator_set

            build_operator_set(self.binary_operators, self.unary_operators, self.ternary_operators)
        if isinstance(self.screen_steps, bool) or not isinstance(self.screen_steps, int) or self.screen_steps < 0:
            raise ValueError(f"regression screen_steps must be an integer >= 0 (0 turns screening off), "
                             f"got {self.screen_steps!r}")
        if not 0 < self.screen_lr < float("inf"):
            raise ValueError(f"regression screen_lr must be a positive finite number, got {self.screen_lr!r}")
        if not 0 <= self.screen_tolerance < float("inf"):
            raise ValueError(f"regression screen_tolerance must be a finite number >= 0, got {self.screen_tolerance!r}")
        if self.timeout_in_seconds is not None and not self.timeout_in_seconds > 0:
            raise ValueError(f"regression timeout_in_seconds must be positive or None, got {self.timeout_in_seconds!r}")


@dataclasses.dataclass
class FitResult:
    """One fitted function: the chosen formula, its hall of fame and where it was saved."""

    formula: Formula
    complexity: int
    loss: float
    equations: Any  # pandas.DataFrame: complexity, loss, score, equation, chosen
    hall_of_fame: Path

    def summary(self) -> dict[str, Any]:
        """Return the JSON form used in reports."""
        return {**self.formula.to_dict(), "complexity": self.complexity, "loss": self.loss,
                "hall_of_fame": self.hall_of_fame.name}


def edge_variable_names(dim: int, which: str = "all", momenta: bool = False) -> list[str]:
    """Return the SR input names for edge fits (see ``RegressionConfig.edge_variables``)."""
    if which == "all":
        return edge_names(dim, momenta)
    if which == "relative":
        axes = state_names(dim)[:dim]
        return [*("d" + a for a in axes), "r", "q1", "q2", "m1", "m2"]
    raise ValueError(f"edge variable set {which!r} is invalid; use one of {EDGE_VARIABLE_SETS}")


def _regressor(config: RegressionConfig, equation_file: Path):
    from symdistill.sr import SymbolicRegressor

    estimator = SymbolicRegressor(
        binary_operators=list(config.binary_operators),
        unary_operators=list(config.unary_operators),
        ternary_operators=list(config.ternary_operators),
        maxsize=config.maxsize,
        niterations=config.niterations,
        populations=config.populations,
        population_size=config.population_size,
        timeout_in_seconds=config.timeout_in_seconds,
        elementwise_loss=config.elementwise_loss,
        model_selection=config.model_selection,
        random_state=config.seed,
        deterministic=True,
        procs=config.procs,
        equation_file=str(equation_file),
        backend=config.backend,
    )
    estimator.set_params(**dict(config.sr_options))
    return estimator


def run_regression(
    component: str, X: np.ndarray, y: np.ndarray, variables: Sequence[str], config: RegressionConfig,
    out_dir: str | os.PathLike[str], dynamic: Sequence[str] | None = None, **fit_options: Any,
) -> FitResult:
    """Fit ``y`` from ``X`` with symbolic regression and choose a formula by the configured rule.

    The hall of fame is saved as ``<out_dir>/hall_of_fame_<component>.csv`` with a
    ``chosen`` column marking the selected row. ``fit_options`` go to
    ``SymbolicRegressor.fit`` (for example the graph-aggregated loss's receivers).

    ``dynamic`` (for energies) restricts the choice to candidates with a term that
    depends on one of these variables: the other terms are offsets without effect on
    the dynamics, so a candidate made only of them is not a valid energy. The scores are
    recomputed along the Pareto front of the eligible candidates.

    Shapes
    ------
    X : [n_rows, len(variables)]
    y : [n_rows], or [n_nodes] with a graph-aggregated loss
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(variables):
        raise ValueError(f"X must be [n_rows, {len(variables)}] for variables {list(variables)}, got {X.shape}")
    logger.info("symbolic regression for %s: %d rows, %d variables", component, X.shape[0], X.shape[1])

    estimator = _regressor(config, out_dir / f".search_{component}.csv")
    estimator.fit(X, y, variable_names=list(variables), **fit_options)
    equations = estimator.equations_.copy()
    if dynamic is None:
        chosen_expr = estimator.sympy()
        chosen_row = _chosen_row(estimator, equations, chosen_expr)
    else:
        chosen_row = _choose_dynamic(equations, dynamic, config.model_selection)
        chosen_expr = equations["sympy"].iloc[chosen_row]
    equations["chosen"] = [i == chosen_row for i in range(len(equations))]

    from symdistill._io import atomic_path

    path = out_dir / f"hall_of_fame_{component}.csv"
    with atomic_path(path, suffix=".csv") as tmp:
        equations.drop(columns=[c for c in ("sympy", "lambda_format") if c in equations]).to_csv(tmp, index=False)
    row = equations.iloc[chosen_row]
    formula = Formula(component, chosen_expr, tuple(variables))
    logger.info("chose %s = %s (complexity %s, loss %.4g)", component, chosen_expr, row["complexity"], row["loss"])
    return FitResult(formula, int(row["complexity"]), float(row["loss"]), equations.drop(columns=["sympy"], errors="ignore"), path)


def _chosen_row(estimator: Any, equations: Any, expr: Any) -> int:
    best_index = getattr(estimator, "selected_index_", None)
    if best_index is not None:
        return int(best_index)
    for i, candidate in enumerate(equations["sympy"]):
        if candidate == expr:
            return i
    raise RuntimeError(f"the selected expression {expr} is not in the estimator's equations_ table")


def _choose_dynamic(equations: Any, dynamic: Sequence[str], model_selection: str) -> int:
    from symdistill.sr.hall_of_fame import pareto_scores, select_index
    from symdistill.symbolic.formula import drop_offsets

    order = np.argsort(equations["complexity"].to_numpy(), kind="stable")
    eligible = [int(i) for i in order if drop_offsets(equations["sympy"].iloc[i], dynamic) != 0]
    if not eligible:
        logger.warning("no candidate depends on %s; keeping the estimator's choice", ", ".join(dynamic))
        return int(order[0])
    complexities = equations["complexity"].to_numpy()[eligible]
    losses = equations["loss"].to_numpy()[eligible]
    scores = pareto_scores(list(complexities), list(losses))
    return eligible[select_index(losses, scores, model_selection)]


def dynamic_variables(dim: int) -> list[str]:
    """Return the position and momentum variables (node and edge names) of energy formulas."""
    axes = state_names(dim)[:dim]
    names = [*axes, *("p" + a for a in axes), *("d" + a for a in axes), "r"]
    return [*names, *(f"{a}{s}" for a in axes for s in "12"), *(f"p{a}{s}" for a in axes for s in "12")]


def sample_rows(n_available: int, n: int, seed: int) -> np.ndarray:
    """Return ``min(n, n_available)`` distinct row indices drawn with ``seed``."""
    if n_available < 1:
        raise ValueError("no rows to sample symbolic-regression data from")
    return np.sort(np.random.default_rng(seed).choice(n_available, size=min(n, n_available), replace=False))


def fit_edge_formulas(
    messages: Any, components: Sequence[int], dim: int, config: RegressionConfig, out_dir: str | os.PathLike[str],
) -> list[FitResult]:
    """Fit one formula per message component from a recorded-messages table.

    ``messages`` is the table of ``symdistill.distill.record_messages`` (edge inputs
    and columns ``e0 ...``), recorded on training graphs.
    """
    variables = edge_variable_names(dim, config.edge_variables)
    missing = [name for name in [*variables, *(f"e{c}" for c in components)] if name not in messages.columns]
    if missing:
        raise ValueError(f"the messages table lacks columns {missing}; record it with symdistill.distill.record_messages")
    rows = sample_rows(len(messages), config.n_edges, config.seed)
    table = messages.iloc[rows]
    X = table[variables].to_numpy(dtype=np.float64)
    return [run_regression(f"e{c}", X, table[f"e{c}"].to_numpy(), variables, config, out_dir) for c in components]


def fit_edge_formulas_summed(
    states: np.ndarray, summed: np.ndarray, components: Sequence[int], dim: int,
    config: RegressionConfig, out_dir: str | os.PathLike[str],
) -> list[FitResult]:
    """Fit edge formulas through the graph-aggregated loss against summed messages.

    Each candidate is evaluated on every edge of the given graphs, summed over each
    receiver's incoming edges and compared with the network's summed component.

    Shapes
    ------
    states : [n_graphs, N, F]
    summed : [n_graphs, N, msg_dim] summed messages of the network
    """
    n_graphs, n_bodies, _ = states.shape
    receivers, senders = _complete_pairs_numpy(n_bodies)
    variables = edge_variable_names(dim, config.edge_variables)
    X = _edge_table(states, receivers, senders, variables, dim)
    edge_receiver = (np.arange(n_graphs)[:, None] * n_bodies + receivers[None, :]).reshape(-1)
    results = []
    for c in components:
        y = summed[..., c].reshape(-1)
        results.append(run_regression(f"e{c}", X, y, variables, config, out_dir, receivers=edge_receiver))
    return results


def _complete_pairs_numpy(n: int) -> tuple[np.ndarray, np.ndarray]:
    receivers, senders = np.nonzero(~np.eye(n, dtype=bool))
    return receivers, senders


def _edge_table(states: np.ndarray, receivers: np.ndarray, senders: np.ndarray, variables: Sequence[str], dim: int,
                momenta: bool = False) -> np.ndarray:
    import torch

    from symdistill.symbolic.features import edge_features

    x = torch.as_tensor(states, dtype=torch.float64)
    table = edge_features(x[:, receivers], x[:, senders], variables, dim, momenta)
    return table.reshape(-1, len(variables)).numpy()


def fit_node_formulas(
    states: np.ndarray, summed: np.ndarray, outputs: np.ndarray, components: Sequence[int], dim: int,
    config: RegressionConfig, out_dir: str | os.PathLike[str], output_names: Sequence[str] | None = None,
) -> list[FitResult]:
    """Fit one formula per node output from the node state and the summed kept components.

    Only candidates that use a summed component are chosen: a node formula without one
    ignores the interactions, and the edge formulas would then have no effect.

    Shapes
    ------
    states : [n_graphs, N, F]
    summed : [n_graphs, N, msg_dim] the network's summed messages
    outputs : [n_graphs, N, n_outputs] the network's node-model outputs
    """
    own = state_names(dim)
    variables = [*own, *(summed_message_name(c) for c in components)]
    flat_states = states.reshape(-1, states.shape[-1])
    flat_summed = summed.reshape(-1, summed.shape[-1])[:, list(components)]
    flat_outputs = outputs.reshape(-1, outputs.shape[-1])
    rows = sample_rows(len(flat_states), config.n_nodes, config.seed)
    X = np.concatenate([flat_states[rows], flat_summed[rows]], axis=1)
    names = list(output_names) if output_names is not None else ["a" + a for a in own[:dim]]
    summed_names = [summed_message_name(c) for c in components]
    return [run_regression(name, X, flat_outputs[rows, d], variables, config, out_dir, dynamic=summed_names)
            for d, name in enumerate(names)]


def fit_energy_formulas(
    states: np.ndarray, pair_energy: np.ndarray, self_energy: np.ndarray, dim: int, config: RegressionConfig,
    out_dir: str | os.PathLike[str],
) -> tuple[FitResult, FitResult]:
    """Fit the pair energy and the self energy of a flattened Hamiltonian network.

    Inputs are canonical states (momenta in the velocity columns), so the formulas use
    ``px py [pz]``.

    Shapes
    ------
    states : [n_graphs, N, F] canonical states
    pair_energy : [n_graphs, N * (N - 1)] per directed edge, receiver-major as
        ``np.nonzero(~np.eye(N))``
    self_energy : [n_graphs, N]
    """
    n_graphs, n_bodies, _ = states.shape
    receivers, senders = _complete_pairs_numpy(n_bodies)
    pair_variables = edge_variable_names(dim, config.edge_variables, momenta=True)
    per_graph = max(1, config.n_edges // len(receivers))
    graphs = sample_rows(n_graphs, per_graph, config.seed)
    X_pair = _edge_table(states[graphs], receivers, senders, pair_variables, dim, momenta=True)
    dynamic = dynamic_variables(dim)
    pair = run_regression("pair_energy", X_pair, pair_energy[graphs].reshape(-1), pair_variables, config, out_dir,
                          dynamic=dynamic)

    self_variables = state_names(dim, momenta=True)
    flat = states.reshape(-1, states.shape[-1])
    rows = sample_rows(len(flat), config.n_nodes, config.seed)
    own = run_regression("self_energy", flat[rows], self_energy.reshape(-1)[rows], self_variables, config, out_dir,
                         dynamic=dynamic)
    return pair, own


def network_node_data(model: Any, states: np.ndarray, batch_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Return the summed messages and node-model outputs of a message-passing network.

    Messages are deterministic (the mean for ``kl``).

    Shapes
    ------
    states : [n_graphs, N, F]
    returns : summed [n_graphs, N, msg_dim], outputs [n_graphs, N, dim]
    """
    import torch

    n_graphs, n_bodies, n_features = states.shape
    receivers, senders = (torch.as_tensor(a) for a in _complete_pairs_numpy(n_bodies))
    parameter = next(model.parameters())
    summed_parts, output_parts = [], []
    model.eval()
    with torch.no_grad():
        for start in range(0, n_graphs, batch_size):
            x = torch.as_tensor(states[start : start + batch_size], dtype=parameter.dtype, device=parameter.device)
            messages = model.edge_model(x[:, receivers].reshape(-1, n_features), x[:, senders].reshape(-1, n_features))
            messages = messages.reshape(x.shape[0], n_bodies, n_bodies - 1, -1)
            summed = messages.sum(dim=2)
            summed_parts.append(summed.double().cpu().numpy())
            output_parts.append(model.node_model(x, summed).double().cpu().numpy())
    return np.concatenate(summed_parts), np.concatenate(output_parts)


def network_energies(model: Any, states: np.ndarray, batch_size: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return canonical states, pair energies and self energies of a flattened Hamiltonian network.

    Shapes
    ------
    states : [n_graphs, N, F] with velocities
    returns : canonical [n_graphs, N, F], pair [n_graphs, N * (N - 1)], self [n_graphs, N]
    """
    import torch

    n_graphs, n_bodies, n_features = states.shape
    receivers, senders = (torch.as_tensor(a) for a in _complete_pairs_numpy(n_bodies))
    parameter = next(model.parameters())
    canonical_parts, pair_parts, self_parts = [], [], []
    model.eval()
    with torch.no_grad():
        for start in range(0, n_graphs, batch_size):
            x = torch.as_tensor(states[start : start + batch_size], dtype=parameter.dtype, device=parameter.device)
            z = model.canonical(x)
            pair = model.pair_energy(z[:, receivers].reshape(-1, n_features), z[:, senders].reshape(-1, n_features))
            canonical_parts.append(z.double().cpu().numpy())
            pair_parts.append(pair.reshape(x.shape[0], -1).double().cpu().numpy())
            self_parts.append(model.self_energy(z).double().cpu().numpy())
    return np.concatenate(canonical_parts), np.concatenate(pair_parts), np.concatenate(self_parts)
