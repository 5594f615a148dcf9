"""The in-memory halo catalogue shared by every reader, the simulator and the graph builder.

Units throughout ``symdistill.halos``: positions in comoving Mpc/h, peculiar velocities in
km/s, masses in Msun/h, the periodic box edge in Mpc/h. Readers convert to these units.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class HaloCatalog:
    """Halo positions, velocities and masses, with an optional overdensity per halo.

    Parameters
    ----------
    positions : ndarray, shape (n_halos, 3)
        Comoving positions in Mpc/h. In a periodic box they lie in ``[0, box_size)``.
    velocities : ndarray, shape (n_halos, 3)
        Peculiar velocities in km/s.
    masses : ndarray, shape (n_halos,)
        Halo masses in Msun/h.
    box_size : float or None
        Edge of the periodic box in Mpc/h; None for a catalogue without periodic boundaries.
    delta : ndarray, shape (n_halos,), optional
        Smoothed matter overdensity at each halo centre (the regression target).
    redshift : float, optional
    metadata : dict
        Provenance (source file, simulation settings, the overdensity kernel ...). Values
        must be JSON-serialisable.
    """

    positions: np.ndarray
    velocities: np.ndarray
    masses: np.ndarray
    box_size: float | None = None
    delta: np.ndarray | None = None
    redshift: float | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        positions = np.ascontiguousarray(self.positions, dtype=np.float64)
        velocities = np.ascontiguousarray(self.velocities, dtype=np.float64)
        masses = np.ascontiguousarray(self.masses, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != 3:
            raise ValueError(f"positions must have shape (n_halos, 3), got {positions.shape}")
        n_halos = positions.shape[0]
        if velocities.shape != (n_halos, 3):
            raise ValueError(f"velocities must have shape ({n_halos}, 3) like positions, got {velocities.shape}")
        if masses.shape != (n_halos,):
            raise ValueError(f"masses must have shape ({n_halos},) like positions, got {masses.shape}")
        for name, array in (("positions", positions), ("velocities", velocities), ("masses", masses)):
            if not np.all(np.isfinite(array)):
                raise ValueError(f"{name} contain NaN or inf at {int(np.sum(~np.isfinite(array)))} entries; drop those halos first")
        if n_halos and np.any(masses <= 0):
            raise ValueError(f"masses must be positive, got minimum {masses.min()!r}")
        box_size = None if self.box_size is None else float(self.box_size)
        if box_size is not None:
            if not np.isfinite(box_size) or box_size <= 0:
                raise ValueError(f"box_size must be a positive length in Mpc/h or None, got {self.box_size!r}")
            if n_halos and (positions.min() < 0 or positions.max() >= box_size):
                # Wrap points that sit just outside through float rounding; reject real mismatches.
                tolerance = 1e-3 * box_size
                if positions.min() < -tolerance or positions.max() >= box_size + tolerance:
                    raise ValueError(
                        f"positions span [{positions.min():.4g}, {positions.max():.4g}] Mpc/h, outside the box "
                        f"[0, {box_size:g}); check the position unit (kpc/h vs Mpc/h) or the box_size"
                    )
                positions = np.mod(positions, box_size)
                positions[positions >= box_size] = 0.0
        delta = self.delta
        if delta is not None:
            delta = np.ascontiguousarray(delta, dtype=np.float64)
            if delta.shape != (n_halos,):
                raise ValueError(f"delta must have shape ({n_halos},), got {delta.shape}")
            if not np.all(np.isfinite(delta)):
                raise ValueError("delta contains NaN or inf; recompute the overdensity or drop those halos")
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "velocities", velocities)
        object.__setattr__(self, "masses", masses)
        object.__setattr__(self, "box_size", box_size)
        object.__setattr__(self, "delta", delta)
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def n_halos(self) -> int:
        """Number of halos."""
        return int(self.positions.shape[0])

    def __len__(self) -> int:
        return self.n_halos

    def __repr__(self) -> str:
        box = "non-periodic" if self.box_size is None else f"box {self.box_size:g} Mpc/h"
        target = "with delta" if self.delta is not None else "no delta"
        return f"HaloCatalog({self.n_halos} halos, {box}, {target})"

    def select(self, mask_or_index: np.ndarray) -> "HaloCatalog":
        """Return the catalogue restricted to a boolean mask or an index array."""
        index = np.asarray(mask_or_index)
        return dataclasses.replace(
            self,
            positions=self.positions[index],
            velocities=self.velocities[index],
            masses=self.masses[index],
            delta=None if self.delta is None else self.delta[index],
        )

    def with_delta(self, delta: np.ndarray, **metadata: Any) -> "HaloCatalog":
        """Return a copy with ``delta`` set and ``metadata`` entries added."""
        return dataclasses.replace(self, delta=delta, metadata={**self.metadata, **metadata})

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the catalogue as a compressed ``.npz`` table readable by :func:`load_catalog`."""
        from symdistill.halos.tables import write_table

        write_table(self, path)

    def summary(self) -> dict[str, Any]:
        """Return counts and ranges as a JSON-ready dictionary."""
        info: dict[str, Any] = {"n_halos": self.n_halos, "box_size": self.box_size, "redshift": self.redshift}
        if self.n_halos:
            info["log10_mass_range"] = [float(np.log10(self.masses.min())), float(np.log10(self.masses.max()))]
            info["speed_rms_km_s"] = float(np.sqrt(np.mean(np.sum(self.velocities**2, axis=1))))
            if self.box_size is not None:
                info["number_density_h3_mpc3"] = self.n_halos / self.box_size**3
        if self.delta is not None and self.n_halos:
            info["delta_mean"] = float(self.delta.mean())
            info["delta_median"] = float(np.median(self.delta))
            info["fraction_delta_above_1"] = float(np.mean(self.delta > 1.0))
        return info


