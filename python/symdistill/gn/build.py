"""Building graph networks by bias name, and rebuilding them from a saved spec."""

from __future__ import annotations

from typing import Any

from torch import nn

from symdistill.gn.biases import get_bias


def build_model(
    name: str,
    n_features: int,
    dim: int,
    *,
    msg_dim: int | None = None,
    hidden: int = 300,
    n_hidden_layers: int = 3,
    edge_features: int = 0,
    node_hidden: int | None = None,
) -> nn.Module:
    """Build the graph network for the inductive bias ``name``.

    Parameters
    ----------
    name : str
        A registered bias: ``standard``, ``bottleneck``, ``l1``, ``kl`` or ``flathgn``.
    n_features : int
        Node feature columns (``2 * dim + 2`` for N-body states).
    dim : int
        Output columns per node (spatial dimension).
    msg_dim : int, optional
        Message components; defaults to the bias's choice (100, or ``dim`` for bottleneck).
    hidden, n_hidden_layers : int
        MLP width and number of hidden layers (300 and 3 as in Cranmer et al. 2020).
    edge_features : int
        Edge attribute columns appended to the edge-model input.
    node_hidden : int, optional
        Width of the node-level MLP (the node model, or the self energy of ``flathgn``)
        when it differs from ``hidden``.

    Returns
    -------
    nn.Module
        A :class:`~symdistill.gn.model.GraphNetwork` or
        :class:`~symdistill.gn.hamiltonian.FlatHGN`, with ``.spec`` holding these
        arguments so :func:`model_from_spec` can rebuild it.
    """
    bias = get_bias(name)
    for label, value, minimum in (("n_features", n_features, 1), ("dim", dim, 1), ("edge_features", edge_features, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{label} must be an integer of at least {minimum}, got {value!r}")
    if node_hidden is not None and (not isinstance(node_hidden, int) or isinstance(node_hidden, bool) or node_hidden < 1):
        raise ValueError(f"node_hidden must be a positive integer (or None for the width of hidden), got {node_hidden!r}")
    model = bias.build(
        n_features,
        dim,
        msg_dim=msg_dim,
        hidden=hidden,
        n_hidden_layers=n_hidden_layers,
        edge_features=edge_features,
        node_hidden=node_hidden,
    )
    model.spec = {
        "name": bias.name,
        "n_features": n_features,
        "dim": dim,
        "msg_dim": model.msg_dim,
        "hidden": hidden,
        "n_hidden_layers": n_hidden_layers,
        "edge_features": edge_features,
    }
    if node_hidden is not None:
        # Only set when given, so specs saved before this option rebuild unchanged.
        model.spec["node_hidden"] = node_hidden
    return model


def model_from_spec(spec: dict[str, Any]) -> nn.Module:
    """Rebuild an untrained model from the ``.spec`` dictionary of :func:`build_model`."""
    spec = dict(spec)
    name = spec.pop("name")
    if name == "flathgn":
        spec.pop("msg_dim", None)
    return build_model(name, **spec)
