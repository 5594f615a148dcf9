"""The discovery pipeline of Cranmer et al. (2020): from simulations to refitted formulas.

``discover`` reads top-down as the method's steps. Each step is one function below,
run as a resumable stage of the run folder (``symdistill.stages``):

1. ``simulate_or_load``: training data, test data from a new seed, and
   out-of-distribution data (more bodies or a wider spread by default);
2. ``train_network``: the graph network with its inductive bias;
3. ``analyse_messages``: record messages, keep the top ``dim`` components, R^2 of
   their linear fit to the true pair forces;
4. ``regress_messages``: symbolic regression of each kept component against the edge
   inputs, the formula chosen by the ``score`` rule (for ``flathgn``,
   ``regress_energies`` fits the pair and self energies and drops constant offsets);
5. ``regress_node_function``: symbolic regression of the node model against the body's
   state and its summed kept components;
   ``screen_candidates`` then optionally chooses each formula again by its acceleration
   error after a short joint refit (``regression.screen_steps``; ``symdistill.screening``);
6. ``substitute_and_refit``: the formulas in the graph-network structure, all
   constants refitted jointly on the training accelerations (mean absolute error),
   then read back;
7. ``evaluate``: both models on test and out-of-distribution data, and the refitted
   edge formulas against the simulator's true pair forces on fresh edges;
8. ``report``: ``report.json``, ``report.md`` and the figures.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from symdistill._io import atomic_write_json, atomic_write_text
from symdistill.distill.regress import SCREEN_SETTINGS
from symdistill.run_config import RunConfig, resolve_config, to_toml
from symdistill.stages import RunFolder, fingerprint

logger = logging.getLogger(__name__)

STAGES = ("data", "train", "analyse", "regress", "regress_node", "screen", "refit", "evaluate", "report")
LOSS_DEFINITION = "Loss: mean absolute error of the predicted accelerations, per body and component."


@dataclasses.dataclass
class DiscoveryResult:
    """Outcome of a discovery run; ``report`` is the content of ``report.json``."""

    run_dir: Path
    config: RunConfig
    report: dict[str, Any]

    @property
    def edge_formulas(self) -> list[dict[str, Any]]:
        """Distilled edge formulas (pair energy for ``flathgn``), before and after the refit."""
        return self.report["edge_formulas"]

    @property
    def node_formula(self) -> list[dict[str, Any]]:
        """Distilled node formulas (self energy for ``flathgn``), before and after the refit."""
        return self.report["node_formula"]

    @property
    def test_loss(self) -> dict[str, float]:
        """Test loss of the graph network (``gn``) and of the symbolic model (``symbolic``)."""
        return self.report["test_loss"]

    @property
    def ood_loss(self) -> dict[str, float]:
        """Out-of-distribution loss of both models."""
        return self.report["ood_loss"]


def discover(
    system: str | None = None,
    dim: int | None = None,
    model: str | None = None,
    *,
    out: str | os.PathLike[str],
    potential: str | None = None,
    preset: str = "default",
    config_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    force: bool | Iterable[str] = False,
    device: str | None = None,
) -> DiscoveryResult:
    """Run the whole discovery pipeline into the run folder ``out``.

    Parameters
    ----------
    system, dim, model : optional
        System name (``symdistill.nbody.SYSTEMS``), spatial dimension and inductive
        bias (``standard``, ``bottleneck``, ``l1``, ``kl``, ``flathgn``); they override
        the preset and config file.
    out : path
        Run folder. A rerun resumes: finished stages with unchanged settings are skipped.
    potential : str, optional
        User pair potential in ``r, m1, m2, q1, q2`` (the system becomes ``custom``).
    preset : {"default", "paper"}
        Budget: ``default`` takes about 10 minutes on a 2-core CPU, ``paper`` is the
        original budget.
    config_file : path, optional
        TOML (or a saved ``config.json``) with the sections of ``RunConfig``.
    overrides : mapping, optional
        Nested settings applied last, e.g. ``{"train": {"steps": 500}}``.
    force : bool or iterable of str
        Rerun every stage, or the named stages and every stage after them.
    device : str, optional
        Torch device for training and evaluation; CUDA when available by default.
    """
    top = {"model": model, "simulation": {"system": system, "dim": dim, "potential": potential}}
    if potential is not None and system is None:
        top["simulation"]["system"] = "custom"
    from symdistill import config as config_io

    cfg = resolve_config(preset, config_file, config_io.merge(top, overrides or {}))
    if device is not None:
        from symdistill.gn.train import check_device

        check_device(device)
    if not isinstance(force, bool):
        force = tuple(force)
        unknown = sorted(set(force) - set(STAGES))
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown} to force; stages are {', '.join(STAGES)}")
    run = RunFolder(out, force)
    _save_config(run.path, cfg, preset)
    started = time.perf_counter()
    sections = cfg.to_dict()

    data = run.stage("data", lambda: simulate_or_load(cfg, run.path), [sections["simulation"], sections["data"]],
                     files=_data_files)
    # A checkpoint is resumed only when model, training and data settings all match.
    checkpoint_key = fingerprint([cfg.model, cfg.seed, sections["train"], sections["simulation"], sections["data"]])
    run.stage("train", lambda: train_network(cfg, run.path, data, device, checkpoint_key, fresh=run.is_forced("train")),
              [cfg.model, cfg.seed, sections["train"]], files=lambda s: ["gn/checkpoint.pt"])
    # Screening settings do not change the searches, only which candidates are kept.
    search_settings = {k: v for k, v in sections["regression"].items() if k not in SCREEN_SETTINGS}
    if cfg.model == "flathgn":
        analysis: dict[str, Any] = {"message_r2": None, "top_components": [0]}
        fits = run.stage("regress", lambda: regress_energies(cfg, run.path, data), search_settings, files=_fit_files)
    else:
        analysis = run.stage("analyse", lambda: analyse_messages(cfg, run.path, data, device), sections["analysis"],
                             files=lambda s: ["messages_train.csv"])
        fits = run.stage("regress", lambda: regress_messages(cfg, run.path, data, analysis, device), search_settings,
                         files=_fit_files)
        node = run.stage("regress_node", lambda: regress_node_function(cfg, run.path, data, analysis, device),
                         search_settings, files=_fit_files)
        fits = {"edge": fits["edge"], "node": node["node"]}
        fits = run.stage("screen", lambda: screen_candidates(cfg, run.path, data, fits, analysis),
                         [sections["regression"], sections["refit"]])
    refitted = run.stage("refit", lambda: substitute_and_refit(cfg, run.path, data, fits, analysis, device),
                         sections["refit"])
    evaluation = run.stage("evaluate", lambda: evaluate(cfg, run.path, data, refitted, analysis, device),
                           sections["evaluation"])
    run.stage("report", lambda: write_report(cfg, run, data, analysis, fits, refitted, evaluation, started),
              None, files=lambda s: ["report.json", "report.md"])
    return DiscoveryResult(run.path, cfg, json.loads((run.path / "report.json").read_text()))


def _save_config(run_dir: Path, cfg: RunConfig, preset: str) -> None:
    atomic_write_json(run_dir / "config.json", cfg.to_dict())
    atomic_write_text(run_dir / "config.toml", f"# preset: {preset}\n" + to_toml(cfg))


def _data_files(summary: Mapping[str, Any]) -> list[str]:
    return [path for path in summary.values() if isinstance(path, str) and not os.path.isabs(path)]


def _fit_files(summary: Mapping[str, Any]) -> list[str]:
    return [entry["hall_of_fame"] for part in summary.values() for entry in part]


# -- 1. data ----------------------------------------------------------------------------


def simulate_or_load(cfg: RunConfig, run_dir: Path) -> dict[str, str]:
    """Simulate (or load) training, test and out-of-distribution data; return their paths."""
    from symdistill import nbody

    sim = cfg.simulation
    system = sim.build_system()
    dt = sim.dt if sim.dt is not None else system.default_dt * cfg.data.snapshot_every
    train_cfg = dataclasses.replace(sim, dt=dt)
    paths: dict[str, str] = {}

    if cfg.data.path is not None:
        paths["train"] = os.path.abspath(cfg.data.path)
        nbody.load(paths["train"])  # A bad file fails here, before training.
    else:
        paths["train"] = _simulate_to(run_dir / "data" / "train.npz", train_cfg, run_dir)
    if cfg.data.test_path is not None:
        paths["test"] = os.path.abspath(cfg.data.test_path)
        nbody.load(paths["test"])
    else:
        test_cfg = dataclasses.replace(train_cfg, seed=cfg.data.test_seed, n_sims=cfg.data.test_sims)
        paths["test"] = _simulate_to(run_dir / "data" / "test.npz", test_cfg, run_dir)

    ood_cfg = dataclasses.replace(
        train_cfg, seed=cfg.data.test_seed + 1, n_sims=cfg.data.ood_sims, n_bodies=cfg.data.ood_n_bodies
    )
    initial = nbody.initial_states(system, ood_cfg.n_bodies, ood_cfg.n_sims, ood_cfg.seed, ood_cfg.unused_charge)
    initial[..., : system.dim] *= cfg.data.ood_position_scale
    paths["ood"] = _simulate_to(run_dir / "data" / "ood.npz", ood_cfg, run_dir, initial=initial)
    return paths


def _simulate_to(path: Path, sim_cfg: Any, run_dir: Path, initial: np.ndarray | None = None) -> str:
    from symdistill import nbody

    dataset = nbody.simulate_config(sim_cfg, initial=initial)
    dataset.save(path)
    return os.path.relpath(path, run_dir)


def _arrays(run_dir: Path, data: Mapping[str, str], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (states [G, N, F], accelerations [G, N, dim]) of one data set, truncated simulations dropped."""
    from symdistill.gn import load_nbody_arrays

    states, accelerations, _ = load_nbody_arrays(str(run_dir / data[name]))
    return states, accelerations


