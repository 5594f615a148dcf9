"""Multilayer perceptrons used for the edge, node and energy functions."""

from __future__ import annotations

from torch import nn


def mlp(n_in: int, n_out: int, hidden: int = 300, n_hidden_layers: int = 3, activation: str = "relu") -> nn.Sequential:
    """Build ``n_in -> hidden x n_hidden_layers -> n_out`` with the activation after each hidden layer.

    The output layer is linear. ``activation`` is ``"relu"`` (message and node models) or
    ``"softplus"`` (energy models, which need smooth second derivatives for autograd forces).
    """
    if n_hidden_layers < 1:
        raise ValueError(f"n_hidden_layers must be at least 1, got {n_hidden_layers}")
    if hidden < 1:
        raise ValueError(f"hidden must be at least 1, got {hidden}")
    activations = {"relu": nn.ReLU, "softplus": nn.Softplus}
    if activation not in activations:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(activations)}")
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(n_hidden_layers):
        layers += [nn.Linear(width, hidden), activations[activation]()]
        width = hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)
