"""Inductive biases on graph-network messages, as small named objects.

Each bias decides how many message components the edge model emits, how its raw output
becomes the message that is summed (sampling for ``kl``), which penalty the training
objective adds, how the analysis ranks components, and which network it builds. Look
one up by name with :func:`get_bias`; the registry is :data:`BIASES`.

The four message biases follow Cranmer et al. (2020), section 4.1:

- ``standard``: 100 message components, no penalty;
- ``bottleneck``: as many components as spatial dimensions;
- ``l1``: 100 components and an L1 penalty of weight 1e-2 on every edge's message;
- ``kl``: 100 Gaussian components (mean and log-variance) sampled while training, with
  the KL divergence to N(0, 1) as penalty; analysis uses the mean.

``flathgn`` is the flattened Hamiltonian graph network: a scalar pair energy per edge
plus a scalar self energy per node, accelerations from the gradient of their sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class MessageBias:
    """A message-passing graph network whose messages carry an optional L1 penalty.

    Attributes
    ----------
    name : str
        Registry name.
    default_msg_dim : int or None
        Message components when the caller gives none; ``None`` means the spatial dimension.
    l1_weight : float
        Weight of the summed absolute message components in the objective.
    """

    name: str
    default_msg_dim: int | None = 100
    l1_weight: float = 0.0
    ranking: Literal["std", "kl"] = "std"
    kind: Literal["message", "hamiltonian"] = "message"

    def message_dim(self, dim: int, msg_dim: int | None = None) -> int:
        """Return the number of message components for spatial dimension ``dim``."""
        size = msg_dim if msg_dim is not None else (self.default_msg_dim or dim)
        if size < 1:
            raise ValueError(f"msg_dim must be at least 1, got {size}")
        return size

    def edge_outputs(self, n_messages: int) -> int:
        """Return the width of the edge model's raw output for ``n_messages`` components."""
        return n_messages

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        """Return the deterministic message for raw edge output ``raw`` [E, edge_outputs]."""
        return raw

    def sample(self, raw: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return the message used while training (equal to :meth:`mean` here)."""
        return raw

    def penalty(self, raw: torch.Tensor) -> torch.Tensor:
        """Return the penalty summed over the edges of ``raw`` [..., edge_outputs]."""
        if self.l1_weight == 0.0:
            return raw.new_zeros(())
        return self.l1_weight * raw.abs().sum()

    def build(
        self,
        n_features: int,
        dim: int,
        *,
        msg_dim: int | None = None,
        hidden: int = 300,
        n_hidden_layers: int = 3,
        edge_features: int = 0,
        node_hidden: int | None = None,
    ) -> nn.Module:
        """Build the graph network that carries this bias."""
        from symdistill.gn.model import GraphNetwork

        return GraphNetwork(
            n_features,
            dim,
            bias=self,
            msg_dim=self.message_dim(dim, msg_dim),
            hidden=hidden,
            n_hidden_layers=n_hidden_layers,
            edge_features=edge_features,
            node_hidden=node_hidden,
        )


@dataclass(frozen=True)
class GaussianMessageBias(MessageBias):
    """Gaussian messages: the edge model emits means then log-variances.

    The raw output [E, 2k] contains the means in columns ``0..k-1`` and the log-variances in
    ``k..2k-1``. Training samples ``mean + eps * exp(logvar / 2)``; the penalty is the KL
    divergence of N(mean, exp(logvar)) from N(0, 1), summed over edges and components.
    """

    kl_weight: float = 1.0
    ranking: Literal["std", "kl"] = "kl"

    def edge_outputs(self, n_messages: int) -> int:
        return 2 * n_messages

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        return raw[..., : raw.shape[-1] // 2]

    def log_variance(self, raw: torch.Tensor) -> torch.Tensor:
        """Return the log-variance half of ``raw``."""
        return raw[..., raw.shape[-1] // 2 :]

    def sample(self, raw: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        import torch

        mean, logvar = self.mean(raw), self.log_variance(raw)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + noise * torch.exp(0.5 * logvar)

    def penalty(self, raw: torch.Tensor) -> torch.Tensor:
        return self.kl_weight * self.kl_divergence(raw).sum()

    def kl_divergence(self, raw: torch.Tensor) -> torch.Tensor:
        """Return the KL divergence to N(0, 1) of each component, shape [..., k]."""
        import torch

        mean, logvar = self.mean(raw), self.log_variance(raw)
        return 0.5 * (torch.exp(logvar) + mean**2 - logvar - 1.0)


@dataclass(frozen=True)
class HamiltonianBias:
    """The flattened Hamiltonian graph network (FlatHGN).

    H is the sum of a scalar pair energy over directed edges and a scalar self energy
    over nodes. Both are Softplus MLPs on canonical node states, whose velocities are
    replaced by momenta ``p = m v``. Accelerations are ``-dH/dq / m``.
    """

    name: str = "flathgn"
    ranking: Literal["std", "kl"] = "std"
    kind: Literal["message", "hamiltonian"] = "hamiltonian"

    def message_dim(self, dim: int, msg_dim: int | None = None) -> int:
        """Return 1: the only message is the scalar pair energy."""
        if msg_dim not in (None, 1):
            raise ValueError(f"flathgn has a scalar pair energy, so msg_dim must be 1 or None, got {msg_dim}")
        return 1

    def build(
        self,
        n_features: int,
        dim: int,
        *,
        msg_dim: int | None = None,
        hidden: int = 300,
        n_hidden_layers: int = 3,
        edge_features: int = 0,
        node_hidden: int | None = None,
    ) -> nn.Module:
        """Build a :class:`~symdistill.gn.hamiltonian.FlatHGN` with Softplus MLPs."""
        from symdistill.gn.hamiltonian import FlatHGN

        self.message_dim(dim, msg_dim)
        return FlatHGN.with_mlps(
            n_features,
            dim,
            hidden=hidden,
            n_hidden_layers=n_hidden_layers,
            edge_features=edge_features,
            node_hidden=node_hidden,
        )


InductiveBias = MessageBias | HamiltonianBias

BIASES: dict[str, InductiveBias] = {
    bias.name: bias
    for bias in (
        MessageBias("standard"),
        MessageBias("bottleneck", default_msg_dim=None),
        MessageBias("l1", l1_weight=1e-2),
        GaussianMessageBias("kl"),
        HamiltonianBias(),
    )
}


def get_bias(name: str | InductiveBias) -> InductiveBias:
    """Return the registered bias called ``name`` (a bias object passes through)."""
    if isinstance(name, (MessageBias, HamiltonianBias)):
        return name
    try:
        return BIASES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(BIASES)}") from None


def register_bias(bias: InductiveBias) -> None:
    """Add ``bias`` to :data:`BIASES` under ``bias.name`` so :func:`get_bias` finds it."""
    if bias.name in BIASES:
        raise ValueError(f"a bias named {bias.name!r} is already registered")
    BIASES[bias.name] = bias
