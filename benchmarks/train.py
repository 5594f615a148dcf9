"""Training throughput of symdistill's graph network against a plain PyTorch Geometric one.

Both sides train the same network: edge MLP 2F -> H x3 -> 100, node MLP F+100 -> H' x3
-> dim, ReLU, sum aggregation. H = H' = 300 as in the paper, or ``--hidden 64
--node-hidden 128`` as in the discovery pipeline's default preset. Both use the same
objective (per-graph summed absolute error plus the L1 message penalty over every edge), the same Adam + one-cycle optimizer and
the same minibatch of 64 four-body 2-D graphs. The peer is what the original code did:
a list of ``torch_geometric.data.Data`` graphs, the PyG ``DataLoader`` and a
``MessagePassing`` layer. symdistill is timed through its public ``train`` function,
so its figure includes checkpoint and metrics writes.

Run: ``python benchmarks/train.py [--steps 300] [--repeats 3] [--threads 1] [--hidden 64] [--node-hidden 128]``; prints
graphs per second for each and the ratio. Both sides run with the same torch thread
count, one by default, because two threads on a CPU that other processes keep busy are
many times slower and make the timings meaningless.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.nn import MessagePassing

from symdistill import gn

N_BODIES, DIM, BATCH, MSG_DIM = 4, 2, 64, 100


def make_data(n_graphs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    states = rng.normal(size=(n_graphs, N_BODIES, 2 * DIM + 2))
    states[..., -1] = np.exp(rng.normal(size=(n_graphs, N_BODIES)))
    accelerations = rng.normal(size=(n_graphs, N_BODIES, DIM))
    return states, accelerations


def _mlp(n_in: int, n_out: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_out),
    )


class PlainGN(MessagePassing):
    """The peer: a textbook PyG MessagePassing graph network."""

    def __init__(self, n_features: int, hidden: int, node_hidden: int) -> None:
        super().__init__(aggr="add")
        self.edge_mlp = _mlp(2 * n_features, MSG_DIM, hidden)
        self.node_mlp = _mlp(n_features + MSG_DIM, DIM, node_hidden)

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)

    def message(self, x_i, x_j):
        self.last_messages = self.edge_mlp(torch.cat([x_i, x_j], dim=1))
        return self.last_messages

    def update(self, aggregated, x):
        return self.node_mlp(torch.cat([x, aggregated], dim=1))


def time_pyg(states: np.ndarray, accelerations: np.ndarray, steps: int, hidden: int, node_hidden: int) -> float:
    """Return the seconds that ``steps`` training steps of the PyG peer take."""
    torch.manual_seed(0)
    pairs = [(i, j) for i in range(N_BODIES) for j in range(N_BODIES) if i != j]
    edge_index = torch.tensor([[j for i, j in pairs], [i for i, j in pairs]])
    graphs = [
        Data(x=torch.tensor(s, dtype=torch.float32), edge_index=edge_index, y=torch.tensor(a, dtype=torch.float32))
        for s, a in zip(states, accelerations)
    ]
    loader = DataLoader(graphs, batch_size=BATCH, shuffle=True, drop_last=True)
    model = PlainGN(states.shape[-1], hidden, node_hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-8)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, total_steps=steps, final_div_factor=1e5)
    done = 0
    start = time.perf_counter()
    while done < steps:
        for batch in loader:
            x = batch.x.clone()
            x[:, :DIM] += torch.randn(DIM) * 3.0
            prediction = model(x, batch.edge_index)
            penalty = 1e-2 * model.last_messages.abs().sum() / N_BODIES
            loss = ((prediction - batch.y).abs().sum() + penalty) / batch.num_graphs
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            done += 1
            if done == steps:
                break
    return time.perf_counter() - start


def time_symdistill(states: np.ndarray, accelerations: np.ndarray, steps: int, hidden: int, node_hidden: int) -> float:
    """Return the seconds that ``steps`` steps of ``symdistill.gn.train`` take."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        gn.train(
            (states, accelerations), "l1", out=out, steps=steps, batch_size=BATCH, device="cpu",
            checkpoint_every=steps, hidden=hidden, node_hidden=node_hidden,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per timing")
    parser.add_argument("--repeats", type=int, default=3, help="timings per side; the fastest counts")
    parser.add_argument("--graphs", type=int, default=20_000, help="graphs in the synthetic training set")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for both sides")
    parser.add_argument("--hidden", type=int, default=300, help="units per hidden layer of both MLPs")
    parser.add_argument("--node-hidden", type=int, help="units per hidden layer of the node MLP (default: --hidden)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    states, accelerations = make_data(args.graphs)
    node_hidden = args.node_hidden or args.hidden
    time_pyg(states, accelerations, 10, args.hidden, node_hidden)  # warm-up of both code paths
    time_symdistill(states, accelerations, 10, args.hidden, node_hidden)
    pyg, ours = [], []
    for _ in range(args.repeats):
        pyg.append(time_pyg(states, accelerations, args.steps, args.hidden, node_hidden))
        ours.append(time_symdistill(states, accelerations, args.steps, args.hidden, node_hidden))
    pyg_rate = args.steps * BATCH / min(pyg)
    our_rate = args.steps * BATCH / min(ours)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.steps} steps of {BATCH} graphs, hidden {args.hidden}, node hidden {node_hidden}")
    print(f"PyG MessagePassing + DataLoader: {pyg_rate:9.0f} graphs/s")
    print(f"symdistill gn.train (dense):     {our_rate:9.0f} graphs/s")
    print(f"ratio: {our_rate / pyg_rate:.2f}x")


if __name__ == "__main__":
    main()