def load_catalog(path: str | os.PathLike[str], format: str | None = None, **options: Any) -> HaloCatalog:
    """Read a halo catalogue, choosing the reader from ``format`` or the file name.

    Parameters
    ----------
    path : path-like
        A ``.npz``, ``.csv``, ``.h5``/``.hdf5`` table; a Rockstar ``out_*.list`` file; a
        Quijote/Gadget FoF ``group_tab_NNN.K`` file or the ``groups_NNN`` folder holding them.
    format : {"npz", "csv", "hdf5", "rockstar", "fof"}, optional
        Overrides the guess from the file name.
    **options
        Passed to the reader (for FoF: ``box_size``, ``redshift``; for tables: column names).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"halo catalogue not found: {path!r}")
    fmt = (format or _guess_format(path)).lower()
    if fmt in ("npz", "csv", "hdf5", "h5"):
        from symdistill.halos.tables import read_table

        return read_table(path, format=fmt, **options)
    if fmt == "rockstar":
        from symdistill.halos.rockstar import read_rockstar

        return read_rockstar(path, **options)
    if fmt == "fof":
        from symdistill.halos.fof_format import read_fof_group_tab

        return read_fof_group_tab(path, **options)
    raise ValueError(f"unknown catalogue format {fmt!r}; use one of npz, csv, hdf5, rockstar, fof")


def _guess_format(path: str) -> str:
    name = os.path.basename(os.path.normpath(path))
    if os.path.isdir(path) or name.startswith("group_tab_"):
        return "fof"
    lower = name.lower()
    if lower.endswith(".npz"):
        return "npz"
    if lower.endswith((".csv", ".csv.gz")):
        return "csv"
    if lower.endswith((".h5", ".hdf5", ".hdf")):
        return "hdf5"
    if lower.endswith(".list") or lower.startswith("out_"):
        return "rockstar"
    raise ValueError(
        f"cannot tell the catalogue format of {path!r} from its name; pass format= one of npz, csv, hdf5, rockstar, fof"
    )