def _load_dataset(run_dir: Path, data: Mapping[str, str], name: str):
    from symdistill import nbody

    return nbody.load(run_dir / data[name]).drop_truncated()


# -- 2. training ------------------------------------------------------------------------


def train_network(cfg: RunConfig, run_dir: Path, data: Mapping[str, str], device: str | None, key: str,
                  fresh: bool = False) -> dict[str, Any]:
    """Train the graph network into ``<run>/gn``; return its losses.

    An interrupted training with the same settings and data (``key``) resumes from its
    checkpoint; a checkpoint from other settings, or any checkpoint when ``fresh`` is
    true (a forced stage), is removed first.
    """
    from symdistill import gn

    gn_dir = run_dir / "gn"
    key_path = gn_dir / "pipeline_key.txt"
    if gn_dir.exists() and (fresh or not key_path.exists() or key_path.read_text().strip() != key):
        for name in ("checkpoint.pt", "metrics.jsonl", "config.json"):
            (gn_dir / name).unlink(missing_ok=True)
    atomic_write_text(key_path, key + "\n")
    result = gn.train(
        str(run_dir / data["train"]), cfg.model, out=gn_dir, test_data=str(run_dir / data["test"]),
        seed=cfg.seed, device=device, resume=True, config=cfg.train,
    )
    return {"steps": result.steps, "train_loss": result.train_loss, "test_loss": result.test_loss,
            "wall_time_s": result.wall_time_s}


