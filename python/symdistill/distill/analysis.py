"""Message analysis of a trained run: test loss, message R^2 against true forces, plot.

:func:`analyse` is the whole step: it loads the run, records messages on test data,
ranks components, fits the top ones to the simulator's pair forces and writes
``metrics.json`` and ``messages_vs_forces.png`` into the run folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from symdistill._io import atomic_write_json

logger = logging.getLogger(__name__)

METRICS_NAME = "metrics.json"
PLOT_NAME = "messages_vs_forces.png"


def prediction_loss(model, dataset: Any, max_graphs: int = 10_000) -> float:
    """Return the mean over graphs of the summed absolute acceleration error (no augmentation).

    Uses at most ``max_graphs`` graphs, drawn by a fixed permutation.
    """
    from symdistill.gn.data import load_nbody_arrays
    from symdistill.gn.tasks import DenseTask
    from symdistill.distill.messages import _network_device

    states, accelerations, _ = load_nbody_arrays(dataset)
    task = DenseTask(states, accelerations, _network_device(model), augment_sigma=0.0)
    return task.evaluate(model, max_graphs)


def analyse(
    run_dir: str | os.PathLike[str],
    dataset: Any,
    *,
    system: Any = None,
    n_graphs: int = 1000,
    seed: int = 0,
    device: str | None = None,
    plot: bool = True,
) -> dict[str, Any]:
    """Analyse the messages of the network trained in ``run_dir`` on ``dataset``.

    Parameters
    ----------
    run_dir : path
        A run folder written by :func:`symdistill.gn.train`.
    dataset : NBodyDataset or path
        Test data, ideally simulated from a seed other than the training data's.
    system : optional
        The simulated system (anything with ``pair_force`` and ``pair_potential``);
        defaults to ``dataset.get_system()``.
    n_graphs, seed : int
        Graphs drawn with replacement for recording messages.

    Returns
    -------
    dict
        The content of ``metrics.json``: ``model``, ``test_loss``, ``message_r2``,
        ``message_r2_per_component``, ``message_r2_trimmed`` (the original code's trimmed
        figure of merit), ``top_components``, ``force_coefficients``,
        ``n_graphs``, ``seed``, ``trained_steps`` and ``plot``. For ``flathgn`` the
        message R^2 entries are None and ``energy_r2`` (pair energy against the true pair
        potential) is given instead.
    """
    from symdistill.distill.forces import fit_energies_to_potential, fit_messages_to_forces, top_components
    from symdistill.distill.messages import record_messages
    from symdistill.gn import load_model

    run_dir = Path(run_dir)
    if isinstance(dataset, (str, os.PathLike)):
        from symdistill import nbody

        dataset = nbody.load(dataset)
    if system is None:
        if not hasattr(dataset, "get_system"):
            raise ValueError("pass system= (an object with pair_force) when the dataset has no get_system()")
        system = dataset.get_system()
    model = load_model(run_dir, device=device or "cpu")
    name = model.spec["name"]
    dim = model.spec["dim"]
    recorded = record_messages(model, dataset, n_graphs=n_graphs, seed=seed)
    metrics: dict[str, Any] = {
        "model": name,
        "system": getattr(system, "name", None),
        "test_loss": prediction_loss(model, dataset),
        "n_graphs": n_graphs,
        "seed": seed,
        "trained_steps": model.trained_steps,
    }
    if name == "flathgn":
        energy = fit_energies_to_potential(recorded, system)
        metrics.update(
            message_r2=None,
            message_r2_per_component=None,
            top_components=[0],
            energy_r2=energy["r2"],
            energy_slope=energy["slope"],
        )
        fitted, components, r2 = energy["fitted"][:, None], [0], [energy["r2"]]
    else:
        components = top_components(model, recorded, dim)
        fit = fit_messages_to_forces(recorded, components, system)
        metrics.update(
            message_r2=fit["r2"],
            message_r2_per_component=fit["r2_per_component"],
            message_r2_trimmed=fit["r2_trimmed"],
            top_components=components,
            force_coefficients=np.asarray(fit["coefficients"]).tolist(),
        )
        fitted, r2 = fit["fitted"], fit["r2_per_component"]
    metrics["plot"] = None
    if plot:
        from symdistill.report import plot_messages_vs_forces

        messages = recorded[[f"e{c}" for c in components]].to_numpy()
        path = plot_messages_vs_forces(messages, fitted, [f"e{c}" for c in components], run_dir / PLOT_NAME, r2)
        metrics["plot"] = os.path.relpath(path, run_dir)
    atomic_write_json(run_dir / METRICS_NAME, metrics)
    logger.info("%s: message R^2 %s, test loss %.4g", run_dir, metrics["message_r2"], metrics["test_loss"])
    return metrics
