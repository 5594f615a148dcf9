"""The message-passing graph network (edge model, sum aggregation, node model).

An interaction network in the style of Battaglia et al. (2016), as used by Cranmer et
al. (2020). For every directed edge ``j -> i`` the edge model phi_e maps
``concat(x_i, x_j[, e_ij])`` to a message ``m_ij``. Each node sums its incoming
messages, and the node model phi_v maps ``concat(x_i, sum_j m_ij)`` to the output
(accelerations for N-body data).

Two paths compute the same function with the same parameters:

- :meth:`GraphNetwork.forward` takes any graph in PyTorch Geometric's convention
  (``edge_index[0]`` senders, ``edge_index[1]`` receivers; ``x`` may be a
  ``(x_senders, x_receivers)`` pair for bipartite minibatches);
- :meth:`GraphNetwork.forward_dense` takes a batch of complete graphs without self-loops
  as one tensor [B, N, F] and sums messages with a reshape, which avoids graph
  collation, gathers and scatters for small N-body systems.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn
from torch_geometric.nn import MessagePassing

from symdistill.gn.biases import MessageBias
from symdistill.gn.mlp import mlp


@lru_cache(maxsize=32)
def _complete_pairs(n_nodes: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    receivers = torch.arange(n_nodes).repeat_interleave(n_nodes - 1)
    offsets = torch.arange(n_nodes - 1).repeat(n_nodes)
    senders = offsets + (offsets >= receivers).long()
    return receivers.to(device), senders.to(device)


def complete_pairs(n_nodes: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Return (receivers, senders) of the complete directed graph without self-loops.

    Edges are ordered receiver-major: edge ``i * (n_nodes - 1) + k`` goes from the k-th
    other node to node ``i``, so the messages of node ``i`` are one contiguous block.

    Shapes
    ------
    receivers, senders : [n_nodes * (n_nodes - 1)]
    """
    if n_nodes < 2:
        raise ValueError(f"a graph needs at least 2 nodes to have edges, got {n_nodes}")
    return _complete_pairs(int(n_nodes), str(device))


class GraphNetwork(MessagePassing):
    """Graph network with an edge model, sum aggregation and a node model.

    Parameters
    ----------
    n_features : int
        Node feature columns F (``2 * dim + 2`` for N-body states).
    dim : int
        Output columns per node (the spatial dimension for accelerations).
    bias : MessageBias
        The inductive bias on the messages (width, sampling, penalty).
    msg_dim : int
        Message components k.
    hidden, n_hidden_layers : int
        Width and depth of both MLPs (ReLU).
    node_hidden : int, optional
        Width of the node MLP when it differs from ``hidden``.
    edge_features : int
        Edge attribute columns appended to the edge-model input (0 for N-body graphs).
    """

    def __init__(
        self,
        n_features: int,
        dim: int,
        *,
        bias: MessageBias,
        msg_dim: int,
        hidden: int = 300,
        n_hidden_layers: int = 3,
        edge_features: int = 0,
        node_hidden: int | None = None,
    ) -> None:
        super().__init__(aggr="add")
        self.n_features = n_features
        self.dim = dim
        self.bias = bias
        self.msg_dim = msg_dim
        self.edge_features = edge_features
        self.edge_mlp = mlp(2 * n_features + edge_features, bias.edge_outputs(msg_dim), hidden, n_hidden_layers)
        self.node_mlp = mlp(n_features + msg_dim, dim, node_hidden or hidden, n_hidden_layers)

    # -- the two learned functions, usable on their own --------------------------------

    def edge_raw(self, receiver: torch.Tensor, sender: torch.Tensor, edge_attr: torch.Tensor | None = None) -> torch.Tensor:
        """Return phi_e's raw output (means then log-variances for ``kl``).

        Shapes
        ------
        receiver, sender : [E, F]; edge_attr : [E, edge_features]; returns [E, edge_outputs]
        """
        parts = [receiver, sender]
        if self.edge_features:
            if edge_attr is None:
                raise ValueError(f"this network expects {self.edge_features} edge feature columns, got edge_attr=None")
            parts.append(edge_attr)
        elif edge_attr is not None:
            raise ValueError("this network was built with edge_features=0 but edge_attr was given; rebuild with edge_features")
        return self.edge_mlp(torch.cat(parts, dim=-1))

    def edge_model(self, receiver: torch.Tensor, sender: torch.Tensor, edge_attr: torch.Tensor | None = None) -> torch.Tensor:
        """Return the deterministic message phi_e(receiver, sender[, edge_attr]) (the mean for ``kl``).

        Shapes
        ------
        receiver, sender : [E, F]; edge_attr : [E, edge_features]; returns [E, msg_dim]
        """
        return self.bias.mean(self.edge_raw(receiver, sender, edge_attr))

    def node_model(self, x: torch.Tensor, aggregated: torch.Tensor) -> torch.Tensor:
        """Return phi_v(node state, summed incoming messages).

        Shapes
        ------
        x : [..., F]; aggregated : [..., msg_dim]; returns [..., dim]
        """
        return self.node_mlp(torch.cat([x, aggregated], dim=-1))

    def _messages(self, raw: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.bias.sample(raw, generator) if self.training else self.bias.mean(raw)

    # -- forward passes -----------------------------------------------------------------

    def forward(
        self,
        x: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
        edge_index: torch.Tensor,
        edge_attr: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the network on a sparse graph.

        Returns the node outputs and the bias penalty summed over all edges.

        Shapes
        ------
        x : [N, F], or a pair ([N_senders, F], [N_receivers, F]) for bipartite minibatches;
        edge_index : [2, E] (row 0 senders, row 1 receivers); edge_attr : [E, edge_features];
        returns ([N_receivers, dim], [])
        """
        x_senders, x_receivers = (x, x) if isinstance(x, torch.Tensor) else x
        senders, receivers = edge_index
        raw = self.edge_raw(x_receivers[receivers], x_senders[senders], edge_attr)
        messages = self._messages(raw, generator)
        aggregated = self.propagate(edge_index, msg=messages, size=(x_senders.size(0), x_receivers.size(0)))
        return self.node_model(x_receivers, aggregated), self.bias.penalty(raw)

    def message(self, msg: torch.Tensor) -> torch.Tensor:  # noqa: D102 - PyG hook
        return msg

    def forward_dense(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the network on a batch of complete graphs without self-loops.

        Shapes
        ------
        x : [B, N, F]; returns ([B, N, dim], [])
        """
        if x.dim() != 3 or x.shape[-1] != self.n_features:
            raise ValueError(f"expected node states of shape [B, N, {self.n_features}], got {list(x.shape)}")
        if self.edge_features:
            raise ValueError("forward_dense has no edge attributes; use forward with edge_index and edge_attr")
        n_graphs, n_nodes, _ = x.shape
        receivers, senders = complete_pairs(n_nodes, x.device)
        raw = self.edge_mlp(torch.cat([x[:, receivers], x[:, senders]], dim=-1))
        messages = self._messages(raw, generator)
        aggregated = messages.view(n_graphs, n_nodes, n_nodes - 1, -1).sum(dim=2)
        return self.node_model(x, aggregated), self.bias.penalty(raw)
