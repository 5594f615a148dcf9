"""Rockstar ASCII halo catalogues (``out_*.list``).

The first line names the columns (``#ID DescID Mvir Vmax Vrms Rvir Rs Np X Y Z VX VY VZ
...``); further ``#`` lines carry the scale factor (``#a = 1.000000``) and the box size
(``#Box size: 250.000000 Mpc/h``). Rockstar writes positions in comoving Mpc/h, velocities
in physical peculiar km/s and masses in Msun/h, which are the catalogue units here.
"""

from __future__ import annotations

import os
import re

import numpy as np

from symdistill.halos.catalog import HaloCatalog


def read_rockstar(
    path: str | os.PathLike[str],
    *,
    mass_column: str = "Mvir",
    box_size: float | None = None,
    redshift: float | None = None,
    parents_only: bool = False,
) -> HaloCatalog:
    """Read a Rockstar ``out_*.list`` file.

    Parameters
    ----------
    path : path-like
    mass_column : str
        Header name of the mass to use (``Mvir``, ``M200b``, ``M200c`` ...).
    box_size : float, optional
        Box edge in Mpc/h; read from the ``#Box size:`` line when omitted.
    redshift : float, optional
        Read from the ``#a =`` line when omitted.
    parents_only : bool
        Keep only halos whose ``PID`` is -1 (needs a PID column).
    """
    path = os.fspath(path)
    names: list[str] | None = None
    scale_factor = None
    stored_box = None
    with open(path) as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            text = line[1:].strip()
            if names is None:
                # Consistent-trees style names look like "scale(0)"; keep the bare name.
                names = [re.sub(r"\(.*\)$", "", token) for token in text.split()]
                continue
            match = re.match(r"a\s*=\s*([0-9.eE+-]+)", text)
            if match:
                scale_factor = float(match.group(1))
            match = re.match(r"Box size:\s*([0-9.eE+-]+)", text)
            if match:
                stored_box = float(match.group(1))
    if not names:
        raise ValueError(f"{path!r} has no '#' header line naming the columns; is it a Rockstar out_*.list file?")
    required = ["X", "Y", "Z", "VX", "VY", "VZ", mass_column] + (["PID"] if parents_only else [])
    missing = [name for name in required if name not in names]
    if missing:
        raise ValueError(f"{path!r} lacks the column(s) {missing}; the header names {names}")

    columns = [names.index(name) for name in required]
    data = np.loadtxt(path, comments="#", usecols=columns, ndmin=2)
    if data.shape[0] and data.shape[1] != len(columns):
        raise ValueError(f"{path!r}: rows have fewer columns than the header names")
    if parents_only:
        data = data[data[:, -1] == -1]
    if redshift is None and scale_factor is not None:
        redshift = 1.0 / scale_factor - 1.0
    return HaloCatalog(
        positions=data[:, 0:3],
        velocities=data[:, 3:6],
        masses=data[:, 6],
        box_size=box_size if box_size is not None else stored_box,
        redshift=redshift,
        metadata={"source": path, "format": "rockstar", "mass_column": mass_column},
    )


def write_rockstar(path: str | os.PathLike[str], catalog: HaloCatalog) -> None:
    """Write a minimal Rockstar-style ``out_*.list`` file (for tests and data exchange)."""
    n = catalog.n_halos
    table = np.column_stack(
        [np.arange(n), np.full(n, -1), catalog.masses, np.full(n, 20), catalog.positions, catalog.velocities, np.full(n, -1)]
    )
    a = 1.0 / (1.0 + (catalog.redshift or 0.0))
    with open(path, "w") as handle:
        handle.write("#ID DescID Mvir Np X Y Z VX VY VZ PID\n")
        handle.write(f"#a = {a:.6f}\n")
        if catalog.box_size is not None:
            handle.write(f"#Box size: {catalog.box_size:.6f} Mpc/h\n")
        handle.write("#Units: Masses in Msun / h\n")
        np.savetxt(handle, table, fmt=["%d", "%d", "%.6e", "%d", "%.6f", "%.6f", "%.6f", "%.3f", "%.3f", "%.3f", "%d"])
