"""Named input variables of the symbolic edge and node functions, computed in torch.

A node state is ``[position(dim), velocity(dim), charge, mass]``. The edge variables
use the same names as the recorded-message tables: receiver columns end in ``1``,
sender columns in ``2`` (``x1 y1 vx1 vy1 q1 m1 x2 ...``), ``dx dy [dz]`` is receiver
minus sender and ``r`` the unsoftened distance. Node variables are the body's own
columns without a suffix (``x y vx vy q m``) plus the summed message components.

For Hamiltonian models the velocity columns hold momenta ``p = m v`` and are named
``px py [pz]`` instead of ``vx vy [vz]``.
"""

from __future__ import annotations

from typing import Sequence

import torch

AXES = ("x", "y", "z")


def state_names(dim: int, momenta: bool = False) -> list[str]:
    """Return the node-state column names for ``dim`` spatial dimensions.

    ``momenta=True`` names the velocity block ``px py [pz]``.
    """
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim!r}")
    axes = list(AXES[:dim])
    velocity = "p" if momenta else "v"
    return [*axes, *(velocity + axis for axis in axes), "q", "m"]


def edge_names(dim: int, momenta: bool = False) -> list[str]:
    """Return every edge variable name: receiver and sender states, ``d<axis>``, ``r``."""
    states = state_names(dim, momenta)
    return [*(name + "1" for name in states), *(name + "2" for name in states), *("d" + a for a in AXES[:dim]), "r"]


def summed_message_name(component: int) -> str:
    """Return the node-variable name of the summed message component ``component``."""
    return f"E{component}"


def edge_features(
    receiver: torch.Tensor, sender: torch.Tensor, names: Sequence[str], dim: int, momenta: bool = False
) -> torch.Tensor:
    """Compute the edge variables ``names`` from receiver and sender states.

    The computation is differentiable, so a Hamiltonian model can take gradients of an
    energy built from these features with respect to the states.

    Shapes
    ------
    receiver, sender : [..., F] with ``F = 2 * dim + 2``
    returns : [..., len(names)]
    """
    states = state_names(dim, momenta)
    if receiver.shape[-1] != len(states) or sender.shape != receiver.shape:
        raise ValueError(
            f"receiver and sender states must both have shape [..., {len(states)}] for dim={dim}, "
            f"got {tuple(receiver.shape)} and {tuple(sender.shape)}"
        )
    columns = []
    for name in names:
        columns.append(_edge_column(name, receiver, sender, states, dim))
    return torch.stack(columns, dim=-1)


def _edge_column(name: str, receiver: torch.Tensor, sender: torch.Tensor, states: list[str], dim: int) -> torch.Tensor:
    if name == "r":
        delta = receiver[..., :dim] - sender[..., :dim]
        return torch.sqrt((delta * delta).sum(dim=-1))
    if name.startswith("d") and name[1:] in AXES[:dim]:
        axis = AXES.index(name[1:])
        return receiver[..., axis] - sender[..., axis]
    if name[-1:] in ("1", "2") and name[:-1] in states:
        source = receiver if name[-1] == "1" else sender
        return source[..., states.index(name[:-1])]
    raise ValueError(f"unknown edge variable {name!r}; valid names are: {', '.join(edge_names(dim))}")


def node_features(
    states: torch.Tensor, summed: torch.Tensor, names: Sequence[str], components: Sequence[int], dim: int,
    momenta: bool = False,
) -> torch.Tensor:
    """Compute the node variables ``names`` from node states and summed messages.

    ``summed[..., k]`` is the sum over incoming edges of message component
    ``components[k]``, named ``E<component>``.

    Shapes
    ------
    states : [..., F]
    summed : [..., len(components)]
    returns : [..., len(names)]
    """
    own = state_names(dim, momenta)
    summed_names = [summed_message_name(c) for c in components]
    columns = []
    for name in names:
        if name in own:
            columns.append(states[..., own.index(name)])
        elif name in summed_names:
            columns.append(summed[..., summed_names.index(name)])
        else:
            raise ValueError(f"unknown node variable {name!r}; valid names are: {', '.join(own + summed_names)}")
    return torch.stack(columns, dim=-1)
