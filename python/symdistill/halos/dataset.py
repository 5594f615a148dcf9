"""Halo catalogues as graph datasets for node regression of the overdensity.

Nodes are halos and a directed edge ``j -> i`` joins every pair closer than ``r_max``
(50 Mpc/h by default). Features carry no absolute position, so a model of them is
translation invariant. Each feature is ``(physical - offset) / scale``, recorded in
``scaling`` so that formulas fitted on features can be rewritten in physical units:

- node features ``vx vy vz`` (km/s / 100) and ``log_mass`` (log10 of M in Msun/h, minus 13);
- edge features ``dx dy dz r`` (Mpc/h / 10) and ``dvx dvy dvz dv`` (km/s / 100), receiver
  minus sender (:data:`symdistill.halos.graph.EDGE_FEATURE_NAMES`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from symdistill.halos.catalog import HaloCatalog

LENGTH_SCALE = 10.0
"""Mpc/h per unit of the length features."""
VELOCITY_SCALE = 100.0
"""km/s per unit of the velocity features."""
LOG_MASS_OFFSET = 13.0
"""log10(M / (Msun/h)) subtracted from the log-mass feature."""


@dataclasses.dataclass(frozen=True, eq=False)
class HaloGraphDataset:
    """Node features, edges, edge features and the overdensity target of one catalogue.

    Attributes
    ----------
    node_features : ndarray, shape (n_halos, n_node_features), float32
    node_feature_names : tuple of str
    edge_index : ndarray, shape (2, n_edges), int32
        Senders (row 0) and receivers (row 1), grouped by receiver.
    row_start : ndarray, shape (n_halos + 1,), int64
        Incoming edges of halo ``i`` are ``row_start[i]:row_start[i+1]``.
    edge_attr : ndarray, shape (n_edges, 8), float32
    edge_feature_names : tuple of str
    targets : ndarray, shape (n_halos,), float32
        The overdensity delta.
    masses : ndarray, shape (n_halos,)
        Halo masses in Msun/h (kept for baselines and symbolic regression).
    scaling : dict
        Per feature name: ``{"unit", "scale", "offset"}`` with feature = (physical - offset) / scale.
    r_max : float
    box_size : float or None
    """

    node_features: np.ndarray
    node_feature_names: tuple[str, ...]
    edge_index: np.ndarray
    row_start: np.ndarray
    edge_attr: np.ndarray
    edge_feature_names: tuple[str, ...]
    targets: np.ndarray
    masses: np.ndarray
    scaling: dict[str, dict[str, Any]]
    r_max: float
    box_size: float | None

    @property
    def n_nodes(self) -> int:
        return int(self.node_features.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def incoming_edges(self, receivers: np.ndarray) -> np.ndarray:
        """Return the ids of every edge into the given receivers, shape (n_edges_selected,)."""
        receivers = np.asarray(receivers, dtype=np.int64)
        starts = self.row_start[receivers]
        lengths = self.row_start[receivers + 1] - starts
        if lengths.sum() == 0:
            return np.zeros(0, dtype=np.int64)
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return offsets + np.arange(lengths.sum())

    def summary(self) -> dict[str, Any]:
        degree = np.diff(self.row_start)
        return {
            "n_nodes": self.n_nodes,
            "n_edges": self.n_edges,
            "mean_in_degree": float(degree.mean()) if degree.size else 0.0,
            "r_max_mpc_h": self.r_max,
            "node_features": list(self.node_feature_names),
            "edge_features": list(self.edge_feature_names),
        }


def build_dataset(catalog: HaloCatalog, r_max: float = 50.0, *, include_mass: bool = True) -> HaloGraphDataset:
    """Build the radius graph and scaled features of ``catalog``.

    Parameters
    ----------
    catalog : HaloCatalog
        Must carry ``delta``.
    r_max : float
        Edge radius in Mpc/h.
    include_mass : bool
        Whether the node features include ``log_mass``; without it the model sees only
        velocities and separations (the paper's variant without mass).
    """
    from symdistill.halos.graph import EDGE_FEATURE_NAMES, edge_features, radius_graph

    if catalog.delta is None:
        raise ValueError("the catalogue has no delta target; simulate it or compute the overdensity first")
    if catalog.n_halos < 2:
        raise ValueError(f"a halo graph needs at least 2 halos, got {catalog.n_halos}")
    graph = radius_graph(catalog.positions, r_max, catalog.box_size)
    if graph.n_edges == 0:
        raise ValueError(f"no two halos are within r_max = {r_max} Mpc/h; increase r_max")
    raw = edge_features(catalog.positions, catalog.velocities, graph.edge_index, catalog.box_size, dtype=np.float64)
    scaling: dict[str, dict[str, Any]] = {}
    edge_scale = np.array([LENGTH_SCALE] * 4 + [VELOCITY_SCALE] * 4)
    for name, scale in zip(EDGE_FEATURE_NAMES, edge_scale):
        unit = "Mpc/h" if scale == LENGTH_SCALE else "km/s"
        scaling[name] = {"unit": unit, "scale": float(scale), "offset": 0.0}
    columns = [catalog.velocities / VELOCITY_SCALE]
    names = ["vx", "vy", "vz"]
    for name in names:
        scaling[name] = {"unit": "km/s", "scale": VELOCITY_SCALE, "offset": 0.0}
    if include_mass:
        columns.append((np.log10(catalog.masses) - LOG_MASS_OFFSET)[:, None])
        names.append("log_mass")
        scaling["log_mass"] = {"unit": "log10(Msun/h)", "scale": 1.0, "offset": LOG_MASS_OFFSET}
    return HaloGraphDataset(
        node_features=np.hstack(columns).astype(np.float32),
        node_feature_names=tuple(names),
        edge_index=graph.edge_index,
        row_start=graph.row_start,
        edge_attr=(raw / edge_scale).astype(np.float32),
        edge_feature_names=EDGE_FEATURE_NAMES,
        targets=catalog.delta.astype(np.float32),
        masses=catalog.masses.copy(),
        scaling=scaling,
        r_max=float(r_max),
        box_size=catalog.box_size,
    )


@dataclasses.dataclass(frozen=True)
class HaloSplit:
    """Indices of training, held-out test and out-of-distribution halos."""

    train: np.ndarray
    test: np.ndarray
    ood: np.ndarray
    delta_max: float

    def to_dict(self) -> dict[str, Any]:
        return {"n_train": int(self.train.size), "n_test": int(self.test.size), "n_ood": int(self.ood.size),
                "delta_max": self.delta_max}


def split_halos(delta: np.ndarray, *, delta_max: float = 1.0, test_fraction: float = 0.2, seed: int = 0) -> HaloSplit:
    """Split halos into in-distribution (delta <= delta_max) train/test and the rest.

    The halos with delta > delta_max form the out-of-distribution set; the others are
    shuffled with ``seed`` and ``test_fraction`` of them are held out for testing.
    Returned index arrays are sorted.
    """
    delta = np.asarray(delta)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    inside = np.flatnonzero(delta <= delta_max)
    ood = np.flatnonzero(delta > delta_max)
    if inside.size < 2:
        raise ValueError(f"only {inside.size} halos have delta <= {delta_max}; raise delta_max or use a larger catalogue")
    shuffled = np.random.default_rng(seed).permutation(inside)
    n_test = max(1, int(round(test_fraction * inside.size)))
    return HaloSplit(np.sort(shuffled[n_test:]), np.sort(shuffled[:n_test]), ood, float(delta_max))
