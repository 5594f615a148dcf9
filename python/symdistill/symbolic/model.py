"""Symbolic graph models: distilled formulas substituted into the graph-network structure.

``SymbolicGraphModel`` keeps the message-passing structure of the graph network and
replaces its learned parts by formulas (Cranmer et al. 2020, section 2): each kept
message component is an edge formula ``phi_e^k(x_i, x_j)``, the components are summed
over the incoming edges of each receiver, and one node formula per output computes
``phi_v^d(x_i, E_i)``. ``SymbolicHamiltonian`` does the same for the flattened
Hamiltonian graph network: ``H = sum_edges H_pair + sum_nodes H_self`` and the
accelerations are ``-(dH/dx) / m``.

Every float constant of every formula is a trainable ``nn.Parameter`` (through
``symdistill.sr.export_torch.SympyModule``), so all of them can be refitted jointly.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from symdistill.symbolic.features import edge_features, node_features, state_names
from symdistill.symbolic.formula import Formula


def _formula_module(formula: Formula) -> nn.Module:
    from symdistill.sr.export_torch import SympyModule

    return SympyModule(formula.expr, list(formula.variables), trainable=True)


def _evaluate(module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    # A formula without variables evaluates to a scalar; give it the batch shape.
    return torch.broadcast_to(module(inputs), inputs.shape[:-1])


def complete_graph(n_nodes: int, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(receivers, senders)`` of the complete directed graph without self-loops.

    Shapes
    ------
    returns : two int64 tensors of length ``n_nodes * (n_nodes - 1)``
    """
    if n_nodes < 2:
        raise ValueError(f"a graph needs at least 2 nodes to have edges, got {n_nodes}")
    index = torch.arange(n_nodes, device=device)
    receivers, senders = torch.meshgrid(index, index, indexing="ij")
    keep = receivers != senders
    return receivers[keep], senders[keep]


class _GraphBase(nn.Module):
    """Shared input validation and edge layout for the symbolic models."""

    def __init__(self, dim: int, momenta: bool) -> None:
        super().__init__()
        self.dim = dim
        self.momenta = momenta
        self.n_features = len(state_names(dim))

    def _check(self, states: torch.Tensor) -> None:
        if states.ndim < 2 or states.shape[-1] != self.n_features:
            raise ValueError(
                f"states must have shape [..., n_bodies, {self.n_features}] for dim={self.dim} "
                f"(position, velocity, charge, mass), got {tuple(states.shape)}"
            )

    def _edges(self, states: torch.Tensor, edge_index: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if edge_index is None:
            return complete_graph(states.shape[-2], states.device)
        if edge_index.ndim != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"edge_index must have shape [2, n_edges] (senders, receivers), got {tuple(edge_index.shape)}")
        return edge_index[1], edge_index[0]