def _load_network(run_dir: Path, device: str | None = None):
    from symdistill import gn

    return gn.load_model(run_dir / "gn", device=device or "cpu")


# -- 3. message analysis ----------------------------------------------------------------


def analyse_messages(cfg: RunConfig, run_dir: Path, data: Mapping[str, str], device: str | None) -> dict[str, Any]:
    """Record messages, rank components, and fit the top ones to the true pair forces."""
    from symdistill import distill

    network = _load_network(run_dir, device)
    test = _load_dataset(run_dir, data, "test")
    recorded = distill.record_messages(network, test, n_graphs=cfg.analysis.n_graphs, seed=cfg.seed)
    dim = cfg.simulation.dim
    components = [int(c) for c in distill.top_components(network, recorded, dim)]
    fit = distill.fit_messages_to_forces(recorded, components, test.get_system())
    plot = _plot_messages(run_dir, recorded, components, fit)

    # SR samples come from training graphs, as the method prescribes.
    train = _load_dataset(run_dir, data, "train")
    training_messages = distill.record_messages(network, train, n_graphs=cfg.analysis.n_graphs, seed=cfg.seed)
    unused = [c for c in distill.message_columns(training_messages) if int(c[1:]) not in components]
    training_messages.drop(columns=unused).to_csv(run_dir / "messages_train.csv", index=False)
    return {
        "top_components": components,
        "message_r2": float(fit["r2"]),
        "message_r2_per_component": [float(v) for v in fit["r2_per_component"]],
        "message_r2_trimmed": float(fit["r2_trimmed"]),
        "plot": plot,
    }


