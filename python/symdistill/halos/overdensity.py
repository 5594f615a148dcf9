"""Smoothed matter overdensity at halo centres, delta = rho / mean(rho) - 1.

``tophat`` counts every particle within ``radius`` of the centre (exact, periodic KD-tree);
``gaussian`` deposits particles on a mesh with cloud-in-cell weights, smooths it with a
Gaussian of width ``radius`` by FFT and interpolates the field at the centres.
"""

from __future__ import annotations

import numpy as np

KERNELS = ("tophat", "gaussian")


def overdensity(
    particle_positions: np.ndarray,
    centres: np.ndarray,
    box_size: float,
    *,
    radius: float = 20.0,
    kernel: str = "tophat",
    mesh_size: int | None = None,
) -> np.ndarray:
    """Return the overdensity of equal-mass particles smoothed around each centre.

    Parameters
    ----------
    particle_positions : ndarray, shape (n_particles, 3)
        All matter particles, in ``[0, box_size)``.
    centres : ndarray, shape (n_centres, 3)
    box_size : float
        Periodic box edge, same unit as positions (Mpc/h).
    radius : float
        Top-hat radius or Gaussian standard deviation (Mpc/h); 20 by default.
    kernel : {"tophat", "gaussian"}
    mesh_size : int, optional
        Cells per side for the Gaussian kernel; by default about 4 cells per ``radius``,
        at most 256.

    Returns
    -------
    ndarray, shape (n_centres,)
    """
    particle_positions = np.ascontiguousarray(particle_positions, dtype=np.float64)
    centres = np.ascontiguousarray(centres, dtype=np.float64)
    n = particle_positions.shape[0]
    if n == 0:
        raise ValueError("overdensity needs at least one particle")
    if not 0 < radius < box_size / 2:
        raise ValueError(f"radius must be in (0, box_size/2) = (0, {box_size / 2:g}), got {radius!r}")
    if kernel == "tophat":
        from scipy.spatial import cKDTree

        tree = cKDTree(np.mod(particle_positions, box_size), boxsize=box_size)
        counts = tree.query_ball_point(np.mod(centres, box_size), radius, return_length=True)
        expected = n * (4.0 / 3.0) * np.pi * radius**3 / box_size**3
        return np.asarray(counts, dtype=np.float64) / expected - 1.0
    if kernel == "gaussian":
        mesh_size = mesh_size or int(min(256, max(16, 2 * round(2 * box_size / radius))))
        density = cic_density(particle_positions, box_size, mesh_size)
        k = 2 * np.pi * np.fft.fftfreq(mesh_size, d=box_size / mesh_size)
        kz = 2 * np.pi * np.fft.rfftfreq(mesh_size, d=box_size / mesh_size)
        k2 = k[:, None, None] ** 2 + k[None, :, None] ** 2 + kz[None, None, :] ** 2
        smoothed = np.fft.irfftn(np.fft.rfftn(density) * np.exp(-0.5 * k2 * radius**2), s=density.shape, axes=(0, 1, 2))
        return cic_interpolate(smoothed, centres, box_size)
    raise ValueError(f"unknown overdensity kernel {kernel!r}; use one of {KERNELS}")


def cic_density(positions: np.ndarray, box_size: float, mesh_size: int) -> np.ndarray:
    """Return the cloud-in-cell overdensity field (mesh_size,)*3 of equal-mass particles."""
    grid = np.zeros(mesh_size**3)
    scaled = np.mod(positions, box_size) / box_size * mesh_size - 0.5
    base = np.floor(scaled).astype(np.int64)
    fraction = scaled - base
    for corner in range(8):
        shift = np.array([(corner >> 2) & 1, (corner >> 1) & 1, corner & 1])
        weight = np.prod(np.where(shift, fraction, 1.0 - fraction), axis=1)
        index = np.mod(base + shift, mesh_size)
        flat = (index[:, 0] * mesh_size + index[:, 1]) * mesh_size + index[:, 2]
        grid += np.bincount(flat, weights=weight, minlength=grid.size)
    grid = grid.reshape((mesh_size,) * 3)
    return grid / grid.mean() - 1.0


def cic_interpolate(field: np.ndarray, points: np.ndarray, box_size: float) -> np.ndarray:
    """Interpolate a periodic mesh field at ``points`` (n, 3) with cloud-in-cell weights."""
    mesh_size = field.shape[0]
    scaled = np.mod(points, box_size) / box_size * mesh_size - 0.5
    base = np.floor(scaled).astype(np.int64)
    fraction = scaled - base
    values = np.zeros(points.shape[0])
    for corner in range(8):
        shift = np.array([(corner >> 2) & 1, (corner >> 1) & 1, corner & 1])
        weight = np.prod(np.where(shift, fraction, 1.0 - fraction), axis=1)
        index = np.mod(base + shift, mesh_size)
        values += weight * field[index[:, 0], index[:, 1], index[:, 2]]
    return values
