"""Sparse graphs with edge attributes: minibatches of receivers and the sparse training entry."""

import numpy as np
import pytest
import torch

from symdistill import gn
from symdistill.gn.data import IncomingEdges


def _radius_graph(n_nodes=60, seed=0):
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 4, size=(n_nodes, 2))
    delta = positions[:, None] - positions[None]
    distance = np.linalg.norm(delta, axis=-1)
    receivers, senders = np.nonzero((distance < 1.5) & (distance > 0))
    edge_index = np.stack([senders, receivers])
    edge_attr = delta[receivers, senders]
    mass = np.exp(rng.normal(size=n_nodes))
    x = np.column_stack([positions, mass])
    y = np.zeros((n_nodes, 1))
    np.add.at(y[:, 0], receivers, mass[senders] * np.exp(-np.linalg.norm(edge_attr, axis=1)))
    return gn.SparseGraph(x=x, edge_index=edge_index, edge_attr=edge_attr, y=y)


def test_incoming_edges_selects_every_edge_of_receivers():
    graph = _radius_graph().validated()
    edge_index = torch.as_tensor(graph.edge_index)
    incoming = IncomingEdges(edge_index, len(graph.x))
    nodes = torch.tensor([5, 0, 17, 42])
    edge_ids, local = incoming.select(nodes)
    expected = sorted(int(e) for e in torch.nonzero(torch.isin(edge_index[1], nodes)).flatten())
    assert sorted(edge_ids.tolist()) == expected
    assert torch.equal(nodes[local[1]], edge_index[1, edge_ids])
    assert torch.equal(local[0], edge_index[0, edge_ids])


def test_minibatch_output_matches_whole_graph():
    graph = _radius_graph().validated()
    torch.manual_seed(0)
    model = gn.build_model("l1", 3, 1, hidden=16, n_hidden_layers=2, edge_features=2).double().eval()
    x = torch.as_tensor(graph.x)
    edge_index = torch.as_tensor(graph.edge_index)
    edge_attr = torch.as_tensor(graph.edge_attr)
    whole, _ = model(x, edge_index, edge_attr)
    nodes = torch.tensor([3, 9, 11])
    edge_ids, local = IncomingEdges(edge_index, len(x)).select(nodes)
    part, _ = model((x, x[nodes]), local, edge_attr[edge_ids])
    torch.testing.assert_close(part, whole[nodes])


def test_train_sparse_lowers_loss(tmp_path):
    graph = _radius_graph()
    result = gn.train_sparse(
        graph, "l1", out=tmp_path, steps=40, batch_size=16, hidden=32, n_hidden_layers=2, max_lr=3e-3,
        test_nodes=np.arange(60), eval_every=40, device="cpu", threads=1,
    )
    untrained = gn.build_model("l1", 3, 1, hidden=32, n_hidden_layers=2, edge_features=2)
    task = gn.tasks.SparseTask(graph, torch.device("cpu"))
    assert result.test_loss < 0.8 * task.evaluate(untrained, 60)
    assert gn.load_model(tmp_path).spec["edge_features"] == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"edge_index": np.array([[0, 1], [1, 99]])}, "refers to nodes"),
        ({"edge_index": np.zeros((2, 0), dtype=int), "edge_attr": None}, "no edges"),
        ({"y": np.zeros(3)}, "one row per node"),
        ({"x": np.full((60, 3), np.nan)}, "x contains 180 NaN"),
        ({"edge_attr": np.zeros((5, 2))}, "edge_attr has 5 rows"),
    ],
)
def test_bad_sparse_graph_rejected(tmp_path, change, message):
    graph = _radius_graph()
    values = {"x": graph.x, "edge_index": graph.edge_index, "edge_attr": graph.edge_attr, "y": graph.y, **change}
    with pytest.raises(ValueError, match=message):
        gn.train_sparse(gn.SparseGraph(**values), "l1", out=tmp_path, steps=2, device="cpu")


def test_train_sparse_rejects_flathgn(tmp_path):
    with pytest.raises(ValueError, match="flathgn needs whole graphs"):
        gn.train_sparse(_radius_graph(), "flathgn", out=tmp_path, steps=2, device="cpu")
