"""Ranking of message components and their linear fit to the true pair forces.

The test of Cranmer et al. (2020), Table 1, keeps the D message components with the
largest standard deviation, D being the spatial dimension. Gaussian messages are
ranked by their mean KL divergence instead. Each kept component is fitted as a linear
combination of the true pair force components plus an offset. If the messages are a linear transform of the force
vectors, every component's R^2 is close to 1.

The original fit minimised a trimmed squared error with Powell's method: residuals
above the 90th percentile were dropped. This module fits by ordinary least squares on
all edges, so outliers count fully and its R^2 is the stricter measure. For comparison
with the paper it also reports a trimmed R^2 of the same fit, computed as the
original did (see :func:`trimmed_r_squared`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from torch import nn

from symdistill.distill.messages import message_columns, states_from_messages


def component_scores(recorded, ranking: str = "std") -> np.ndarray:
    """Return one importance score per message component of a recorded-messages table.

    ``ranking="std"`` scores by standard deviation over edges. ``ranking="kl"`` scores by
    the mean KL divergence of N(mean, exp(logvar)) from N(0, 1), so it needs the
    ``logvar`` columns that :func:`record_messages` adds for Gaussian messages.

    Shapes
    ------
    returns : [n_components]
    """
    names = message_columns(recorded)
    means = recorded[names].to_numpy(dtype=np.float64)
    if ranking == "std":
        return means.std(axis=0)
    if ranking == "kl":
        log_names = [f"logvar{c[1:]}" for c in names]
        missing = [c for c in log_names if c not in recorded.columns]
        if missing:
            raise ValueError(f"ranking='kl' needs log-variance columns, missing {missing[:3]}; record a 'kl' model")
        log_variance = recorded[log_names].to_numpy(dtype=np.float64)
        return (0.5 * (np.exp(log_variance) + means**2 - log_variance - 1.0)).mean(axis=0)
    raise ValueError(f"unknown ranking {ranking!r}; choose 'std' or 'kl'")


def top_components(model: nn.Module | Any, recorded, dim: int) -> list[int]:
    """Return the indices of the ``dim`` most important message components, most important first.

    The ranking follows the model's bias (``std`` for most, ``kl`` for Gaussian messages);
    ``model`` may also be a ranking name. A network with fewer components returns all of them.
    """
    ranking = model if isinstance(model, str) else getattr(getattr(model, "bias", None), "ranking", "std")
    scores = component_scores(recorded, ranking)
    order = np.argsort(-scores, kind="stable")
    names = message_columns(recorded)
    return [int(names[k][1:]) for k in order[: min(dim, len(order))]]


def r_squared(target: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Return the coefficient of determination per column (1 - residual SS / total SS).

    A constant target column gets NaN.

    Shapes
    ------
    target, fitted : [n, k]; returns [k]
    """
    residual = ((target - fitted) ** 2).sum(axis=0)
    total = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1.0 - residual / total, np.nan)


def trimmed_r_squared(target: np.ndarray, fitted: np.ndarray, keep: float = 0.9) -> np.ndarray:
    """Return 1 minus the trimmed mean squared residual of standardised targets, per column.

    Residuals are divided by the target's standard deviation. Those above the ``keep``
    quantile of squared residuals are dropped, and the rest are summed and divided by
    ``keep * n``. This is the figure of merit the original analysis code printed. It is
    biased upward: a fit to pure Gaussian noise scores about 0.38 with ``keep=0.9``.

    Shapes
    ------
    target, fitted : [n, k]; returns [k]
    """
    scale = target.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        squared = ((target - fitted) / scale) ** 2
    values = []
    for column in squared.T:
        if not np.all(np.isfinite(column)):
            values.append(np.nan)
            continue
        kept = column[column <= np.quantile(column, keep)]
        values.append(1.0 - kept.sum() / (keep * len(column)))
    return np.asarray(values)


def fit_messages_to_forces(recorded, components: Sequence[int], system: Any) -> dict[str, Any]:
    """Fit each message component in ``components`` to a linear combination of the true pair forces.

    Parameters
    ----------
    recorded : pandas.DataFrame
        Output of :func:`record_messages`.
    components : sequence of int
        Message components to fit (usually :func:`top_components`).
    system : object with ``pair_force(receiver [E, F], sender [E, F]) -> [E, dim]``
        The simulated system, e.g. ``symdistill.nbody.get_system("spring")`` or
        ``dataset.get_system()``; the force is on the receiver from the sender.

    Returns
    -------
    dict
        ``r2`` (mean over components), ``r2_per_component`` [k], ``r2_trimmed`` and
        ``r2_trimmed_per_component`` (see :func:`trimmed_r_squared`), ``components``,
        ``coefficients`` [k, dim] and ``intercepts`` [k] of ``e_c = coefficients @ F + intercept``,
        and ``fitted`` [E, k], the fitted values in message units.
    """
    components = [int(c) for c in components]
    if not components:
        raise ValueError("components is empty; pass at least one message component index")
    names = [f"e{c}" for c in components]
    missing = [name for name in names if name not in recorded.columns]
    if missing:
        raise ValueError(f"the messages table has no columns {missing}; it has {message_columns(recorded)[:5]} ...")
    dim = sum(1 for c in recorded.columns if c in ("dx", "dy", "dz"))
    receiver, sender = states_from_messages(recorded, dim)
    forces = np.asarray(system.pair_force(receiver, sender), dtype=np.float64)
    if forces.shape != (len(recorded), dim):
        raise ValueError(f"system.pair_force returned shape {forces.shape}, expected {(len(recorded), dim)}")
    finite = np.isfinite(forces).all(axis=1)
    if not finite.all():
        raise ValueError(f"the true pair force is NaN or infinite on {int((~finite).sum())} edges; check the system")
    messages = recorded[names].to_numpy(dtype=np.float64)
    design = np.column_stack([forces, np.ones(len(forces))])
    solution, *_ = np.linalg.lstsq(design, messages, rcond=None)
    fitted = design @ solution
    per_component = r_squared(messages, fitted)
    trimmed = trimmed_r_squared(messages, fitted)
    return {
        "r2": _mean(per_component),
        "r2_per_component": [float(v) for v in per_component],
        "r2_trimmed": _mean(trimmed),
        "r2_trimmed_per_component": [float(v) for v in trimmed],
        "components": components,
        "coefficients": solution[:dim].T,
        "intercepts": solution[dim],
        "fitted": fitted,
    }


def _mean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def fit_energies_to_potential(recorded, system: Any) -> dict[str, Any]:
    """Fit a flattened Hamiltonian network's pair energy (column ``e0``) to ``a * U_pair + b``.

    Each directed edge carries half of the pair's energy in the ideal case, so a good
    fit has ``a`` near 1/2 and R^2 near 1.

    Returns
    -------
    dict
        ``r2``, ``slope``, ``intercept`` and ``fitted`` [E].
    """
    dim = sum(1 for c in recorded.columns if c in ("dx", "dy", "dz"))
    receiver, sender = states_from_messages(recorded, dim)
    potential = np.asarray(system.pair_potential(receiver, sender), dtype=np.float64).reshape(-1)
    energy = recorded["e0"].to_numpy(dtype=np.float64)
    design = np.column_stack([potential, np.ones_like(potential)])
    (slope, intercept), *_ = np.linalg.lstsq(design, energy, rcond=None)
    fitted = design @ np.array([slope, intercept])
    r2 = r_squared(energy[:, None], fitted[:, None])[0]
    return {"r2": float(r2), "slope": float(slope), "intercept": float(intercept), "fitted": fitted}
