"""Distilled halo formulas as one torch model, and the GN's pieces on halo graphs.

The symbolic model mirrors the graph network: an edge formula over pair variables is
summed over each halo's incoming edges into ``E``, and a node formula of the halo's own
variables and ``E`` predicts delta. Receivers are laid out densely, padded to the largest
in-degree, so :func:`symdistill.symbolic.refit` and
:func:`symdistill.symbolic.mean_absolute_error` work on it unchanged: each receiver is one
"graph" with one node whose single state row holds its padded edges and own variables.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from symdistill.sr.export_torch import SympyModule
from symdistill.symbolic.formula import Formula

SUMMED_NAME = "E"
"""Name of the summed edge formula among the node formula's variables."""


class SymbolicHaloModel(nn.Module):
    """delta_i = node(own_i, sum_j edge(pair_ij)) with trainable constants.

    Parameters
    ----------
    edge : Formula
        Over the pair variables (``variables`` of the edge formula, in column order).
    node : Formula
        Over the node variables followed by ``E``.
    max_degree : int
        Padded number of incoming edges per receiver in the dense layout.

    Shapes
    ------
    input: [B, 1, max_degree * (n_pair + 1) + n_own] from :func:`dense_receivers`;
    output: [B, 1, 1]
    """

    def __init__(self, edge: Formula, node: Formula, max_degree: int) -> None:
        super().__init__()
        if not node.variables or node.variables[-1] != SUMMED_NAME:
            raise ValueError(f"the node formula's last variable must be {SUMMED_NAME!r}, got {node.variables}")
        self.edge_formula, self.node_formula = edge, node
        self.edge = SympyModule(edge.expr, edge.variables)
        self.node = SympyModule(node.expr, node.variables)
        self.n_pair = len(edge.variables)
        self.n_own = len(node.variables) - 1
        self.max_degree = int(max_degree)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        width = self.max_degree * (self.n_pair + 1)
        edges = x[:, 0, :width].reshape(batch, self.max_degree, self.n_pair + 1)
        own = x[:, 0, width:]
        messages = self.edge(edges[..., : self.n_pair]) * edges[..., self.n_pair]
        summed = messages.sum(dim=1, keepdim=True)
        return self.node(torch.cat([own, summed], dim=-1)).reshape(batch, 1, 1)

    def formulas(self) -> tuple[Formula, Formula]:
        """Return the edge and node formulas with the current constants."""
        return (
            Formula(self.edge_formula.component, self.edge.sympy(), self.edge_formula.variables),
            Formula(self.node_formula.component, self.node.sympy(), self.node_formula.variables),
        )


def model_from_entries(edge: Mapping[str, Any], node: Mapping[str, Any], key: str, max_degree: int) -> SymbolicHaloModel:
    """Build the symbolic model from report entries (``component``, ``variables`` and the formula at ``key``)."""
    return SymbolicHaloModel(Formula.parse(edge["component"], edge[key], edge["variables"]),
                             Formula.parse(node["component"], node[key], node["variables"]), max_degree)


def dense_receivers(
    receivers: np.ndarray, row_start: np.ndarray, senders: np.ndarray, pair: np.ndarray, own: np.ndarray,
    max_degree: int | None = None,
) -> np.ndarray:
    """Lay out each receiver's incoming pair variables densely, padded, with a mask column.

    Padding slots repeat the receiver's first edge (or hold ones when it has none) with
    mask 0, so formulas stay finite there.

    Shapes
    ------
    receivers : [R] node ids; row_start : [n_nodes + 1]; senders : [n_edges];
    pair : [n_edges, n_pair] pair variables per edge; own : [n_nodes, n_own];
    returns [R, 1, max_degree * (n_pair + 1) + n_own] float64
    """
    receivers = np.asarray(receivers, dtype=np.int64)
    degree = row_start[receivers + 1] - row_start[receivers]
    width = int(max(1, degree.max(initial=0))) if max_degree is None else int(max_degree)
    if degree.max(initial=0) > width:
        raise ValueError(f"a receiver has {degree.max()} incoming edges, more than max_degree={width}")
    n_pair = pair.shape[1]
    slots = np.arange(width)
    # Edge id per (receiver, slot): the k-th incoming edge, or the first one as padding.
    edge_ids = row_start[receivers][:, None] + np.where(slots[None, :] < degree[:, None], slots[None, :], 0)
    has_edges = degree > 0
    values = np.ones((receivers.size, width, n_pair))
    values[has_edges] = pair[edge_ids[has_edges]]
    mask = (slots[None, :] < degree[:, None]).astype(np.float64)
    dense = np.concatenate([values, mask[..., None]], axis=-1).reshape(receivers.size, -1)
    return np.concatenate([dense, own[receivers]], axis=1)[:, None, :]


def network_predictions(model: nn.Module, x: np.ndarray, edge_index: np.ndarray, edge_attr: np.ndarray,
                        nodes: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Return the GN's prediction and summed messages for ``nodes`` (all incoming edges used).

    Shapes
    ------
    x : [n_nodes, F]; edge_index : [2, n_edges] grouped by receiver; edge_attr : [n_edges, A];
    nodes : [R]; returns ([R], [R, msg_dim])
    """
    from symdistill.gn.data import IncomingEdges

    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    x_t = torch.as_tensor(x, dtype=dtype, device=device)
    attr_t = torch.as_tensor(edge_attr, dtype=dtype, device=device)
    incoming = IncomingEdges(torch.as_tensor(edge_index, dtype=torch.long, device=device), x.shape[0])
    predictions, summed = [], []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(nodes), chunk):
            batch = torch.as_tensor(nodes[start : start + chunk], dtype=torch.long, device=device)
            edge_ids, local = incoming.select(batch)
            messages = model.edge_model(x_t[batch][local[1]], x_t[local[0]], attr_t[edge_ids])
            total = torch.zeros(batch.numel(), messages.shape[1], dtype=dtype, device=device)
            total.index_add_(0, local[1], messages)
            predictions.append(model.node_model(x_t[batch], total)[:, 0].double().cpu().numpy())
            summed.append(total.double().cpu().numpy())
    return np.concatenate(predictions), np.concatenate(summed)


def edge_messages(model: nn.Module, x: np.ndarray, edge_index: np.ndarray, edge_attr: np.ndarray,
                  edges: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Return the GN's messages on the given edge ids, shape [len(edges), msg_dim]."""
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    parts = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(edges), chunk):
            ids = edges[start : start + chunk]
            senders, receivers = edge_index[0, ids], edge_index[1, ids]
            parts.append(model.edge_model(
                torch.as_tensor(x[receivers], dtype=dtype, device=device),
                torch.as_tensor(x[senders], dtype=dtype, device=device),
                torch.as_tensor(edge_attr[ids], dtype=dtype, device=device),
            ).double().cpu().numpy())
    return np.concatenate(parts)


def physical_formula(expr, units: dict[str, float]):
    """Rewrite ``expr`` so each variable ``v`` (measured in units of ``units[v]``) takes physical values.

    Substitutes ``v -> v / units[v]``, e.g. ``M`` in 1e13 Msun/h becomes ``1.0e-13*M`` with
    ``M`` in Msun/h.
    """
    import sympy

    substitutions = {sympy.Symbol(name): sympy.Symbol(name) / scale for name, scale in units.items() if scale != 1}
    return expr.xreplace(substitutions)


def formula_variables(names: Sequence[str]) -> tuple[str, ...]:
    """Return the node formula's variables: the own variables followed by ``E``."""
    return (*names, SUMMED_NAME)
