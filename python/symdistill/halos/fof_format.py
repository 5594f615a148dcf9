"""Gadget/Quijote FoF group catalogues (``groups_NNN/group_tab_NNN.K``): reader and writer.

Each file ``group_tab_NNN.K`` (K = 0 .. Nfiles-1) starts with a header

    int32 Ngroups, int32 TotNgroups, int32 Nids, uint64 TotNids, uint32 Nfiles

followed, when Ngroups > 0, by per-group blocks: int32 GroupLen, int32 GroupOffset,
float32 GroupMass, float32 GroupPos[3], float32 GroupVel[3], float32 GroupTLen[6],
float32 GroupTMass[6], and optionally float32 GroupSfr (hydrodynamic runs). This is the
layout read by Pylians' ``readfof`` for the Quijote catalogues. Stored units are
Gadget's: positions in kpc/h, masses in 1e10 Msun/h, velocities in km/s times sqrt(a),
which Quijote's documentation turns into peculiar velocities by multiplying by (1+z).
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any

import numpy as np

from symdistill.halos.catalog import HaloCatalog

_HEADER = np.dtype([("Ngroups", "<i4"), ("TotNgroups", "<i4"), ("Nids", "<i4"), ("TotNids", "<u8"), ("Nfiles", "<u4")])
_HEADER_BYTES = 24
_PER_GROUP_BYTES = 4 + 4 + 4 + 12 + 12 + 24 + 24


def fof_files(path: str | os.PathLike[str]) -> list[str]:
    """Return the ``group_tab`` files of one catalogue, ordered by file number.

    ``path`` may be a ``groups_NNN`` folder, any one ``group_tab_NNN.K`` file, or the
    common prefix ``.../group_tab_NNN``.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        candidates = glob.glob(os.path.join(path, "group_tab_*.*"))
        snapshots = {re.sub(r"\.\d+$", "", name) for name in candidates if re.search(r"\.\d+$", name)}
        if len(snapshots) != 1:
            raise FileNotFoundError(
                f"expected group_tab_NNN.K files of exactly one snapshot in {path!r}, found {sorted(snapshots) or 'none'}"
            )
        prefix = snapshots.pop()
    else:
        prefix = re.sub(r"\.\d+$", "", path)
    files = [name for name in glob.glob(prefix + ".*") if re.search(r"\.\d+$", name)]
    if not files:
        raise FileNotFoundError(f"no FoF files match {prefix + '.K'!r}")
    return sorted(files, key=lambda name: int(name.rsplit(".", 1)[1]))


def read_fof_group_tab(
    path: str | os.PathLike[str],
    *,
    box_size: float | None = 1000.0,
    redshift: float = 0.0,
    sfr: bool = False,
    min_members: int = 0,
) -> HaloCatalog:
    """Read a FoF catalogue split over one or more ``group_tab`` files.

    Parameters
    ----------
    path : path-like
        The ``groups_NNN`` folder or one of its ``group_tab_NNN.K`` files.
    box_size : float or None
        Box edge in Mpc/h (1000 for Quijote); the files do not store it.
    redshift : float
        Snapshot redshift, used to turn Gadget velocities into peculiar velocities
        (multiplied by 1+z). The files do not store it (Quijote snapshot 4 is z = 0).
    sfr : bool
        Whether each group also carries a float32 star-formation rate (hydrodynamic runs).
    min_members : int
        Drop groups with fewer particles.
    """
    files = fof_files(path)
    blocks: dict[str, list[np.ndarray]] = {"length": [], "mass": [], "pos": [], "vel": []}
    total_groups = None
    for number, name in enumerate(files):
        header, fields = _read_one(name, sfr)
        if header["Nfiles"] != len(files):
            raise ValueError(
                f"header of {name!r} lists {header['Nfiles']} files but {len(files)} were found next to it; "
                "copy every file of the catalogue into one folder"
            )
        total_groups = header["TotNgroups"] if total_groups is None else total_groups
        for key in blocks:
            blocks[key].append(fields[key])
    arrays = {key: np.concatenate(value) for key, value in blocks.items()}
    if arrays["length"].size != total_groups:
        raise ValueError(
            f"the files contain {arrays['length'].size} groups but the header sets TotNgroups = {total_groups}; "
            "the catalogue is incomplete or its files come from different snapshots"
        )

    keep = arrays["length"] >= min_members
    metadata: dict[str, Any] = {
        "source": os.fspath(path),
        "format": "fof",
        "n_files": len(files),
    }
    return HaloCatalog(
        positions=arrays["pos"][keep].astype(np.float64) / 1e3,
        velocities=arrays["vel"][keep].astype(np.float64) * (1.0 + redshift),
        masses=arrays["mass"][keep].astype(np.float64) * 1e10,
        box_size=box_size,
        redshift=redshift,
        metadata=metadata,
    )


