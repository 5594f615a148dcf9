"""Friends-of-friends halo finding in a periodic box.

Particles closer than the linking length are friends; halos are the connected components
of the friendship graph with at least ``min_members`` particles. The linking length is
``b`` times the mean interparticle spacing (b = 0.2 is the standard choice, used by the
Quijote catalogues). Pairs come from scipy's periodic KD-tree and components from
``scipy.sparse.csgraph.connected_components``, so the grouping is exact.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FoFGroups:
    """Halos found by friends-of-friends.

    Attributes
    ----------
    positions : ndarray, shape (n_halos, 3)
        Centre of mass of the member particles, computed across periodic boundaries.
    velocities : ndarray, shape (n_halos, 3)
        Mean velocity of the members.
    n_members : ndarray, shape (n_halos,), int64
    labels : ndarray, shape (n_particles,), int64
        Halo index of each particle, -1 for particles in no halo. Halos are ordered by
        decreasing size (ties by smallest particle index).
    linking_length : float
    """

    positions: np.ndarray
    velocities: np.ndarray
    n_members: np.ndarray
    labels: np.ndarray
    linking_length: float


def friends_of_friends(
    positions: np.ndarray,
    velocities: np.ndarray,
    box_size: float,
    *,
    b: float = 0.2,
    min_members: int = 20,
    n_chunks: int | None = None,
) -> FoFGroups:
    """Group particles into friends-of-friends halos.

    Parameters
    ----------
    positions : ndarray, shape (n_particles, 3)
        In ``[0, box_size)``.
    velocities : ndarray, shape (n_particles, 3)
    box_size : float
        Periodic box edge, same unit as positions.
    b : float
        Linking length in units of the mean interparticle spacing ``box_size / n^(1/3)``.
    min_members : int
        Smallest group kept as a halo.
    n_chunks : int, optional
        Find pairs slab by slab along x, reducing each slab's pairs to a spanning forest
        before moving on, so memory stays near O(n) instead of O(pairs). Chosen from the
        particle count when omitted.

    Returns
    -------
    FoFGroups
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    positions = np.ascontiguousarray(positions, dtype=np.float64)
    velocities = np.asarray(velocities, dtype=np.float64)
    n = positions.shape[0]
    if positions.ndim != 2 or positions.shape[1] != 3 or velocities.shape != positions.shape:
        raise ValueError(f"positions and velocities must both have shape (n, 3), got {positions.shape} and {velocities.shape}")
    if n == 0:
        raise ValueError("friends_of_friends needs at least one particle")
    if not 0 < b < 1:
        raise ValueError(f"b must be in (0, 1) (0.2 is standard), got {b!r}")
    if min_members < 1:
        raise ValueError(f"min_members must be at least 1, got {min_members}")
    linking_length = b * box_size / np.cbrt(n)
    positions = np.mod(positions, box_size)
    positions[positions >= box_size] = 0.0

    tree = cKDTree(positions, boxsize=box_size)
    n_chunks = n_chunks or max(1, int(np.ceil(n / 1_000_000)))
    # Connected components of the pairs found so far, carried as a forest of edges to a root.
    forest_rows = np.empty(0, np.int64)
    forest_cols = np.empty(0, np.int64)
    edges_x = np.linspace(0.0, box_size, n_chunks + 1)
    for lower, upper in zip(edges_x[:-1], edges_x[1:]):
        members = np.flatnonzero((positions[:, 0] >= lower) & (positions[:, 0] < upper))
        if members.size == 0:
            continue
        if n_chunks == 1:
            pairs = tree.query_pairs(linking_length, output_type="ndarray")
            rows, cols = pairs[:, 0], pairs[:, 1]
        else:
            chunk_tree = cKDTree(positions[members], boxsize=box_size)
            matrix = chunk_tree.sparse_distance_matrix(tree, linking_length, output_type="coo_matrix")
            rows, cols = members[matrix.row], matrix.col
        rows = np.concatenate([forest_rows, rows])
        cols = np.concatenate([forest_cols, cols])
        graph = coo_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(n, n))
        _, component = connected_components(graph, directed=False)
        # Replace everything found so far by edges from each particle to its component's
        # first member: the same components with at most n edges.
        first = np.full(component.max() + 1, n, dtype=np.int64)
        np.minimum.at(first, component, np.arange(n))
        linked = first[component] != np.arange(n)
        forest_rows = np.flatnonzero(linked)
        forest_cols = first[component[linked]]
        logger.debug("FoF slab [%g, %g): %d pairs", lower, upper, rows.size)

    graph = coo_matrix((np.ones(forest_rows.size, np.int8), (forest_rows, forest_cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    big = np.flatnonzero(sizes >= min_members)
    # Order halos by decreasing size, then by their first particle, for a stable numbering.
    first = np.full(sizes.size, n, dtype=np.int64)
    np.minimum.at(first, component, np.arange(n))
    big = big[np.lexsort((first[big], -sizes[big]))]
    relabel = np.full(sizes.size, -1, dtype=np.int64)
    relabel[big] = np.arange(big.size)
    labels = relabel[component]

    in_halo = labels >= 0
    halo_of = labels[in_halo]
    n_members = np.bincount(halo_of, minlength=big.size)
    centres = _periodic_centres(positions[in_halo], halo_of, positions[first[big]], n_members, box_size)
    mean_velocity = np.stack(
        [np.bincount(halo_of, weights=velocities[in_halo, axis], minlength=big.size) for axis in range(3)], axis=1
    ) / np.maximum(n_members, 1)[:, None]
    return FoFGroups(centres, mean_velocity, n_members.astype(np.int64), labels, float(linking_length))


def _periodic_centres(member_positions, halo_of, anchors, n_members, box_size):
    """Centre of mass of each halo, measuring members relative to one anchor member."""
    offset = member_positions - anchors[halo_of]
    offset -= box_size * np.round(offset / box_size)
    mean_offset = np.stack(
        [np.bincount(halo_of, weights=offset[:, axis], minlength=anchors.shape[0]) for axis in range(3)], axis=1
    ) / np.maximum(n_members, 1)[:, None]
    centres = np.mod(anchors + mean_offset, box_size)
    centres[centres >= box_size] = 0.0
    return centres
