"""Hand-made overdensity estimators, fitted by least absolute deviations.

``constant``: delta_i = C1. ``simple``: delta_i = C1 + (C2 + M_i C3) e_i, where e_i is the
summed mass of the other halos within 20 Mpc/h of halo i (the estimator motivated by the
bias-mass relation of Frenk et al. 1988, ApJ 327, 507). Masses enter in units of
``MASS_UNIT`` Msun/h so the constants are of order one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from symdistill.halos.catalog import HaloCatalog

MASS_UNIT = 1e13
"""Mass unit (Msun/h) of M_i and e_i inside the baseline formulas."""

BASELINES = ("constant", "simple")


@dataclasses.dataclass(frozen=True)
class BaselineFit:
    """A fitted baseline: its name, formula, constants and training error."""

    name: str
    formula: str
    constants: dict[str, float]
    train_mae: float

    def predict(self, mass: np.ndarray, summed_mass: np.ndarray) -> np.ndarray:
        """Predict delta from halo masses and neighbour mass sums, both in ``MASS_UNIT``."""
        c = self.constants
        if self.name == "constant":
            return np.full(np.shape(mass), c["C1"])
        return c["C1"] + (c["C2"] + mass * c["C3"]) * summed_mass

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def summed_neighbour_mass(catalog: HaloCatalog, radius: float = 20.0) -> np.ndarray:
    """Return e_i, the total mass (in ``MASS_UNIT``) of other halos within ``radius`` of each halo.

    Shape: (n_halos,).
    """
    from symdistill.halos.graph import radius_graph

    graph = radius_graph(catalog.positions, radius, catalog.box_size)
    senders, receivers = graph.edge_index
    return np.bincount(receivers, weights=catalog.masses[senders] / MASS_UNIT, minlength=catalog.n_halos)


def least_absolute_deviations(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return coefficients minimising sum |target - design @ coef| (exact, by linear programming).

    Shapes: design (n, p); target (n,). Solves min sum(u + v) subject to
    design @ coef + u - v = target, u, v >= 0, with scipy's HiGHS solver.
    """
    from scipy import sparse
    from scipy.optimize import linprog

    design = np.asarray(design, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    n, p = design.shape
    if n == 0:
        raise ValueError("least absolute deviations needs at least one sample")
    if not (np.all(np.isfinite(design)) and np.all(np.isfinite(target))):
        raise ValueError("design and target must be finite; drop rows with NaN or inf")
    identity = sparse.identity(n, format="csr")
    constraints = sparse.hstack([sparse.csr_matrix(design), identity, -identity], format="csr")
    cost = np.concatenate([np.zeros(p), np.ones(2 * n)])
    bounds = [(None, None)] * p + [(0, None)] * (2 * n)
    result = linprog(cost, A_eq=constraints, b_eq=target, bounds=bounds, method="highs")
    if not result.success:
        raise RuntimeError(f"least absolute deviations fit failed: {result.message}")
    return result.x[:p]


def fit_baseline(name: str, mass: np.ndarray, summed_mass: np.ndarray, delta: np.ndarray) -> BaselineFit:
    """Fit the baseline ``name`` ("constant" or "simple") to training halos.

    Shapes: mass, summed_mass, delta all (n,); masses in ``MASS_UNIT``.
    """
    delta = np.asarray(delta, dtype=np.float64)
    if name == "constant":
        # The least-absolute-deviations constant is the median.
        constants = {"C1": float(np.median(delta))}
        fit = BaselineFit(name, "delta = C1", constants, 0.0)
    elif name == "simple":
        design = np.column_stack([np.ones_like(delta), summed_mass, mass * summed_mass])
        c1, c2, c3 = least_absolute_deviations(design, delta)
        fit = BaselineFit(name, "delta = C1 + (C2 + M_i C3) e_i", {"C1": float(c1), "C2": float(c2), "C3": float(c3)}, 0.0)
    else:
        raise ValueError(f"unknown baseline {name!r}; use one of {BASELINES}")
    train_mae = float(np.mean(np.abs(delta - fit.predict(mass, summed_mass))))
    return dataclasses.replace(fit, train_mae=train_mae)


def fit_baselines(
    catalog: HaloCatalog,
    train: np.ndarray,
    test: np.ndarray | None = None,
    *,
    radius: float = 20.0,
    ood: np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """Fit every baseline on the ``train`` halos and report mean absolute errors.

    ``train``, ``test`` and ``ood`` are boolean masks or index arrays over the catalogue;
    the errors on ``test`` and ``ood`` are stored as ``test_mae`` and ``ood_mae``.
    Neighbour sums always use every halo of the catalogue.
    """
    if catalog.delta is None:
        raise ValueError("the catalogue has no delta; simulate it or compute the overdensity first")
    mass = catalog.masses / MASS_UNIT
    summed = summed_neighbour_mass(catalog, radius)
    results = {}
    for name in BASELINES:
        fit = fit_baseline(name, mass[train], summed[train], catalog.delta[train])
        entry = fit.to_dict()
        entry["radius_mpc_h"] = radius
        entry["mass_unit_msun_h"] = MASS_UNIT
        for key, index in (("test_mae", test), ("ood_mae", ood)):
            if index is not None and np.asarray(index).size:
                error = catalog.delta[index] - fit.predict(mass[index], summed[index])
                entry[key] = float(np.mean(np.abs(error)))
        results[name] = entry
    return results