def _plot_messages(run_dir: Path, recorded: Any, components: list[int], fit: Mapping[str, Any]) -> str:
    from symdistill.report import plot_messages_vs_forces

    messages = recorded[[f"e{c}" for c in components]].to_numpy()
    path = plot_messages_vs_forces(messages, np.asarray(fit["fitted"]), [f"e{c}" for c in components],
                                   run_dir / "plots" / "messages_vs_forces.png", fit["r2_per_component"])
    return os.path.relpath(path, run_dir)


# -- 4-5. symbolic regression -----------------------------------------------------------


def regress_messages(
    cfg: RunConfig, run_dir: Path, data: Mapping[str, str], analysis: Mapping[str, Any], device: str | None
) -> dict[str, Any]:
    """Fit each kept message component to the edge inputs; the score rule picks each formula.

    With ``regression.edge_target = "summed"`` each candidate is summed over the incoming
    edges of every receiver and compared with the network's summed component.
    """
    import pandas as pd

    from symdistill.distill import regress

    components = analysis["top_components"]
    config = _regression_config(cfg)
    if config.edge_target == "summed":
        states, _ = _arrays(run_dir, data, "train")
        graphs = regress.sample_rows(len(states), max(1, config.n_nodes // states.shape[1]), config.seed)
        summed, _ = regress.network_node_data(_load_network(run_dir, device), states[graphs])
        fits = regress.fit_edge_formulas_summed(states[graphs], summed, components, cfg.simulation.dim, config,
                                                run_dir / "regress")
    else:
        messages = pd.read_csv(run_dir / "messages_train.csv")
        fits = regress.fit_edge_formulas(messages, components, cfg.simulation.dim, config, run_dir / "regress")
    return {"edge": [_fit_summary(fit, run_dir, cfg) for fit in fits]}


def regress_node_function(
    cfg: RunConfig, run_dir: Path, data: Mapping[str, str], analysis: Mapping[str, Any], device: str | None
) -> dict[str, Any]:
    """Fit each node-model output to the body's state and its summed kept message components."""
    from symdistill.distill import regress

    config = _regression_config(cfg)
    states, _ = _arrays(run_dir, data, "train")
    n_graphs = max(1, 2 * config.n_nodes // states.shape[1])
    graphs = regress.sample_rows(len(states), n_graphs, config.seed)
    summed, outputs = regress.network_node_data(_load_network(run_dir, device), states[graphs])
    fits = regress.fit_node_formulas(states[graphs], summed, outputs, analysis["top_components"],
                                     cfg.simulation.dim, config, run_dir / "regress")
    return {"node": [_fit_summary(fit, run_dir, cfg) for fit in fits]}


def regress_energies(cfg: RunConfig, run_dir: Path, data: Mapping[str, str]) -> dict[str, Any]:
    """Fit the pair and self energies of a flattened Hamiltonian network."""
    from symdistill.distill import regress

    config = _regression_config(cfg)
    states, _ = _arrays(run_dir, data, "train")
    n_graphs = max(1, 2 * config.n_nodes // states.shape[1])
    graphs = regress.sample_rows(len(states), n_graphs, config.seed)
    canonical, pair, own = regress.network_energies(_load_network(run_dir), states[graphs])
    pair_fit, self_fit = regress.fit_energy_formulas(canonical, pair, own, cfg.simulation.dim, config,
                                                     run_dir / "regress")
    return {"edge": [_fit_summary(pair_fit, run_dir, cfg)], "node": [_fit_summary(self_fit, run_dir, cfg)]}


def _regression_config(cfg: RunConfig):
    return dataclasses.replace(cfg.regression, seed=cfg.regression.seed + cfg.seed)


def _fit_summary(fit: Any, run_dir: Path, cfg: RunConfig) -> dict[str, Any]:
    from symdistill.report import plot_pareto_front

    plot = plot_pareto_front(fit.equations["complexity"], fit.equations["loss"], fit.complexity,
                             run_dir / "plots" / f"pareto_{fit.formula.component}.png", fit.formula.component,
                             chosen_label=f"chosen ({cfg.regression.model_selection} rule)")
    summary = fit.summary()
    summary["hall_of_fame"] = os.path.relpath(fit.hall_of_fame, run_dir)
    summary["plot"] = os.path.relpath(plot, run_dir)
    return summary


def screen_candidates(
    cfg: RunConfig, run_dir: Path, data: Mapping[str, str], fits: Mapping[str, Any], analysis: Mapping[str, Any],
) -> dict[str, Any]:
    """Choose every formula again by its acceleration error after a short joint refit.

    With ``regression.screen_steps = 0`` the fits are returned unchanged. Otherwise each
    hall-of-fame candidate is substituted into the symbolic model, all constants are
    refitted for ``screen_steps`` steps on ``screen_graphs`` training graphs, and the
    error is measured on as many other training graphs (``symdistill.screening``).
    """
    settings = cfg.regression
    if settings.screen_steps == 0:
        return {"edge": list(fits["edge"]), "node": list(fits["node"]), "screening": {}}
    import pandas as pd

    from symdistill.report import plot_pareto_front
    from symdistill.screening import ScreenSet, screen_formulas

    states, accelerations = _arrays(run_dir, data, "train")
    order = np.random.default_rng(cfg.seed + settings.seed).permutation(len(states))
    n = min(settings.screen_graphs, len(states) // 2)
    if n < 1:
        raise ValueError(f"screening needs at least 2 training graphs, got {len(states)}; "
                         "simulate more or set regression.screen_steps = 0")
    fit_rows, check_rows = np.sort(order[:n]), np.sort(order[n : 2 * n])
    screen_set = ScreenSet(states[fit_rows], accelerations[fit_rows], states[check_rows], accelerations[check_rows])
    # Short refits need many small steps more than large minibatches.
    refit_config = dataclasses.replace(cfg.refit, steps=settings.screen_steps, max_graphs=n, lr=settings.screen_lr,
                                      batch_size=min(cfg.refit.batch_size, 64),
                                      eval_every=min(cfg.refit.eval_every, max(1, settings.screen_steps // 2)),
                                      seed=cfg.refit.seed + cfg.seed)
    chosen, results = screen_formulas(
        fits, run_dir, lambda edge, node: build_symbolic_model(cfg, edge, node, analysis["top_components"]),
        screen_set, refit_config, settings.screen_tolerance,
    )
    for component, rows in results.items():
        table = pd.DataFrame(rows, columns=["complexity", "validation_mae", "equation"])
        atomic_write_text(run_dir / "regress" / f"screening_{component}.csv", table.to_csv(index=False))
    # The Pareto plots mark the screened choice instead of the score rule's.
    for entry in [*chosen["edge"], *chosen["node"]]:
        front = pd.read_csv(run_dir / entry["hall_of_fame"])
        plot_pareto_front(front["complexity"], front["loss"], entry["complexity"], run_dir / entry["plot"],
                          entry["component"], chosen_label="chosen (screening)")
    return {**chosen, "screening": results}


# -- 6. substitution and refit ----------------------------------------------------------


def _formulas(entries: Iterable[Mapping[str, Any]], key: str = "sympy"):
    from symdistill.symbolic import Formula

    return [Formula.parse(e["component"], e[key], e["variables"]) for e in entries]


def build_symbolic_model(cfg: RunConfig, edge: list, node: list, components: list[int]):
    """Substitute formulas into the graph-network structure as a torch module."""
    from symdistill.symbolic import SymbolicGraphModel, SymbolicHamiltonian

    if cfg.model == "flathgn":
        return SymbolicHamiltonian(edge[0], node[0], cfg.simulation.dim)
    return SymbolicGraphModel(edge, components, node, cfg.simulation.dim)


def substitute_and_refit(
    cfg: RunConfig, run_dir: Path, data: Mapping[str, str], fits: Mapping[str, Any], analysis: Mapping[str, Any],
    device: str | None,
) -> dict[str, Any]:
    """Build the symbolic model, refit all its constants on training data, read the formulas back."""
    from symdistill.symbolic import Formula, drop_offsets, refit

    edge, node = _formulas(fits["edge"]), _formulas(fits["node"])
    regressed = {f.component: str(f.expr) for f in [*edge, *node]}
    if cfg.model == "flathgn":
        # Terms without positions or momenta are arbitrary energy offsets.
        from symdistill.distill.regress import dynamic_variables

        dynamic = dynamic_variables(cfg.simulation.dim)
        edge = [Formula(f.component, drop_offsets(f.expr, dynamic), f.variables) for f in edge]
        node = [Formula(f.component, drop_offsets(f.expr, dynamic), f.variables) for f in node]
    model = build_symbolic_model(cfg, edge, node, analysis["top_components"])
    states, accelerations = _arrays(run_dir, data, "train")
    config = dataclasses.replace(cfg.refit, seed=cfg.refit.seed + cfg.seed)
    result = refit(model, states, accelerations, config, device=device)
    new_edge, new_node = model.formulas() if cfg.model != "flathgn" else ([model.formulas()[0]], [model.formulas()[1]])
    new_edge, new_node = _prune(cfg, new_edge, new_node, analysis, states, accelerations)

    def entry(before: Formula, after: Formula) -> dict[str, Any]:
        values = {"component": before.component, "sympy": str(before.expr), "sympy_refit": str(after.expr),
                  "variables": list(before.variables)}
        if regressed[before.component] != values["sympy"]:
            values["sympy_with_offsets"] = regressed[before.component]
        return values

    return {
        "edge": [entry(f, g) for f, g in zip(edge, new_edge)],
        "node": [entry(f, g) for f, g in zip(node, new_node)],
        "loss_before": result.loss_before,
        "loss_after": result.loss_after,
        "history": result.history,
        "n_graphs": result.n_graphs,
    }


def _prune(cfg: RunConfig, edge: list, node: list, analysis: Mapping[str, Any], states: np.ndarray,
           accelerations: np.ndarray) -> tuple[list, list]:
    """Drop constants that the refit drove to negligible size (``symdistill.symbolic.prune``)."""
    import torch

    from symdistill.symbolic import mean_absolute_error, prune_constants

    keep = np.random.default_rng(cfg.seed).permutation(len(states))[:5000]
    x, y = torch.as_tensor(states[keep]), torch.as_tensor(accelerations[keep])

    def loss(edge_formulas: list, node_formulas: list) -> float:
        model = build_symbolic_model(cfg, edge_formulas, node_formulas, analysis["top_components"])
        return mean_absolute_error(model, x, y)

    # A hundred-thousandth of the zero-prediction loss counts as no change.
    return prune_constants(edge, node, loss, floor=1e-5 * float(np.abs(accelerations[keep]).mean()))


# -- 7. evaluation ----------------------------------------------------------------------


def evaluate(
    cfg: RunConfig, run_dir: Path, data: Mapping[str, str], refitted: Mapping[str, Any], analysis: Mapping[str, Any],
    device: str | None,
) -> dict[str, Any]:
    """Losses of both models on training, test and out-of-distribution data, and formula checks."""
    import torch

    from symdistill.symbolic import mean_absolute_error

    network = _load_network(run_dir, device).eval()
    symbolic = build_symbolic_model(
        cfg, _formulas(refitted["edge"], "sympy_refit"), _formulas(refitted["node"], "sympy_refit"),
        analysis["top_components"],
    )
    losses: dict[str, dict[str, float]] = {}
    for name in ("train", "test", "ood"):
        states, accelerations = _arrays(run_dir, data, name)
        keep = np.random.default_rng(cfg.seed).permutation(len(states))[: cfg.evaluation.max_graphs]
        parameter = next(network.parameters())
        x = torch.as_tensor(states[keep], dtype=parameter.dtype, device=parameter.device)
        y = torch.as_tensor(accelerations[keep], dtype=parameter.dtype, device=parameter.device)
        losses[name] = {
            "gn": mean_absolute_error(lambda batch: network.forward_dense(batch)[0], x, y, batch_size=1024),
            "symbolic": mean_absolute_error(symbolic, torch.as_tensor(states[keep]), torch.as_tensor(accelerations[keep])),
            # The loss of predicting zero acceleration gives the other two a scale.
            "zero": float(np.abs(accelerations[keep]).mean()),
        }
    checks = check_formulas(cfg, run_dir, data, network, symbolic)
    return {"losses": losses, "checks": checks}


def check_formulas(cfg: RunConfig, run_dir: Path, data: Mapping[str, str], network: Any, symbolic: Any) -> dict[str, Any]:
    """Compare the refitted edge formulas with the simulator on fresh edges (test data, new seed).

    Message models: R^2 of each edge formula against its best linear combination of
    the true pair-force components plus a constant (``edge_formula_force_r2``, the
    mean over components). ``flathgn``: R^2 of the pair energy against a scaled and
    offset true pair potential (``pair_energy_r2``).
    """
    import torch

    from symdistill import distill

    test = _load_dataset(run_dir, data, "test")
    n_edges_per_graph = test.n_bodies * (test.n_bodies - 1)
    n_graphs = max(1, cfg.evaluation.n_check_edges // n_edges_per_graph)
    # Recording with the network yields the fresh edges' input columns; the message
    # columns are then replaced by the refitted formulas' values.
    edges = distill.record_messages(network, test, n_graphs=n_graphs, seed=cfg.seed + 1)
    receiver, sender = (torch.as_tensor(np.array(a)) for a in distill.states_from_messages(edges, cfg.simulation.dim))
    with torch.no_grad():
        if cfg.model == "flathgn":
            edges["e0"] = symbolic.pair_energies(receiver, sender).numpy()
            fit = distill.fit_energies_to_potential(edges, test.get_system())
            return {"pair_energy_r2": float(fit["r2"]), "pair_energy_slope": float(fit["slope"]),
                    "n_check_edges": len(edges)}
        values = symbolic.messages(receiver, sender).numpy()
    for k, component in enumerate(symbolic.components):
        edges[f"e{component}"] = values[:, k]
    system = test.get_system()
    fit = distill.fit_messages_to_forces(edges, symbolic.components, system)
    # The receiver's mass is common to all its incoming messages, so a network may
    # route the division by mass into the messages: then they match F / m1, not F.
    per_mass = distill.fit_messages_to_forces(edges, symbolic.components, _ForcePerReceiverMass(system))
    return {"edge_formula_force_r2": float(fit["r2"]),
            "edge_formula_force_r2_per_component": [float(v) for v in fit["r2_per_component"]],
            "edge_formula_force_per_mass_r2": float(per_mass["r2"]),
            "n_check_edges": len(edges)}


class _ForcePerReceiverMass:
    """A system's pair force divided by the receiver's mass (its contribution to the acceleration)."""

    def __init__(self, system: Any) -> None:
        self.system = system

    def pair_force(self, receiver: np.ndarray, sender: np.ndarray) -> np.ndarray:
        return self.system.pair_force(receiver, sender) / receiver[:, -1:]


# -- 8. report --------------------------------------------------------------------------


def write_report(
    cfg: RunConfig, run: RunFolder, data: Mapping[str, str], analysis: Mapping[str, Any], fits: Mapping[str, Any],
    refitted: Mapping[str, Any], evaluation: Mapping[str, Any], started: float,
) -> dict[str, Any]:
    """Write ``report.json``, ``report.md`` and the training-curve figure."""
    from symdistill import report as report_io

    run_dir = run.path
    plots = {"messages vs forces": analysis.get("plot")} if analysis.get("plot") else {}
    for part in ("edge", "node"):
        for fit in fits[part]:
            plots[f"Pareto front {fit['component']}"] = fit["plot"]
    curve = _plot_training_curve(run_dir)
    if curve:
        plots["training curve"] = curve

    def merge(fit_list, refit_list):
        return [{**r, "complexity": f["complexity"], "loss": f["loss"], "hall_of_fame": f["hall_of_fame"],
                 "selected_by": f.get("selected_by", cfg.regression.model_selection)}
                for f, r in zip(fit_list, refit_list)]

    losses = evaluation["losses"]
    ood = cfg.data.ood_description(cfg.simulation.n_bodies)
    wall = dict(run.wall_times)
    wall["total_this_invocation"] = time.perf_counter() - started
    report = {
        "system": cfg.system_label,
        "dim": cfg.simulation.dim,
        "model": cfg.model,
        "potential": cfg.simulation.potential,
        "true_potential": _true_potential(cfg),
        "softening": cfg.simulation.softening,
        "setup": _setup(cfg, data),
        "message_r2": analysis.get("message_r2"),
        "message_r2_per_component": analysis.get("message_r2_per_component", []),
        "message_r2_trimmed": analysis.get("message_r2_trimmed"),
        "top_components": analysis.get("top_components"),
        "edge_formulas": merge(fits["edge"], refitted["edge"]),
        "node_formula": merge(fits["node"], refitted["node"]),
        "refit": {"loss_before": refitted["loss_before"], "loss_after": refitted["loss_after"],
                  "n_graphs": refitted["n_graphs"]},
        "loss_definition": LOSS_DEFINITION,
        "train_loss": losses["train"],
        "test_loss": losses["test"],
        "ood_loss": losses["ood"],
        "test_description": f"{cfg.data.test_sims} new simulations (seed {cfg.data.test_seed})",
        "ood_description": ood,
        "checks": evaluation["checks"],
        **{key: value for key, value in evaluation["checks"].items() if not key.startswith("n_")},
        "wall_time_s": wall,
        "cpu_time_s": dict(run.cpu_times),
        "plots": plots,
    }
    report_io.write_report(run_dir, report)
    return {"report": "report.json"}


def _true_potential(cfg: RunConfig) -> str | None:
    """Return the simulated pair potential U(r, m1, m2, q1, q2) as a sympy string, or None."""
    try:
        expr = cfg.simulation.build_system().potential_expr
    except (ValueError, AttributeError):
        return None
    return None if expr is None else str(expr)


def _plot_training_curve(run_dir: Path) -> str | None:
    from symdistill.report import plot_training_curve

    metrics = run_dir / "gn" / "metrics.jsonl"
    if not metrics.exists():
        return None
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    steps = [r["step"] for r in rows if r.get("train_loss") is not None]
    train = [r["train_loss"] for r in rows if r.get("train_loss") is not None]
    test_steps = [r["step"] for r in rows if r.get("test_loss") is not None]
    test = [r["test_loss"] for r in rows if r.get("test_loss") is not None]
    # Training logs the per-graph sum of absolute errors, not the report's per-component mean.
    path = plot_training_curve(steps, train, run_dir / "plots" / "training_curve.png", test_steps, test,
                               ylabel="summed |error| per graph")
    return os.path.relpath(path, run_dir)


def _setup(cfg: RunConfig, data: Mapping[str, str]) -> dict[str, Any]:
    sim, reg = cfg.simulation, cfg.regression
    return {
        "bodies": sim.n_bodies,
        "training simulations": sim.n_sims if cfg.data.path is None else data["train"],
        "snapshots per simulation": sim.n_steps,
        "training steps": cfg.train.steps,
        "hidden units (edge / node MLP)": f"{cfg.train.hidden} / {cfg.train.node_hidden or cfg.train.hidden}",
        "SR operators": " ".join([*reg.binary_operators, *reg.unary_operators, *reg.ternary_operators]),
        "SR budget per fit": f"{reg.niterations} iterations, {reg.timeout_in_seconds} s timeout, maxsize {reg.maxsize}",
        "SR backend": reg.backend,
        "refit steps": cfg.refit.steps,
    }
