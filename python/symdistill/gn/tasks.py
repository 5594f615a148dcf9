"""Minibatches, training objective and test loss for dense and sparse graph data.

The objective follows Cranmer et al. (2020): the absolute prediction errors summed over
the nodes and output columns of each graph, averaged over graphs, plus the bias penalty.
The penalty is summed over every edge of the minibatch and divided by the nodes per
graph. The original code penalised only the first graph of each minibatch, scaled by
the batch size, so this keeps its expectation with lower variance. For sparse
graphs each receiving node counts as a graph of one node.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from symdistill.gn.data import IncomingEdges, SparseGraph


class DenseTask:
    """Complete graphs of equal size stored as one tensor [G, N, F]."""

    unit = "graph"

    def __init__(self, states: np.ndarray, targets: np.ndarray, device: torch.device, augment_sigma: float) -> None:
        self.x = torch.as_tensor(states, dtype=torch.float32, device=device)
        self.y = torch.as_tensor(targets, dtype=torch.float32, device=device)
        self.n_examples, self.n_nodes, self.n_features = self.x.shape
        self.dim = self.y.shape[-1]
        self.augment_sigma = augment_sigma

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = index.to(self.x.device)
        return self.x[index], self.y[index]

    def objective(self, model: nn.Module, batch, generator: torch.Generator) -> tuple[torch.Tensor, float, int]:
        x, y = batch
        if self.augment_sigma > 0:
            # One translation per minibatch, applied to every position.
            shift = x.new_zeros(self.n_features)
            shift[: self.dim] = torch.randn(self.dim, generator=generator, device=x.device) * self.augment_sigma
            x = x + shift
        prediction, penalty = model.forward_dense(x, generator)
        error = (prediction - y).abs().sum()
        n_graphs = x.shape[0]
        return (error + penalty / self.n_nodes) / n_graphs, float(error.detach()), n_graphs

    def evaluate(self, model: nn.Module, max_examples: int, chunk: int = 1024) -> float:
        """Return the mean over graphs of the summed absolute error (no augmentation, no sampling)."""
        n = min(self.n_examples, max_examples)
        index = torch.randperm(self.n_examples, generator=torch.Generator().manual_seed(0))[:n]
        was_training = model.training
        model.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, n, chunk):
                x, y = self.batch(index[start : start + chunk])
                prediction, _ = model.forward_dense(x)
                total += float((prediction - y).abs().sum())
        model.train(was_training)
        return total / n


class SparseTask:
    """One sparse graph, trained in minibatches of receiving nodes with all their incoming edges."""

    unit = "node"

    def __init__(
        self,
        graph: SparseGraph,
        device: torch.device,
        nodes: np.ndarray | None = None,
        position_columns: tuple[int, ...] = (),
        augment_sigma: float = 0.0,
    ) -> None:
        graph = graph.validated()
        self.x = torch.as_tensor(graph.x, dtype=torch.float32, device=device)
        self.y = torch.as_tensor(graph.y, dtype=torch.float32, device=device)
        self.edge_attr = None if graph.edge_attr is None else torch.as_tensor(graph.edge_attr, dtype=torch.float32, device=device)
        edge_index = torch.as_tensor(graph.edge_index, device=device)
        self.incoming = IncomingEdges(edge_index, self.x.shape[0])
        if nodes is None:
            nodes = np.arange(self.x.shape[0])
        nodes = np.asarray(nodes)
        if nodes.ndim != 1 or nodes.size == 0:
            raise ValueError(f"nodes must be a non-empty 1-D array of node ids, got shape {nodes.shape}")
        if nodes.min() < 0 or nodes.max() >= self.x.shape[0]:
            raise ValueError(f"nodes refer to ids {nodes.min()}..{nodes.max()} but the graph has {self.x.shape[0]} nodes")
        self.nodes = torch.as_tensor(nodes, dtype=torch.long, device=device)
        self.n_examples = self.nodes.numel()
        self.n_features = self.x.shape[1]
        bad = [c for c in position_columns if not 0 <= c < self.n_features]
        if bad:
            raise ValueError(f"position_columns {bad} are outside the {self.n_features} node feature columns")
        self.position_columns = torch.as_tensor(list(position_columns), dtype=torch.long, device=device)
        self.augment_sigma = augment_sigma if len(position_columns) else 0.0

    def batch(self, index: torch.Tensor):
        nodes = self.nodes[index.to(self.nodes.device)]
        edge_ids, edge_index = self.incoming.select(nodes)
        edge_attr = None if self.edge_attr is None else self.edge_attr[edge_ids]
        return nodes, edge_index, edge_attr

    def _predict(self, model: nn.Module, batch, x: torch.Tensor, generator=None):
        nodes, edge_index, edge_attr = batch
        return model((x, x[nodes]), edge_index, edge_attr, generator)

    def objective(self, model: nn.Module, batch, generator: torch.Generator) -> tuple[torch.Tensor, float, int]:
        x = self.x
        if self.augment_sigma > 0:
            shift = torch.randn(self.position_columns.numel(), generator=generator, device=x.device) * self.augment_sigma
            x = x.clone()
            x[:, self.position_columns] += shift
        prediction, penalty = self._predict(model, batch, x, generator)
        nodes = batch[0]
        error = (prediction - self.y[nodes]).abs().sum()
        return (error + penalty) / nodes.numel(), float(error.detach()), nodes.numel()

    def evaluate(self, model: nn.Module, max_examples: int, chunk: int = 4096) -> float:
        """Return the mean over receiving nodes of the summed absolute error."""
        n = min(self.n_examples, max_examples)
        index = torch.randperm(self.n_examples, generator=torch.Generator().manual_seed(0))[:n]
        was_training = model.training
        model.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, n, chunk):
                batch = self.batch(index[start : start + chunk])
                prediction, _ = self._predict(model, batch, self.x)
                total += float((prediction - self.y[batch[0]]).abs().sum())
        model.train(was_training)
        return total / n
