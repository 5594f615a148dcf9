"""Plain halo tables: ``.npz``, CSV and HDF5 files with positions, velocities and masses.

A table holds either array columns ``positions`` (n, 3), ``velocities`` (n, 3), ``masses``
(n,) or scalar columns ``x y z vx vy vz mass`` (common aliases such as ``pos``/``vel``/``M``
are accepted), an optional ``delta`` column, and the box size and redshift as scalars
(npz entries, HDF5 attributes, or ``# box_size = 500`` comment lines in CSV). Units are
Mpc/h, km/s and Msun/h unless ``length_unit``/``mass_unit`` say otherwise.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

import numpy as np

from symdistill.halos.catalog import HaloCatalog

_VECTOR_ALIASES = {
    "positions": ("positions", "position", "pos", "Pos"),
    "velocities": ("velocities", "velocity", "vel", "Vel"),
}
_SCALAR_ALIASES = {
    "x": ("x", "X"),
    "y": ("y", "Y"),
    "z": ("z", "Z"),
    "vx": ("vx", "VX", "v_x"),
    "vy": ("vy", "VY", "v_y"),
    "vz": ("vz", "VZ", "v_z"),
    "masses": ("masses", "mass", "M", "m", "Mass", "mvir", "Mvir"),
    "delta": ("delta", "overdensity"),
}
_LENGTH_UNITS = {"mpc/h": 1.0, "kpc/h": 1e-3}


def read_table(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    box_size: float | None = None,
    redshift: float | None = None,
    length_unit: str = "Mpc/h",
    mass_unit: float = 1.0,
) -> HaloCatalog:
    """Read a halo table from ``.npz``, CSV or HDF5.

    Parameters
    ----------
    path : path-like
    format : {"npz", "csv", "hdf5"}, optional
        Guessed from the extension when omitted.
    box_size, redshift : float, optional
        Override (or supply) the values stored in the file.
    length_unit : {"Mpc/h", "kpc/h"}
        Unit of the stored positions.
    mass_unit : float
        Multiplier that turns stored masses into Msun/h (1e10 for Gadget units).
    """
    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".")).lower()
    if fmt == "npz":
        columns, scalars = _read_npz(path)
    elif fmt == "csv":
        columns, scalars = _read_csv(path)
    elif fmt in ("hdf5", "h5", "hdf"):
        columns, scalars = _read_hdf5(path)
    else:
        raise ValueError(f"unknown table format {fmt!r} for {path!r}; use npz, csv or hdf5")
    unit = _LENGTH_UNITS.get(length_unit.lower())
    if unit is None:
        raise ValueError(f"unknown length_unit {length_unit!r}; use 'Mpc/h' or 'kpc/h'")

    positions = _vector(columns, "positions", ("x", "y", "z"), path) * unit
    velocities = _vector(columns, "velocities", ("vx", "vy", "vz"), path)
    masses = _scalar(columns, "masses", path) * float(mass_unit)
    delta_key = _find(columns, _SCALAR_ALIASES["delta"])
    delta = None if delta_key is None else np.asarray(columns[delta_key], dtype=np.float64)

    stored_box = scalars.get("box_size")
    metadata = scalars.get("metadata") or {}
    metadata.setdefault("source", path)
    return HaloCatalog(
        positions=positions,
        velocities=velocities,
        masses=masses,
        box_size=box_size if box_size is not None else (None if stored_box is None else float(stored_box) * unit),
        delta=delta,
        redshift=redshift if redshift is not None else scalars.get("redshift"),
        metadata=metadata,
    )


def write_table(catalog: HaloCatalog, path: str | os.PathLike[str], format: str | None = None) -> None:
    """Write ``catalog`` as ``.npz`` (compressed), CSV or HDF5, atomically.

    Positions, velocities and masses are stored in float32 in npz and HDF5 to keep shipped
    catalogues small (a float32 position in a 1 Gpc/h box resolves 0.06 kpc/h);
    ``delta`` is stored in float64.
    """
    from symdistill._io import atomic_path

    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".")).lower()
    metadata = json.dumps(catalog.metadata, default=_json_default)
    with atomic_path(path, suffix=os.path.splitext(path)[1]) as tmp:
        if fmt == "npz":
            arrays: dict[str, Any] = {
                "positions": catalog.positions.astype(np.float32),
                "velocities": catalog.velocities.astype(np.float32),
                "masses": catalog.masses.astype(np.float32),
                "box_size": np.nan if catalog.box_size is None else catalog.box_size,
                "redshift": np.nan if catalog.redshift is None else catalog.redshift,
                "metadata": np.array(metadata),
            }
            if catalog.delta is not None:
                arrays["delta"] = catalog.delta
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, **arrays)
        elif fmt == "csv":
            _write_csv(catalog, tmp, metadata)
        elif fmt in ("hdf5", "h5", "hdf"):
            h5py = _import_h5py()
            with h5py.File(tmp, "w") as handle:
                handle["positions"] = catalog.positions.astype(np.float32)
                handle["velocities"] = catalog.velocities.astype(np.float32)
                handle["masses"] = catalog.masses.astype(np.float32)
                if catalog.delta is not None:
                    handle["delta"] = catalog.delta
                if catalog.box_size is not None:
                    handle.attrs["box_size"] = catalog.box_size
                if catalog.redshift is not None:
                    handle.attrs["redshift"] = catalog.redshift
                handle.attrs["metadata"] = metadata
        else:
            raise ValueError(f"unknown table format {fmt!r} for {path!r}; use npz, csv or hdf5")


def _read_npz(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(path, allow_pickle=False) as data:
        entries = {key: data[key] for key in data.files}
    scalars: dict[str, Any] = {}
    for key in ("box_size", "redshift"):
        if key in entries and entries[key].ndim == 0:
            value = float(entries.pop(key))
            scalars[key] = None if np.isnan(value) else value
    if "metadata" in entries:
        scalars["metadata"] = json.loads(str(entries.pop("metadata")))
    return entries, scalars


def _read_csv(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    import pandas as pd

    scalars: dict[str, Any] = {}
    with open(path) as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            key, _, value = line.lstrip("#").partition("=")
            key = key.strip()
            if key in ("box_size", "redshift"):
                scalars[key] = float(value)
            elif key == "metadata":
                scalars["metadata"] = json.loads(value)
    frame = pd.read_csv(path, comment="#")
    return {str(name): frame[name].to_numpy() for name in frame.columns}, scalars


def _write_csv(catalog: HaloCatalog, path: os.PathLike[str], metadata: str) -> None:
    with open(path, "w") as handle:
        if catalog.box_size is not None:
            handle.write(f"# box_size = {catalog.box_size!r}\n")
        if catalog.redshift is not None:
            handle.write(f"# redshift = {catalog.redshift!r}\n")
        handle.write(f"# metadata = {metadata}\n")
        names = ["x", "y", "z", "vx", "vy", "vz", "mass"]
        columns = [catalog.positions, catalog.velocities, catalog.masses[:, None]]
        if catalog.delta is not None:
            names.append("delta")
            columns.append(catalog.delta[:, None])
        handle.write(",".join(names) + "\n")
        np.savetxt(handle, np.hstack(columns), delimiter=",", fmt="%.10g")


def _read_hdf5(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    h5py = _import_h5py()
    with h5py.File(path, "r") as handle:
        columns = {key: handle[key][()] for key in handle.keys() if isinstance(handle[key], h5py.Dataset)}
        scalars: dict[str, Any] = {}
        for key in ("box_size", "redshift"):
            if key in handle.attrs:
                scalars[key] = float(handle.attrs[key])
        if "metadata" in handle.attrs:
            scalars["metadata"] = json.loads(handle.attrs["metadata"])
    return columns, scalars


def _import_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading or writing HDF5 halo tables needs h5py: pip install h5py") from None
    return h5py


def _find(columns: Mapping[str, Any], aliases: tuple[str, ...]) -> str | None:
    for name in aliases:
        if name in columns:
            return name
    return None


def _vector(columns: Mapping[str, Any], name: str, parts: tuple[str, str, str], path: str) -> np.ndarray:
    key = _find(columns, _VECTOR_ALIASES[name])
    if key is not None:
        return np.asarray(columns[key], dtype=np.float64)
    keys = [_find(columns, _SCALAR_ALIASES[part]) for part in parts]
    if None in keys:
        missing = [part for part, key in zip(parts, keys) if key is None]
        raise ValueError(
            f"{path!r} has no {name!r} column and no scalar columns {missing}; found columns {sorted(columns)}"
        )
    return np.stack([np.asarray(columns[key], dtype=np.float64) for key in keys], axis=1)


def _scalar(columns: Mapping[str, Any], name: str, path: str) -> np.ndarray:
    key = _find(columns, _SCALAR_ALIASES[name])
    if key is None:
        raise ValueError(f"{path!r} has no {name!r} column (aliases {_SCALAR_ALIASES[name]}); found columns {sorted(columns)}")
    return np.asarray(columns[key], dtype=np.float64)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
