"""Input checks shared by the N-body systems, the simulator and the dataset."""

from __future__ import annotations

import numbers

import numpy as np


def state_width(dim: int) -> int:
    """Return the number of state columns ``[position(dim), velocity(dim), charge, mass]``."""
    return 2 * dim + 2


def check_dim(dim: object) -> int:
    """Return ``dim`` as an int, or raise unless it is 2 or 3."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    return int(dim)


def check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(value)


def check_positive_float(value: object, name: str) -> float:
    """Return ``value`` as a float, or raise unless it is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_states(states: object, dim: int, name: str, *, batch: bool = True) -> np.ndarray:
    """Return ``states`` as float64, checking the column count, finiteness and masses.

    With ``batch=True`` the shape is [..., N, F]; otherwise exactly [E, F].
    """
    array = np.asarray(states, dtype=np.float64)
    width = state_width(dim)
    expected = f"[..., N, {width}]" if batch else f"[E, {width}]"
    if (batch and array.ndim < 2) or (not batch and array.ndim != 2) or array.shape[-1] != width:
        raise ValueError(
            f"{name} must have shape {expected} ([position({dim}), velocity({dim}), charge, mass]), "
            f"got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"{name} contains a non-finite value at index {tuple(int(i) for i in bad)}")
    if np.any(array[..., -1] <= 0):
        bad = np.argwhere(array[..., -1] <= 0)[0]
        raise ValueError(
            f"{name} has a non-positive mass {array[(*bad, -1)]!r} at index {tuple(int(i) for i in bad)}; "
            "masses (last column) must be > 0"
        )
    return array
