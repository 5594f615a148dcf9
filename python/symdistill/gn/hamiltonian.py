"""The flattened Hamiltonian graph network (FlatHGN) of Cranmer et al. (2020), section 3.

The network learns a Hamiltonian that is a sum of scalar terms,

    H(q, p) = sum over directed edges j -> i of H_pair(z_i, z_j[, e_ij]) + sum over nodes of H_self(z_i),

where ``z = [q, p, charge, mass]`` is the node state with velocities replaced by momenta
``p = m v``. Accelerations follow from Hamilton's equations, ``dp/dt = -dH/dq``, so
``a = -(dH/dq) / m``. Each unordered pair enters twice, once per direction.
"""

from __future__ import annotations

import torch
from torch import nn

from symdistill.gn.mlp import mlp
from symdistill.gn.model import complete_pairs


class FlatHGN(nn.Module):
    """A Hamiltonian made of pair energies and self energies.

    Parameters
    ----------
    pair_energy_net : nn.Module
        Maps ``concat(z_receiver, z_sender[, edge_attr])`` [E, 2F + edge_features] to [E, 1].
    self_energy_net : nn.Module
        Maps ``z`` [N, F] to [N, 1].
    n_features : int
        Node feature columns F = 2 * dim + 2 (``[q, v, charge, mass]``; mass is the last column).
    dim : int
        Spatial dimension.
    edge_features : int
        Edge attribute columns appended to the pair-energy input.
    """

    def __init__(
        self, pair_energy_net: nn.Module, self_energy_net: nn.Module, n_features: int, dim: int, edge_features: int = 0
    ) -> None:
        super().__init__()
        if n_features < 2 * dim + 1:
            raise ValueError(
                f"flathgn needs node states [position({dim}), velocity({dim}), ..., mass], "
                f"so n_features must be at least {2 * dim + 1}, got {n_features}"
            )
        self.pair_energy_net = pair_energy_net
        self.self_energy_net = self_energy_net
        self.n_features = n_features
        self.dim = dim
        self.edge_features = edge_features
        self.msg_dim = 1

    @classmethod
    def with_mlps(
        cls,
        n_features: int,
        dim: int,
        *,
        hidden: int = 300,
        n_hidden_layers: int = 3,
        edge_features: int = 0,
        node_hidden: int | None = None,
    ) -> FlatHGN:
        """Build a FlatHGN whose pair and self energies are Softplus MLPs (self energy ``node_hidden`` wide)."""
        pair = mlp(2 * n_features + edge_features, 1, hidden, n_hidden_layers, activation="softplus")
        self_ = mlp(n_features, 1, node_hidden or hidden, n_hidden_layers, activation="softplus")
        return cls(pair, self_, n_features, dim, edge_features)

    # -- energies, usable on their own --------------------------------------------------

    def canonical(self, x: torch.Tensor) -> torch.Tensor:
        """Return node states with velocities replaced by momenta ``m v``.

        Shapes
        ------
        x : [..., F]; returns [..., F]
        """
        d = self.dim
        mass = x[..., -1:]
        return torch.cat([x[..., :d], mass * x[..., d : 2 * d], x[..., 2 * d :]], dim=-1)

    def pair_energy(self, receiver: torch.Tensor, sender: torch.Tensor, edge_attr: torch.Tensor | None = None) -> torch.Tensor:
        """Return H_pair for each directed edge from canonical states (see :meth:`canonical`).

        Shapes
        ------
        receiver, sender : [E, F]; edge_attr : [E, edge_features]; returns [E]
        """
        parts = [receiver, sender]
        if self.edge_features:
            if edge_attr is None:
                raise ValueError(f"this network expects {self.edge_features} edge feature columns, got edge_attr=None")
            parts.append(edge_attr)
        elif edge_attr is not None:
            raise ValueError("this network was built with edge_features=0 but edge_attr was given; rebuild with edge_features")
        return self.pair_energy_net(torch.cat(parts, dim=-1)).squeeze(-1)

    def self_energy(self, z: torch.Tensor) -> torch.Tensor:
        """Return H_self for each node from canonical states.

        Shapes
        ------
        z : [..., F]; returns [...]
        """
        return self.self_energy_net(z).squeeze(-1)

    def edge_model(self, receiver: torch.Tensor, sender: torch.Tensor, edge_attr: torch.Tensor | None = None) -> torch.Tensor:
        """Return the pair energy of raw states (velocities, not momenta) as a one-column message.

        Shapes
        ------
        receiver, sender : [E, F]; returns [E, 1]
        """
        return self.pair_energy(self.canonical(receiver), self.canonical(sender), edge_attr).unsqueeze(-1)

    def hamiltonian_dense(self, z: torch.Tensor) -> torch.Tensor:
        """Return H of each complete graph in a batch of canonical states.

        Shapes
        ------
        z : [B, N, F]; returns [B]
        """
        n_graphs, n_nodes, _ = z.shape
        receivers, senders = complete_pairs(n_nodes, z.device)
        pair = self.pair_energy_net(torch.cat([z[:, receivers], z[:, senders]], dim=-1)).squeeze(-1)
        return pair.sum(dim=1) + self.self_energy(z).sum(dim=1)

    # -- forward passes -----------------------------------------------------------------

    def _accelerations(self, x: torch.Tensor, energy) -> torch.Tensor:
        # Parameter gradients of the loss need the graph of dH/dq, hence create_graph while
        # gradients are on; evaluation under no_grad still needs autograd for dH/dq itself.
        create_graph = torch.is_grad_enabled()
        d = self.dim
        with torch.enable_grad():
            q = x[..., :d]
            if not q.requires_grad:
                q = q.detach().requires_grad_(True)
            z = self.canonical(torch.cat([q, x[..., d:]], dim=-1))
            (grad_q,) = torch.autograd.grad(energy(z).sum(), q, create_graph=create_graph)
        return -grad_q / x[..., -1:]

    def forward_dense(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return accelerations of a batch of complete graphs and a zero penalty.

        Shapes
        ------
        x : [B, N, F] raw states ``[q, v, charge, mass]``; returns ([B, N, dim], [])
        """
        if x.dim() != 3 or x.shape[-1] != self.n_features:
            raise ValueError(f"expected node states of shape [B, N, {self.n_features}], got {list(x.shape)}")
        if self.edge_features:
            raise ValueError("forward_dense has no edge attributes; use forward with edge_index and edge_attr")
        return self._accelerations(x, self.hamiltonian_dense), x.new_zeros(())

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_attr: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return accelerations of every node of a whole sparse graph and a zero penalty.

        Unlike the message-passing network this needs the whole graph: a node's force
        depends on the edges where it is the sender too, so bipartite minibatches of
        receivers do not apply.

        Shapes
        ------
        x : [N, F]; edge_index : [2, E] (row 0 senders, row 1 receivers); returns ([N, dim], [])
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError("flathgn needs the whole graph as one node tensor, not a (senders, receivers) pair")
        senders, receivers = edge_index

        def energy(z: torch.Tensor) -> torch.Tensor:
            return self.pair_energy(z[receivers], z[senders], edge_attr).sum() + self.self_energy(z).sum()

        return self._accelerations(x, energy), x.new_zeros(())
