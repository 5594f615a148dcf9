"""N-body systems: a pair potential, a softening length, a dimension and damping.

The built-in systems are those of Cranmer et al. (2020), with the conventions of the
authors' simulation code: ``r`` in every potential is the softened distance
``|x1 - x2| + softening`` (additive softening, 0.01 by default) and G = 1.

=================  ==============================  ==============================
name               pair potential U                force on body 1 (r_hat from 2 to 1)
=================  ==============================  ==============================
``spring``         (r - 1)^2                       -2 (r - 1) r_hat
``r1``             m1 m2 log(r)                    -m1 m2 / r r_hat
``r2``             -m1 m2 / r                      -m1 m2 / r^2 r_hat
``charge``         q1 q2 / r                       q1 q2 / r^2 r_hat
``damped``         (r - 1)^2, plus damping         -2 (r - 1) r_hat - gamma_1 v_1
``discontinuous``  1 if r < 2 else (r - 1)^2       0 if r < 2 else -2 (r - 1) r_hat
=================  ==============================  ==============================

The text of Cranmer et al. writes the discontinuous force as r^2 r_hat above r = 2; the
authors' code, followed here, uses -2 (r - 1) r_hat above a softened distance of 2
(unsoftened 1.99 with the default softening).

Any other pair potential in ``r, m1, m2, q1, q2`` works the same way
(``get_system(potential="q1*q2*exp(-r)/r")``): the force is derived symbolically and
compiled with Numba.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from types import ModuleType
from typing import Literal

import numpy as np
import sympy

from symdistill.nbody.potentials import parse_potential, uses_charge
from symdistill.nbody.validation import check_dim, check_states, state_width

#: Names of the built-in systems.
SYSTEMS = ("spring", "r1", "r2", "charge", "damped", "discontinuous")

#: Name given to systems defined by a user pair potential.
CUSTOM = "custom"

_POTENTIALS = {
    "spring": "(r - 1)**2",
    "r1": "m1*m2*log(r)",
    "r2": "-m1*m2/r",
    "charge": "q1*q2/r",
    "damped": "(r - 1)**2",
    # The authors' code uses 0 below r = 2, a potential whose jump the force ignores.
    # The constant 1 makes U continuous, so the energy it defines is conserved.
    "discontinuous": "Piecewise((1, r < 2), ((r - 1)**2, True))",
}

#: Output time step per system used by the authors' notebook; custom systems use 0.01.
DEFAULT_DT = {"spring": 1e-2, "r1": 5e-3, "r2": 1e-3, "charge": 1e-3, "damped": 2e-2, "discontinuous": 1e-2}

# Built-in systems with the same potential share a force law (damping is separate).
_BUILTIN_LAW_INDEX = {name: list(dict.fromkeys(_POTENTIALS.values())).index(text) for name, text in _POTENTIALS.items()}


@functools.lru_cache(maxsize=None)
def _builtin_laws() -> tuple[sympy.Expr, ...]:
    return tuple(parse_potential(text) for text in dict.fromkeys(_POTENTIALS.values()))


DampingMode = Literal["uniform", "reference"]
DAMPING_MODES = ("uniform", "reference")


@dataclass(frozen=True)
class System:
    """An N-body system: pair potential, softening, dimension and damping.

    Build one with ``get_system``. The node state layout is
    ``[position(dim), velocity(dim), charge, mass]``, so ``F = 2*dim + 2`` columns.

    Attributes
    ----------
    name : str
        A name from ``SYSTEMS``, or ``"custom"`` for a user pair potential.
    dim : int
        Spatial dimension, 2 or 3.
    softening : float
        Length added to every pair distance before the potential is evaluated.
    damping : {"uniform", "reference"}
        How the ``damped`` system damps velocities (ignored by the other systems).
        ``"uniform"``: every body feels ``-gamma v`` with ``gamma = (n - 1) / (2 n)``,
        the mean of the reference coefficients, so the dynamics are permutation
        equivariant and the total damping rate matches the authors' code.
        ``"reference"``: body ``i`` (0-based) feels ``-((n - 1 - i) / n) v_i``, as in
        the authors' code, which adds the term ``x1 . v1 / n`` to the potential of
        every pair (i, j) with i < j, so body i collects it once per later body and the
        last body is undamped. A graph network cannot fit this exactly because it
        depends on the order of the bodies; use it only to reproduce the paper's data.
    potential_expr : sympy.Expr
        The pair potential ``U(r, m1, m2, q1, q2)`` with ``r`` the softened distance.
    potential : str or None
        The user's potential text for custom systems, else None.
    """

    name: str
    dim: int
    softening: float
    damping: DampingMode
    potential_expr: sympy.Expr = field(compare=False)
    potential: str | None = None

    @property
    def n_features(self) -> int:
        """Number of state columns, ``2*dim + 2``."""
        return state_width(self.dim)

    @property
    def uses_charge(self) -> bool:
        """Whether the potential depends on the charges."""
        return uses_charge(self.potential_expr)

    @property
    def is_damped(self) -> bool:
        """Whether bodies feel a velocity-dependent damping force."""
        return self.name == "damped"

    @property
    def default_dt(self) -> float:
        """Output time step used by the authors' notebook for this system."""
        return DEFAULT_DT.get(self.name, 1e-2)

    def damping_coefficients(self, n_bodies: int) -> np.ndarray:
        """Return ``gamma`` of shape [n_bodies]: body i feels the force ``-gamma[i] * v_i``."""
        if self.is_damped and self.damping == "reference":
            return (n_bodies - 1 - np.arange(n_bodies)) / n_bodies
        if self.is_damped:
            return np.full(n_bodies, (n_bodies - 1) / (2 * n_bodies))
        return np.zeros(n_bodies)

    @functools.cached_property
    def _compiled(self) -> tuple[ModuleType, int]:
        from symdistill.nbody.codegen import kernel_module

        if self.name == CUSTOM:
            return kernel_module([self.potential_expr], self.dim), 0
        return kernel_module(_builtin_laws(), self.dim), _BUILTIN_LAW_INDEX[self.name]

    @property
    def kernels(self) -> ModuleType:
        """The Numba kernel module that contains this system's force law (compiled on first use)."""
        return self._compiled[0]

    @property
    def law(self) -> int:
        """Index of this system's force law in ``kernels`` (the kernels' ``law`` argument)."""
        return self._compiled[1]

    def accelerations(self, states: np.ndarray) -> np.ndarray:
        """Return the exact accelerations of every body, damping included.

        Shapes
        ------
        states : [..., N, F]
        returns : [..., N, dim]
        """
        states = check_states(states, self.dim, "states")
        flat = np.ascontiguousarray(states.reshape(-1, *states.shape[-2:]))
        out = np.empty((flat.shape[0], flat.shape[1], self.dim))
        gamma = self.damping_coefficients(flat.shape[1])
        self.kernels.accelerations(self.law, flat, gamma, float(self.softening), out)
        return out.reshape(*states.shape[:-1], self.dim)

    def pair_force(self, receiver: np.ndarray, sender: np.ndarray) -> np.ndarray:
        """Return the force on each receiver from its sender (damping excluded).

        Shapes
        ------
        receiver, sender : [E, F]
        returns : [E, dim]
        """
        receiver, sender = self._check_edges(receiver, sender)
        out = np.empty((receiver.shape[0], self.dim))
        self.kernels.pair_force(self.law, receiver, sender, float(self.softening), out)
        return out

    def pair_potential(self, receiver: np.ndarray, sender: np.ndarray) -> np.ndarray:
        """Return the pair potential of each edge.

        Shapes
        ------
        receiver, sender : [E, F]
        returns : [E]
        """
        receiver, sender = self._check_edges(receiver, sender)
        out = np.empty(receiver.shape[0])
        self.kernels.pair_potential(self.law, receiver, sender, float(self.softening), out)
        return out

    def potential_energy(self, states: np.ndarray) -> np.ndarray:
        """Return the total potential energy, summed once over each pair of bodies.

        Shapes
        ------
        states : [..., N, F]
        returns : [...]
        """
        states = check_states(states, self.dim, "states")
        n = states.shape[-2]
        first, second = np.triu_indices(n, k=1)
        flat = states.reshape(-1, n, states.shape[-1])
        receiver = flat[:, first].reshape(-1, states.shape[-1])
        sender = flat[:, second].reshape(-1, states.shape[-1])
        pair = self.pair_potential(receiver, sender).reshape(flat.shape[0], first.size)
        return pair.sum(axis=1).reshape(states.shape[:-2])

    def kinetic_energy(self, states: np.ndarray) -> np.ndarray:
        """Return the total kinetic energy ``sum m v^2 / 2``.

        Shapes
        ------
        states : [..., N, F]
        returns : [...]
        """
        states = check_states(states, self.dim, "states")
        velocity = states[..., self.dim : 2 * self.dim]
        return 0.5 * np.sum(states[..., -1] * np.sum(velocity**2, axis=-1), axis=-1)

    def energy(self, states: np.ndarray) -> np.ndarray:
        """Return the total energy, kinetic plus potential.

        Shapes
        ------
        states : [..., N, F]
        returns : [...]
        """
        return self.kinetic_energy(states) + self.potential_energy(states)

    def _check_edges(self, receiver: np.ndarray, sender: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        receiver = check_states(receiver, self.dim, "receiver", batch=False)
        sender = check_states(sender, self.dim, "sender", batch=False)
        if receiver.shape != sender.shape:
            raise ValueError(
                f"receiver and sender must have the same shape [E, {self.n_features}], "
                f"got {receiver.shape} and {sender.shape}"
            )
        return np.ascontiguousarray(receiver), np.ascontiguousarray(sender)


def get_system(
    name: str | None = None,
    *,
    potential: str | sympy.Expr | None = None,
    dim: int = 2,
    softening: float = 0.01,
    damping: DampingMode = "uniform",
) -> System:
    """Return a built-in system by name, or a custom one from a pair potential.

    Parameters
    ----------
    name : str, optional
        One of ``SYSTEMS``. Leave it out (or pass ``"custom"``) when giving ``potential``.
    potential : str or sympy.Expr, optional
        Pair potential in ``r`` (softened distance), ``m1, m2, q1, q2``, for example
        ``"q1*q2*exp(-r)/r"``. It must be symmetric under swapping the two bodies.
    dim : int
        Spatial dimension, 2 or 3.
    softening : float
        Non-negative length added to every pair distance.
    damping : {"uniform", "reference"}
        Damping convention of the ``damped`` system (see ``System``).
    """
    check_dim(dim)
    if isinstance(softening, bool) or not isinstance(softening, (int, float, np.floating, np.integer)):
        raise TypeError(f"softening must be a number, got {softening!r}")
    if not np.isfinite(softening) or softening < 0:
        raise ValueError(f"softening must be a finite number >= 0, got {softening!r}")
    if damping not in DAMPING_MODES:
        raise ValueError(f"unknown damping {damping!r}; choose one of {', '.join(DAMPING_MODES)}")

    if potential is not None:
        if name not in (None, CUSTOM):
            raise ValueError(f"give either a system name or a potential, not both (got name={name!r})")
        expr = parse_potential(potential)
        return System(CUSTOM, int(dim), float(softening), damping, expr, potential=str(potential))
    if name is None or name == CUSTOM:
        raise ValueError(f"give a system name ({', '.join(SYSTEMS)}) or a pair potential")
    if name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}; choose one of {', '.join(SYSTEMS)} or give a pair potential")
    return System(name, int(dim), float(softening), damping, _builtin_laws()[_BUILTIN_LAW_INDEX[name]])
