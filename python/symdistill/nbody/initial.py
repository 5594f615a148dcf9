"""Random initial conditions, drawn as in the authors' simulation code."""

from __future__ import annotations

from typing import Literal

import numpy as np

from symdistill.nbody.systems import System

UnusedCharge = Literal["zero", "noise"]
UNUSED_CHARGE_MODES = ("zero", "noise")


def initial_states(
    system: System, n_bodies: int, n_sims: int, seed: int, unused_charge: UnusedCharge = "zero"
) -> np.ndarray:
    """Draw initial states: positions and velocities N(0, 1), masses exp(N(0, 1)).

    Charges are +1 or -1 with equal probability when the potential uses them. Otherwise
    ``unused_charge="zero"`` sets them to 0, while ``"noise"`` keeps the N(0, 1) draw
    that the authors' code leaves in that column, where a network takes it as input.

    One generator seeded with ``seed`` draws every value in simulation order, so the
    first k simulations are the same for any ``n_sims >= k``.

    Shapes
    ------
    returns : [n_sims, n_bodies, 2*dim + 2]
    """
    if unused_charge not in UNUSED_CHARGE_MODES:
        raise ValueError(f"unknown unused_charge {unused_charge!r}; choose one of {', '.join(UNUSED_CHARGE_MODES)}")
    rng = np.random.default_rng(seed)
    states = rng.standard_normal((n_sims, n_bodies, system.n_features))
    states[..., -1] = np.exp(states[..., -1])
    if system.uses_charge:
        states[..., -2] = np.where(states[..., -2] >= 0.0, 1.0, -1.0)
    elif unused_charge == "zero":
        states[..., -2] = 0.0
    return states
