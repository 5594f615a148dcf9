"""Periodic radius graphs over halo catalogues, with pairwise edge features.

Edges follow the PyTorch Geometric convention: ``edge_index[0]`` is the sender ``j`` and
``edge_index[1]`` the receiver ``i``; a directed edge ``j -> i`` exists for every pair of
distinct halos with ``|r_i - r_j| <= r_max`` (minimum-image distance in a periodic box),
so each pair appears in both directions. Edges are grouped by receiver in ascending order,
so the incoming edges of receiver ``i`` are the slice ``row_start[i]:row_start[i+1]``;
within a receiver the sender order is deterministic but unspecified.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

logger = logging.getLogger(__name__)

# Cell edge per axis (x, y, z) is r_max / CELLS_PER_RADIUS. Cells along z are scanned as
# contiguous runs, so thin z cells trim the runs' ends at no cost, while thin x-y cells
# add runs and shorten the vectorised inner loops. On the Quijote-size catalogue of
# benchmarks/halo_graph.py, (1, 1, 4) took 0.51 s against 0.87 s for (2, 2, 4) and 1.35 s
# for (2, 2, 2), measured with one thread on a shared 2-core machine.
CELLS_PER_RADIUS = (1, 1, 4)

EDGE_FEATURE_NAMES = ("dx", "dy", "dz", "r", "dvx", "dvy", "dvz", "dv")
"""Edge feature columns: separation (Mpc/h), distance, relative velocity (km/s) and speed,
each receiver minus sender."""


@dataclasses.dataclass(frozen=True, eq=False)
class RadiusGraph:
    """A directed radius graph in CSR form by receiver.

    Attributes
    ----------
    edge_index : ndarray, shape (2, n_edges), int32
        Senders (row 0) and receivers (row 1).
    row_start : ndarray, shape (n_nodes + 1,), int64
        Incoming edges of receiver ``i`` are ``edge_index[:, row_start[i]:row_start[i+1]]``.
    r_max : float
    box_size : float or None
    """

    edge_index: np.ndarray
    row_start: np.ndarray
    r_max: float
    box_size: float | None

    @property
    def n_nodes(self) -> int:
        return int(self.row_start.shape[0] - 1)

    @property
    def n_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def in_degree(self) -> np.ndarray:
        """Number of incoming edges per node, shape (n_nodes,)."""
        return np.diff(self.row_start)


def radius_graph(positions: np.ndarray, r_max: float, box_size: float | None = None) -> RadiusGraph:
    """Connect every pair of halos closer than ``r_max``, with periodic boundaries if boxed.

    Uses cell lists in parallel Numba kernels: one pass counts neighbours, a second
    writes the int32 edge list in place, so memory is proportional to the number of
    edges.

    Parameters
    ----------
    positions : ndarray, shape (n_nodes, 3)
        In ``[0, box_size)`` when ``box_size`` is given.
    r_max : float
        Connection radius (edges with distance <= r_max), same unit as positions.
    box_size : float, optional
        Periodic box edge; must exceed ``2 * r_max`` so each pair has one nearest image.

    Returns
    -------
    RadiusGraph
    """
    from symdistill.halos import _graph_kernels

    positions, r_max, box = _validate(positions, r_max, box_size)
    n = positions.shape[0]
    periodic = box_size is not None
    if n == 0:
        return RadiusGraph(np.zeros((2, 0), np.int32), np.zeros(1, np.int64), r_max, box_size)

    n_cells, cell_size, reach = _cell_grid(positions, r_max, box, periodic, n)
    origin = np.zeros(3) if periodic else positions.min(axis=0)
    shifted = positions - origin
    cells = np.minimum((shifted / cell_size).astype(np.int64), n_cells - 1)
    flat = (cells[:, 0] * n_cells[1] + cells[:, 1]) * n_cells[2] + cells[:, 2]
    order = np.argsort(flat, kind="stable")
    cell_start = np.zeros(int(np.prod(n_cells)) + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat, minlength=cell_start.size - 1), out=cell_start[1:])
    xs, ys, zs = (np.ascontiguousarray(shifted[order, axis]) for axis in range(3))
    args = (xs, ys, zs, cell_start, n_cells, cell_size, reach, box, periodic, r_max)
    counts_sorted = _graph_kernels.count_neighbours(*args)
    counts = np.empty(n, dtype=np.int64)
    counts[order] = counts_sorted
    row_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=row_start[1:])
    edge_index = np.empty((2, int(row_start[n])), dtype=np.int32)
    mismatches = _graph_kernels.fill_neighbours(*args, order.astype(np.int64), row_start, edge_index)
    if mismatches:
        raise RuntimeError(f"radius graph passes disagree on {mismatches} halos; please report this catalogue")
    logger.debug("radius graph: %d nodes, %d edges, %s cells", n, edge_index.shape[1], n_cells.tolist())
    return RadiusGraph(edge_index, row_start, r_max, box_size)


def edge_features(
    positions: np.ndarray,
    velocities: np.ndarray,
    edge_index: np.ndarray,
    box_size: float | None = None,
    dtype: type = np.float32,
) -> np.ndarray:
    """Compute ``EDGE_FEATURE_NAMES`` for every edge, receiver minus sender.

    Shapes: positions and velocities (n_nodes, 3); edge_index (2, n_edges). Returns
    (n_edges, 8) in ``dtype``; the separation is the minimum-image vector when boxed.
    """
    from symdistill.halos import _graph_kernels

    positions = np.ascontiguousarray(positions, dtype=np.float64)
    velocities = np.ascontiguousarray(velocities, dtype=np.float64)
    edge_index = np.asarray(edge_index)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, n_edges), got {edge_index.shape}")
    if edge_index.size and (edge_index.min() < 0 or edge_index.max() >= positions.shape[0]):
        raise ValueError(f"edge_index refers to nodes outside 0..{positions.shape[0] - 1}")
    box = np.full(3, np.inf if box_size is None else float(box_size))
    out = np.empty((edge_index.shape[1], len(EDGE_FEATURE_NAMES)), dtype=dtype)
    _graph_kernels.edge_features(
        positions, velocities, np.ascontiguousarray(edge_index[0]), np.ascontiguousarray(edge_index[1]),
        box, box_size is not None, out,
    )
    return out


def radius_graph_reference(positions: np.ndarray, r_max: float, box_size: float | None = None) -> np.ndarray:
    """Brute-force O(n^2) NumPy version of :func:`radius_graph`, for tests.

    Returns edge_index (2, n_edges) int64 sorted by receiver, then sender.
    """
    positions, r_max, box = _validate(positions, r_max, box_size)
    separation = positions[:, None, :] - positions[None, :, :]  # [receiver, sender, 3]
    if box_size is not None:
        separation -= box * np.round(separation / box)
    within = np.sum(separation**2, axis=-1) <= r_max**2
    np.fill_diagonal(within, False)
    receivers, senders = np.nonzero(within)
    return np.stack([senders, receivers])


def edge_features_reference(positions, velocities, edge_index, box_size=None) -> np.ndarray:
    """NumPy version of :func:`edge_features` in float64, for tests."""
    senders, receivers = edge_index
    separation = positions[receivers] - positions[senders]
    if box_size is not None:
        separation -= box_size * np.round(separation / box_size)
    relative = velocities[receivers] - velocities[senders]
    return np.column_stack(
        [separation, np.linalg.norm(separation, axis=1), relative, np.linalg.norm(relative, axis=1)]
    )


def _validate(positions, r_max, box_size):
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape (n_nodes, 3), got {positions.shape}")
    if not np.all(np.isfinite(positions)):
        raise ValueError("positions contain NaN or inf; drop or fix those halos first")
    if positions.shape[0] >= 2**31 - 1:
        raise ValueError(f"{positions.shape[0]} nodes exceed the int32 edge index range")
    r_max = float(r_max)
    if not np.isfinite(r_max) or r_max <= 0:
        raise ValueError(f"r_max must be a positive finite radius, got {r_max!r}")
    if box_size is None:
        return positions, r_max, np.full(3, np.inf)
    box_size = float(box_size)
    if not np.isfinite(box_size) or box_size <= 0:
        raise ValueError(f"box_size must be positive, got {box_size!r}")
    if 2 * r_max >= box_size:
        raise ValueError(
            f"r_max = {r_max:g} must be below half the periodic box ({box_size / 2:g}) so each pair has one nearest image"
        )
    if positions.size and (positions.min() < 0 or positions.max() >= box_size):
        raise ValueError(
            f"positions span [{positions.min():.4g}, {positions.max():.4g}], outside the periodic box [0, {box_size:g}); "
            "wrap them with np.mod(positions, box_size)"
        )
    return positions, r_max, np.full(3, box_size)


def _cell_grid(positions, r_max, box, periodic, n):
    """Choose cells of edge >= r_max / CELLS_PER_RADIUS per axis, at most about 4n of them.

    Returns the cell count, the cell edge and the stencil half-width in cells, each per
    axis. In a periodic box a neighbour cell can then appear under two image shifts,
    which is harmless: with r_max < box/2 at most one image of a halo is within r_max.
    """
    extent = box if periodic else np.maximum(positions.max(axis=0) - positions.min(axis=0), r_max)
    n_cells = np.maximum(1, np.floor(extent / (r_max / np.array(CELLS_PER_RADIUS, dtype=float)))).astype(np.int64)
    max_cells = 4 * n + 64
    while np.prod(n_cells) > max_cells:
        n_cells = np.maximum(1, n_cells // 2)
    cell_size = extent / n_cells
    if not periodic:
        # The last cell must include the maximum coordinate.
        cell_size = cell_size * (1 + 1e-12)
    reach = np.ceil(r_max / cell_size).astype(np.int64)
    return n_cells, cell_size, reach
