"""Training data for graph networks: dense batches of complete graphs and sparse graphs.

N-body data arrive as an ``NBodyDataset``, anything with ``states`` and
``accelerations`` arrays, a ``(states, accelerations)`` pair, or a path to a saved
dataset. Each snapshot becomes one complete graph. Arbitrary graphs (halo catalogues)
arrive as a :class:`SparseGraph` and are trained in minibatches of receiving nodes
with all of their incoming edges.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)


def _check_finite(name: str, array: np.ndarray) -> None:
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or infinite values; remove or repair those samples first")


def load_nbody_arrays(data: Any) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return node states [G, N, F], accelerations [G, N, dim] and metadata from N-body data.

    ``data`` is an ``NBodyDataset``-like object (``states`` [S, T, N, F] and
    ``accelerations`` [S, T, N, dim]; simulations flagged in ``truncated`` are dropped),
    a ``(states, accelerations)`` pair with either layout, or a path to a saved dataset.
    Every snapshot becomes one graph. Raises ``ValueError`` on inconsistent shapes,
    ``F != 2 * dim + 2`` and NaN or infinite values.
    """
    metadata: dict = {}
    if isinstance(data, (str, os.PathLike)):
        from symdistill import nbody

        data = nbody.load(data)
    if isinstance(data, tuple) and len(data) == 2:
        states, accelerations = (np.asarray(a) for a in data)
    elif hasattr(data, "states") and hasattr(data, "accelerations"):
        states, accelerations = np.asarray(data.states), np.asarray(data.accelerations)
        metadata = dict(getattr(data, "metadata", {}) or {})
        truncated = getattr(data, "truncated", None)
        if truncated is not None and states.ndim == 4 and np.any(truncated):
            keep = ~np.asarray(truncated, dtype=bool)
            logger.warning("dropping %d truncated simulations of %d", int((~keep).sum()), keep.size)
            states, accelerations = states[keep], accelerations[keep]
    else:
        raise TypeError(
            f"cannot read N-body data from {type(data).__name__}; pass an NBodyDataset, "
            "a (states, accelerations) pair or a path to a saved dataset"
        )
    if states.ndim not in (3, 4):
        raise ValueError(f"states must have shape [graphs, bodies, F] or [sims, times, bodies, F], got {states.shape}")
    states = states.reshape(-1, *states.shape[-2:])
    accelerations = accelerations.reshape(-1, *accelerations.shape[-2:])
    n_graphs, n_bodies, n_features = states.shape
    dim = accelerations.shape[-1]
    if accelerations.shape[:2] != (n_graphs, n_bodies):
        raise ValueError(
            f"accelerations {accelerations.shape} do not match states {states.shape}: "
            "both need the same graphs and bodies"
        )
    if n_features != 2 * dim + 2:
        raise ValueError(
            f"node states have {n_features} columns but {dim}-D accelerations need 2*dim+2 = {2 * dim + 2} "
            "([position, velocity, charge, mass])"
        )
    if n_graphs == 0:
        raise ValueError("the dataset contains no graphs")
    if n_bodies < 2:
        raise ValueError(f"graphs need at least 2 bodies to have edges, got {n_bodies}")
    _check_finite("states", states)
    _check_finite("accelerations", accelerations)
    if np.any(states[..., -1] <= 0):
        raise ValueError("masses (last state column) must be positive")
    metadata.setdefault("dim", dim)
    metadata.setdefault("n_bodies", n_bodies)
    return states, accelerations, metadata


@dataclass(frozen=True)
class SparseGraph:
    """One graph with node features, directed edges, optional edge attributes and node targets.

    Shapes
    ------
    x : [N, F]; edge_index : [2, E] int (row 0 senders, row 1 receivers);
    edge_attr : [E, A] or None; y : [N, out]
    """

    x: Any
    edge_index: Any
    y: Any
    edge_attr: Any = None

    def validated(self) -> SparseGraph:
        """Return a copy as numpy arrays after checking shapes, index ranges and finiteness."""
        x = np.asarray(self.x, dtype=np.float64)
        y = np.asarray(self.y, dtype=np.float64)
        edge_index = np.asarray(self.edge_index)

        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"x must have shape [nodes, features] with at least one node, got {x.shape}")
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise ValueError(f"y must have one row per node ({x.shape[0]}), got shape {y.shape}")

        if edge_index.ndim != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"edge_index must have shape [2, edges], got {edge_index.shape}")
        if edge_index.shape[1] == 0:
            raise ValueError("the graph has no edges; a graph network needs at least one edge")
        if not np.issubdtype(edge_index.dtype, np.integer):
            raise ValueError(f"edge_index must hold integers, got dtype {edge_index.dtype}")
        if edge_index.min() < 0 or edge_index.max() >= x.shape[0]:
            raise ValueError(
                f"edge_index refers to nodes {edge_index.min()}..{edge_index.max()} but there are {x.shape[0]} nodes"
            )

        edge_attr = None
        if self.edge_attr is not None:
            edge_attr = np.asarray(self.edge_attr, dtype=np.float64)
            if edge_attr.ndim == 1:
                edge_attr = edge_attr[:, None]
            if edge_attr.shape[0] != edge_index.shape[1]:
                raise ValueError(f"edge_attr has {edge_attr.shape[0]} rows but there are {edge_index.shape[1]} edges")
            _check_finite("edge_attr", edge_attr)
        _check_finite("x", x)
        _check_finite("y", y)
        return SparseGraph(x=x, edge_index=edge_index.astype(np.int64), y=y, edge_attr=edge_attr)


class IncomingEdges:
    """Incoming edges of each node, for minibatches of receivers with all their edges."""

    def __init__(self, edge_index: torch.Tensor, n_nodes: int) -> None:
        receivers = edge_index[1]
        order = torch.argsort(receivers, stable=True)
        self.order = order
        self.senders = edge_index[0, order]
        counts = torch.bincount(receivers, minlength=n_nodes)
        self.counts = counts
        self.ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])

    def select(self, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (edge ids, bipartite edge_index) of every edge whose receiver is in ``nodes``.

        The returned edge_index has global sender ids in row 0 and positions in ``nodes``
        in row 1.

        Shapes
        ------
        nodes : [b]; returns ([E_b], [2, E_b])
        """
        counts = self.counts[nodes]
        local = torch.repeat_interleave(torch.arange(nodes.numel(), device=nodes.device), counts)
        starts = torch.repeat_interleave(self.ptr[nodes], counts)
        offsets = torch.arange(local.numel(), device=nodes.device) - torch.repeat_interleave(
            torch.cumsum(counts, 0) - counts, counts
        )
        positions = starts + offsets
        edge_ids = self.order[positions]
        return edge_ids, torch.stack([self.senders[positions], local])