class SymbolicGraphModel(_GraphBase):
    """Graph network whose edge and node functions are formulas.

    Parameters
    ----------
    edge_formulas : sequence of Formula
        One per kept message component, over edge variables (``symbolic.features``).
    components : sequence of int
        Message component index of each edge formula; the node formulas see the sums
        as ``E<component>``.
    node_formulas : sequence of Formula
        One per output column (``dim`` accelerations), over node variables.
    dim : int
        Spatial dimension.

    Shapes
    ------
    forward(states) : states [..., N, 2*dim+2] -> [..., N, len(node_formulas)]
    """

    def __init__(
        self, edge_formulas: Sequence[Formula], components: Sequence[int], node_formulas: Sequence[Formula], dim: int
    ) -> None:
        super().__init__(dim, momenta=False)
        if len(edge_formulas) != len(components):
            raise ValueError(f"got {len(edge_formulas)} edge formulas but {len(components)} component indices")
        if not edge_formulas or not node_formulas:
            raise ValueError("a symbolic graph model needs at least one edge formula and one node formula")
        self.components = [int(c) for c in components]
        self.edge_formulas = list(edge_formulas)
        self.node_formulas = list(node_formulas)
        self.edge_modules = nn.ModuleList(_formula_module(f) for f in self.edge_formulas)
        self.node_modules = nn.ModuleList(_formula_module(f) for f in self.node_formulas)

    def messages(self, receiver: torch.Tensor, sender: torch.Tensor) -> torch.Tensor:
        """Evaluate every edge formula.

        Shapes
        ------
        receiver, sender : [..., E, F]
        returns : [..., E, n_components]
        """
        outputs = []
        for formula, module in zip(self.edge_formulas, self.edge_modules):
            inputs = edge_features(receiver, sender, formula.variables, self.dim)
            outputs.append(_evaluate(module, inputs))
        return torch.stack(outputs, dim=-1)

    def forward(self, states: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        self._check(states)
        receivers, senders = self._edges(states, edge_index)
        messages = self.messages(states[..., receivers, :], states[..., senders, :])
        summed = messages.new_zeros((*states.shape[:-1], messages.shape[-1]))
        summed = summed.index_add(-2, receivers, messages)
        outputs = []
        for formula, module in zip(self.node_formulas, self.node_modules):
            inputs = node_features(states, summed, formula.variables, self.components, self.dim)
            outputs.append(_evaluate(module, inputs))
        return torch.stack(outputs, dim=-1)

    def formulas(self) -> tuple[list[Formula], list[Formula]]:
        """Return the edge and node formulas with the current constant values."""
        return _read_back(self.edge_formulas, self.edge_modules), _read_back(self.node_formulas, self.node_modules)


class SymbolicHamiltonian(_GraphBase):
    """Flattened Hamiltonian graph network with formula pair and self energies.

    Velocity columns are replaced by momenta ``p = m v`` before the energies are
    evaluated, so formulas use ``px py [pz]`` names. Pair energies are summed over
    directed edges (each pair counted in both directions, as in the network).

    Shapes
    ------
    forward(states) : states [..., N, 2*dim+2] -> accelerations [..., N, dim]
    """

    def __init__(self, pair_formula: Formula, self_formula: Formula, dim: int) -> None:
        super().__init__(dim, momenta=True)
        self.pair_formula = pair_formula
        self.self_formula = self_formula
        self.pair_module = _formula_module(pair_formula)
        self.self_module = _formula_module(self_formula)

    def _canonical(self, states: torch.Tensor) -> torch.Tensor:
        dim = self.dim
        mass = states[..., -1:]
        return torch.cat([states[..., :dim], states[..., dim : 2 * dim] * mass, states[..., 2 * dim :]], dim=-1)

    def pair_energies(self, receiver: torch.Tensor, sender: torch.Tensor) -> torch.Tensor:
        """Evaluate the pair energy formula on edges given by raw states (velocities, not momenta).

        Shapes
        ------
        receiver, sender : [..., E, F]
        returns : [..., E]
        """
        inputs = edge_features(self._canonical(receiver), self._canonical(sender), self.pair_formula.variables,
                               self.dim, momenta=True)
        return _evaluate(self.pair_module, inputs)

    def energy(self, states: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        """Return the total energy H of each graph.

        Shapes
        ------
        states : [..., N, F] with velocities (not momenta)
        returns : [...]
        """
        self._check(states)
        dim = self.dim
        canonical = self._canonical(states)
        receivers, senders = self._edges(states, edge_index)
        pair_inputs = edge_features(
            canonical[..., receivers, :], canonical[..., senders, :], self.pair_formula.variables, dim, momenta=True
        )
        pair = _evaluate(self.pair_module, pair_inputs).sum(dim=-1)
        self_inputs = node_features(canonical, canonical[..., :0], self.self_formula.variables, [], dim, momenta=True)
        own = _evaluate(self.self_module, self_inputs).sum(dim=-1)
        return pair + own

    def forward(self, states: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        self._check(states)
        dim = self.dim
        # The gradient must stay differentiable when the caller is refitting constants.
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            positions = states[..., :dim].detach().requires_grad_(True)
            full = torch.cat([positions, states[..., dim:]], dim=-1)
            energy = self.energy(full, edge_index)
            if not energy.requires_grad:
                # Energies that do not depend on positions exert no force.
                return torch.zeros_like(positions.detach())
            (gradient,) = torch.autograd.grad(energy.sum(), positions, create_graph=create_graph, allow_unused=True)
        if gradient is None:
            return torch.zeros_like(positions.detach())
        return -gradient / states[..., -1:]

    def formulas(self) -> tuple[Formula, Formula]:
        """Return the pair and self energy formulas with the current constant values."""
        pair, own = _read_back([self.pair_formula, self.self_formula], [self.pair_module, self.self_module])
        return pair, own


def _read_back(formulas: Sequence[Formula], modules: Sequence[nn.Module]) -> list[Formula]:
    return [Formula(f.component, m.sympy(), f.variables) for f, m in zip(formulas, modules)]