def _read_one(name: str, sfr: bool) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    raw = np.fromfile(name, dtype=np.uint8)
    if raw.size < _HEADER_BYTES:
        raise ValueError(f"{name!r} is {raw.size} bytes, shorter than the {_HEADER_BYTES}-byte FoF header")
    header_record = raw[:_HEADER_BYTES].view(_HEADER)[0]
    header = {key: int(header_record[key]) for key in _HEADER.names}
    n = header["Ngroups"]
    expected = _HEADER_BYTES + n * (_PER_GROUP_BYTES + (4 if sfr else 0))
    if n < 0 or raw.size != expected:
        hint = " (try sfr=True)" if raw.size == expected + 4 * n else ""
        raise ValueError(
            f"{name!r} is {raw.size} bytes but a FoF file with Ngroups = {n} is {expected} bytes{hint}; "
            "the file is truncated or not a little-endian group_tab file"
        )
    body = raw[_HEADER_BYTES:]
    offset = 0

    def take(dtype: str, count: int) -> np.ndarray:
        nonlocal offset
        size = np.dtype(dtype).itemsize * count
        block = body[offset : offset + size].view(dtype)
        offset += size
        return block

    fields = {
        "length": take("<i4", n),
        "offset": take("<i4", n),
        "mass": take("<f4", n),
        "pos": take("<f4", 3 * n).reshape(n, 3),
        "vel": take("<f4", 3 * n).reshape(n, 3),
    }
    return header, fields


def write_fof_group_tab(
    folder: str | os.PathLike[str],
    catalog: HaloCatalog,
    *,
    snapshot: int = 4,
    n_files: int = 1,
    group_length: np.ndarray | None = None,
) -> list[str]:
    """Write ``catalog`` as FoF ``group_tab`` files, the inverse of :func:`read_fof_group_tab`.

    Groups are split over ``n_files`` files in order (some files may hold zero groups).
    ``group_length`` gives the particle count per group; by default it is the mass over
    the Quijote particle mass (6.56e11 Msun/h), at least 1. Velocities are divided by
    ``1 + catalog.redshift``. Returns the written file names.
    """
    if n_files < 1:
        raise ValueError(f"n_files must be at least 1, got {n_files}")
    n = catalog.n_halos
    if group_length is None:
        group_length = np.maximum(1, np.rint(catalog.masses / 6.56e11)).astype(np.int32)
    group_length = np.asarray(group_length, dtype=np.int32)
    if group_length.shape != (n,):
        raise ValueError(f"group_length must have shape ({n},), got {group_length.shape}")
    offsets = (np.cumsum(group_length, dtype=np.int64) - group_length).astype(np.int32)
    scale_velocity = 1.0 + (catalog.redshift or 0.0)
    fields = {
        "length": group_length,
        "offset": offsets,
        "mass": (catalog.masses / 1e10).astype("<f4"),
        "pos": (catalog.positions * 1e3).astype("<f4"),
        "vel": (catalog.velocities / scale_velocity).astype("<f4"),
        "tlen": np.zeros((n, 6), "<f4"),
        "tmass": np.zeros((n, 6), "<f4"),
    }
    fields["tlen"][:, 1] = group_length
    fields["tmass"][:, 1] = fields["mass"]

    folder = os.path.join(os.fspath(folder), f"groups_{snapshot:03d}")
    os.makedirs(folder, exist_ok=True)
    bounds = np.linspace(0, n, n_files + 1).round().astype(int)
    names = []
    for number in range(n_files):
        part = slice(bounds[number], bounds[number + 1])
        count = bounds[number + 1] - bounds[number]
        header = np.array(
            [(count, n, int(group_length[part].sum()), int(group_length.sum()), n_files)], dtype=_HEADER
        )
        name = os.path.join(folder, f"group_tab_{snapshot:03d}.{number}")
        with open(name, "wb") as handle:
            handle.write(header.tobytes())
            for key in ("length", "offset", "mass", "pos", "vel", "tlen", "tmass"):
                handle.write(np.ascontiguousarray(fields[key][part]).astype(fields[key].dtype.newbyteorder("<")).tobytes())
        names.append(name)
    return names
