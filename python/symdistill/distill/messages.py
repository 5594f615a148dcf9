"""Recording the messages of a trained graph network together with their edge inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from symdistill.gn.data import load_nbody_arrays
from symdistill.gn.model import complete_pairs
from symdistill.symbolic.features import state_names


def _network_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def record_messages(model: nn.Module, dataset: Any, n_graphs: int = 1000, seed: int = 0, chunk: int = 65536):
    """Record phi_e's messages on every edge of ``n_graphs`` graphs drawn from ``dataset``.

    Graphs are drawn with replacement using ``numpy.random.default_rng(seed)``. Each row
    of the returned table is one directed edge of a complete graph: the receiver state
    (columns ``x1 y1 [z1] vx1 vy1 [vz1] q1 m1``), the sender state (suffix ``2``),
    ``dx dy [dz]`` (receiver minus sender), the unsoftened distance ``r``, the message
    components ``e0 .. e{k-1}`` (the mean for ``kl`` models, whose log-variances are
    added as ``logvar0 ..``; the pair energy for ``flathgn``), and ``graph``, the index of
    the drawn graph in ``dataset``.

    Parameters
    ----------
    model : nn.Module
        A trained network from :func:`symdistill.gn.build_model` or ``load_model``.
    dataset : NBodyDataset, (states, accelerations) pair or path
        Graphs to record on, usually test data simulated from another seed.

    Returns
    -------
    pandas.DataFrame
        ``n_graphs * N * (N - 1)`` rows.
    """
    import pandas as pd

    if not isinstance(n_graphs, (int, np.integer)) or n_graphs < 1:
        raise ValueError(f"n_graphs must be a positive integer, got {n_graphs!r}")
    states, _, _ = load_nbody_arrays(dataset)
    n_available, n_bodies, n_features = states.shape
    if n_features != model.n_features:
        raise ValueError(f"the network takes {model.n_features} node features but the data have {n_features}")
    dim = (n_features - 2) // 2
    graphs = np.random.default_rng(seed).integers(0, n_available, size=n_graphs)
    receivers, senders = (index.numpy() for index in complete_pairs(n_bodies))
    receiver_states = states[graphs][:, receivers].reshape(-1, n_features)
    sender_states = states[graphs][:, senders].reshape(-1, n_features)

    device = _network_device(model)
    was_training = model.training
    model.eval()
    means, log_variances = [], []
    bias = getattr(model, "bias", None)
    with torch.no_grad():
        for start in range(0, len(receiver_states), chunk):
            receiver = torch.as_tensor(receiver_states[start : start + chunk], dtype=torch.float32, device=device)
            sender = torch.as_tensor(sender_states[start : start + chunk], dtype=torch.float32, device=device)
            if hasattr(bias, "log_variance"):
                raw = model.edge_raw(receiver, sender)
                means.append(bias.mean(raw).double().cpu().numpy())
                log_variances.append(bias.log_variance(raw).double().cpu().numpy())
            else:
                means.append(model.edge_model(receiver, sender).double().cpu().numpy())
    model.train(was_training)

    names = state_names(dim)
    columns: dict[str, np.ndarray] = {}
    for k, name in enumerate(names):
        columns[f"{name}1"] = receiver_states[:, k]
    for k, name in enumerate(names):
        columns[f"{name}2"] = sender_states[:, k]
    delta = receiver_states[:, :dim] - sender_states[:, :dim]
    for k, axis in enumerate(names[:dim]):
        columns[f"d{axis}"] = delta[:, k]
    columns["r"] = np.sqrt((delta**2).sum(axis=1))
    messages = np.concatenate(means)
    for k in range(messages.shape[1]):
        columns[f"e{k}"] = messages[:, k]
    if log_variances:
        log_variance = np.concatenate(log_variances)
        for k in range(log_variance.shape[1]):
            columns[f"logvar{k}"] = log_variance[:, k]
    columns["graph"] = np.repeat(graphs, len(receivers))
    return pd.DataFrame(columns)


def states_from_messages(recorded, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the receiver and sender states [E, 2 * dim + 2] stored in a recorded-messages table."""
    names = state_names(dim)
    missing = [f"{name}{s}" for s in "12" for name in names if f"{name}{s}" not in recorded.columns]
    if missing:
        raise ValueError(f"the messages table lacks state columns {missing}; record it with record_messages")
    receiver = recorded[[f"{name}1" for name in names]].to_numpy(dtype=np.float64)
    sender = recorded[[f"{name}2" for name in names]].to_numpy(dtype=np.float64)
    return receiver, sender


def message_columns(recorded) -> list[str]:
    """Return the message column names ``e0, e1, ...`` of a recorded-messages table in order."""
    names = [c for c in recorded.columns if c.startswith("e") and c[1:].isdigit()]
    if not names:
        raise ValueError("the messages table has no message columns e0, e1, ...; record it with record_messages")
    return sorted(names, key=lambda c: int(c[1:]))
