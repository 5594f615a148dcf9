"""Discovery on dark-matter halos: predict each halo's overdensity from its neighbours.

:func:`discover_halos` reads top-down as the method's steps, each a resumable stage of
the run folder (``symdistill.stages``):

1. ``load_data``: the catalogue (the shipped one by default) and its split: halos with
   delta <= ``delta_max`` are divided into training and held-out test halos, the rest
   are the out-of-distribution set;
2. ``fit_reference_baselines``: the constant and "simple" estimators, fitted by least
   absolute deviations on the training halos;
3. for each variant (``with_mass``, and ``without_mass``, whose network has no mass
   input):
   a. ``train_network``: a graph network with the configured message bias (L1) on
      the radius graph, in minibatches of training receivers with all their edges;
   b. ``analyse_messages``: rank message components by standard deviation over
      training edges and keep the most informative one;
   c. ``regress_formulas``: symbolic regression of that component against pair
      variables, then of the node model against the halo's own variables and the
      summed component ``E``;
   d. ``substitute_and_refit``: both formulas in one model, every constant refitted
      jointly on the training halos' delta (mean absolute error); before that, each
      hall-of-fame candidate gets a short refit and the simplest one close to the
      lowest error on other training halos replaces the regression's choice
      (``symdistill.halos_screening``);
   e. ``evaluate``: network and formulas on training, test and out-of-distribution
      halos;
4. ``write_report``: ``report.json`` with ``table2`` (test errors of constant, simple,
   both discovered formulas and the network) and ``ood`` (network against formula on
   delta > ``delta_max``), and ``report.md``.

Formulas use r in Mpc/h, masses in ``MASS_UNIT`` Msun/h and velocities in
``VELOCITY_UNIT`` km/s; ``sympy_physical`` entries rewrite them for Mpc/h, Msun/h, km/s.
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

from symdistill import config as config_io
from symdistill._io import atomic_write_json, atomic_write_text
from symdistill.halos_config import SCREEN_SETTINGS, VARIANTS, HaloRunConfig, resolve_halo_config
from symdistill.stages import RunFolder

logger = logging.getLogger(__name__)

MASS_UNIT = 1e13
"""Msun/h per unit of the mass variables ``M``, ``M1``, ``M2`` in formulas."""
VELOCITY_UNIT = 100.0
"""km/s per unit of the velocity variables ``v``, ``v1``, ``dv`` in formulas."""
PAIR_VARIABLES = {"with_mass": ("r", "M1", "M2", "dv"), "without_mass": ("r", "dv", "v1", "v2")}
OWN_VARIABLES = {"with_mass": ("M",), "without_mass": ("v",)}
LOSS_DEFINITION = "Loss: mean absolute error of the predicted overdensity delta, per halo."


@dataclasses.dataclass
class HaloDiscoveryResult:
    """Outcome of a halo discovery run; ``report`` is the content of ``report.json``."""

    run_dir: Path
    config: HaloRunConfig
    report: dict[str, Any]

    @property
    def table2(self) -> dict[str, float]:
        return self.report["table2"]

    @property
    def ood(self) -> dict[str, float]:
        return self.report["ood"]


def discover_halos(
    catalog: str | os.PathLike[str] | None = None,
    model: str | None = None,
    *,
    out: str | os.PathLike[str],
    preset: str = "default",
    config_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    force: bool | Iterable[str] = False,
    device: str | None = None,
) -> HaloDiscoveryResult:
    """Run the halo discovery pipeline into the run folder ``out``.

    Parameters
    ----------
    catalog : path, optional
        Halo catalogue with a ``delta`` column; the shipped catalogue by default.
    model : str, optional
        Message bias of the network (``l1`` by default).
    out : path
        Run folder; a rerun resumes finished stages whose settings did not change.
    preset : {"default", "paper"}
    config_file : path, optional
        TOML or JSON with the sections ``data distill train regression refit``.
    overrides : mapping, optional
        Nested settings applied last, e.g. ``{"train": {"steps": 100}}``.
    force : bool or iterable of str
        Rerun every stage, or the named stages and all later ones.
    device : str, optional
        Torch device for training; CUDA when available by default.
    """
    top: dict[str, Any] = {"model": model, "data": {"catalog": None if catalog is None else os.fspath(catalog)}}
    cfg = resolve_halo_config(preset, config_file, config_io.merge(top, overrides or {}))
    if device is not None:
        from symdistill.gn.train import check_device

        check_device(device)
    run = RunFolder(out, force)
    atomic_write_json(run.path / "config.json", cfg.to_dict())
    started = time.perf_counter()
    sections = cfg.to_dict()

    data = run.stage("data", lambda: load_data(cfg, run.path), sections["data"],
                     files=lambda s: [s["catalog"], s["split"]])
    baselines = run.stage("baselines", lambda: fit_reference_baselines(cfg, run.path), sections["data"])
    variants: dict[str, dict[str, Any]] = {}
    for variant in cfg.distill.variants:
        data_of = _memo(lambda v=variant: _VariantData(cfg, run.path, v))
        settings = [sections["data"], cfg.model, cfg.seed, sections["train"], variant]
        stage = f"train_{variant}"
        run.stage(stage,
                  lambda: train_network(cfg, run.path, data_of(), variant, device, fresh=run.is_forced(stage)),
                  settings, files=lambda s, v=variant: [f"gn_{v}/checkpoint.pt"])
        analysis = run.stage(f"analyse_{variant}", lambda: analyse_messages(cfg, run.path, data_of(), variant),
                             {k: v for k, v in sections["distill"].items() if k not in SCREEN_SETTINGS},
                             files=lambda s: [s["messages"]])
        fits = run.stage(f"regress_{variant}", lambda: regress_formulas(cfg, run.path, data_of(), variant, analysis),
                         sections["regression"], files=lambda s: [s["edge"]["hall_of_fame"], s["node"]["hall_of_fame"]])
        refitted = run.stage(f"refit_{variant}", lambda: substitute_and_refit(cfg, run.path, data_of(), fits),
                             [sections["refit"], {k: sections["distill"][k] for k in SCREEN_SETTINGS}])
        evaluation = run.stage(f"evaluate_{variant}", lambda: evaluate(cfg, run.path, data_of(), variant, refitted), None)
        variants[variant] = {"analysis": analysis, "fits": fits, "refit": refitted, "evaluation": evaluation}
    run.stage("report", lambda: write_report(cfg, run, data, baselines, variants, started), None,
              files=lambda s: ["report.json", "report.md"])
    return HaloDiscoveryResult(run.path, cfg, json.loads((run.path / "report.json").read_text()))


# -- 1-2. data and baselines ------------------------------------------------------------


def load_data(cfg: HaloRunConfig, run_dir: Path) -> dict[str, Any]:
    """Copy the catalogue into the run folder and split its halos; return paths and sizes."""
    from symdistill import halos

    source = cfg.data.catalog or halos.shipped_catalog_path()
    catalog = halos.load_catalog(source)
    if catalog.delta is None:
        raise ValueError(f"catalogue {source!r} has no delta column; make one with 'symdistill halos simulate'")
    split = halos.split_halos(catalog.delta, delta_max=cfg.data.delta_max, test_fraction=cfg.data.test_fraction,
                              seed=cfg.seed)
    halos.write_table(catalog, run_dir / "data" / "catalog.npz")
    with open(run_dir / "data" / "split.npz", "wb") as handle:
        np.savez(handle, train=split.train, test=split.test, ood=split.ood)
    return {"catalog": "data/catalog.npz", "split": "data/split.npz", "source": os.path.abspath(source),
            **split.to_dict(), "catalog_summary": catalog.summary()}


def _load(run_dir: Path):
    from symdistill import halos

    catalog = halos.load_catalog(run_dir / "data" / "catalog.npz")
    with np.load(run_dir / "data" / "split.npz") as split:
        return catalog, {name: split[name] for name in ("train", "test", "ood")}


def fit_reference_baselines(cfg: HaloRunConfig, run_dir: Path) -> dict[str, Any]:
    """Fit the constant and simple estimators on training halos; errors on test and ood halos."""
    from symdistill import halos

    catalog, split = _load(run_dir)
    return halos.fit_baselines(catalog, split["train"], split["test"], radius=cfg.data.baseline_radius,
                               ood=split["ood"])


# -- 3. one variant: train, analyse, regress, refit, evaluate ----------------------------


def _memo(build):
    """Return a function that calls ``build`` once, on first use, and then returns its result."""
    cache: list[Any] = []

    def get():
        if not cache:
            cache.append(build())
        return cache[0]

    return get


class _VariantData:
    """The catalogue, split, graph dataset and formula variables of one variant."""

    def __init__(self, cfg: HaloRunConfig, run_dir: Path, variant: str) -> None:
        from symdistill import halos

        self.catalog, self.split = _load(run_dir)
        self.dataset = halos.build_dataset(self.catalog, cfg.data.r_max, include_mass=variant == "with_mass")
        self.pair_names = PAIR_VARIABLES[variant]
        self.own_names = OWN_VARIABLES[variant]

    def pair_table(self, edges: np.ndarray | None = None) -> np.ndarray:
        """Pair variables per edge in formula units, shape [n_edges, len(pair_names)]."""
        senders, receivers = self.dataset.edge_index if edges is None else self.dataset.edge_index[:, edges]
        names = self.dataset.edge_feature_names
        attr = self.dataset.edge_attr if edges is None else self.dataset.edge_attr[edges]
        speed = np.linalg.norm(self.catalog.velocities, axis=1) / VELOCITY_UNIT
        columns = {
            "r": attr[:, names.index("r")].astype(np.float64) * self.dataset.scaling["r"]["scale"],
            "dv": attr[:, names.index("dv")].astype(np.float64) * self.dataset.scaling["dv"]["scale"] / VELOCITY_UNIT,
            "M1": self.catalog.masses[receivers] / MASS_UNIT,
            "M2": self.catalog.masses[senders] / MASS_UNIT,
            "v1": speed[receivers],
            "v2": speed[senders],
        }
        return np.column_stack([columns[name] for name in self.pair_names])

    def own_table(self) -> np.ndarray:
        """Own variables per halo in formula units, shape [n_halos, len(own_names)]."""
        columns = {"M": self.catalog.masses / MASS_UNIT,
                   "v": np.linalg.norm(self.catalog.velocities, axis=1) / VELOCITY_UNIT}
        return np.column_stack([columns[name] for name in self.own_names])


def train_network(cfg: HaloRunConfig, run_dir: Path, data: _VariantData, variant: str, device: str | None,
                  fresh: bool = False) -> dict[str, Any]:
    """Train the graph network of one variant on the training halos.

    A stopped run resumes from its checkpoint unless ``fresh`` is true (a forced stage).
    """
    from symdistill import gn

    dataset = data.dataset
    graph = gn.SparseGraph(x=dataset.node_features, edge_index=dataset.edge_index, y=dataset.targets,
                           edge_attr=dataset.edge_attr)
    result = gn.train_sparse(graph, cfg.model, out=run_dir / f"gn_{variant}", train_nodes=data.split["train"],
                             test_nodes=data.split["test"], seed=cfg.seed, device=device, resume=not fresh,
                             config=cfg.train)
    return {"steps": result.steps, "train_loss": result.train_loss, "test_loss": result.test_loss,
            "wall_time_s": result.wall_time_s, "node_features": list(dataset.node_feature_names),
            "edge_features": list(dataset.edge_feature_names), "scaling": dataset.scaling,
            "n_edges": dataset.n_edges}


def _network(run_dir: Path, variant: str):
    from symdistill import gn

    return gn.load_model(run_dir / f"gn_{variant}", device="cpu")


def analyse_messages(cfg: HaloRunConfig, run_dir: Path, data: _VariantData, variant: str) -> dict[str, Any]:
    """Rank message components on training edges; save the top one with its pair variables."""
    from symdistill.halos_symbolic import edge_messages

    network = _network(run_dir, variant)
    train_edges = data.dataset.incoming_edges(data.split["train"])
    rng = np.random.default_rng(cfg.seed)
    edges = np.sort(rng.choice(train_edges, size=min(cfg.distill.n_message_edges, train_edges.size), replace=False))
    messages = edge_messages(network, data.dataset.node_features, data.dataset.edge_index, data.dataset.edge_attr, edges)
    spread = messages.std(axis=0)
    ranking = np.argsort(spread)[::-1]
    top = int(ranking[0])
    # NOTE: only the strongest component is distilled; the report lists the spread of the
    # next ones so a second informative component would be visible.
    table = {name: column for name, column in zip(data.pair_names, data.pair_table(edges).T)}
    table[f"e{top}"] = messages[:, top]
    import pandas as pd

    path = run_dir / f"messages_{variant}.csv"
    pd.DataFrame(table).to_csv(path, index=False)
    total = float(np.sum(spread**2))
    return {"top_component": top, "messages": path.name,
            "component_std": {f"e{int(c)}": float(spread[c]) for c in ranking[:5]},
            "top_variance_fraction": float(spread[top] ** 2 / total) if total > 0 else 1.0}


def regress_formulas(
    cfg: HaloRunConfig, run_dir: Path, data: _VariantData, variant: str, analysis: Mapping[str, Any]
) -> dict[str, Any]:
    """Fit the kept message component to pair variables, then the node model to own variables and E."""
    import pandas as pd

    from symdistill.distill.regress import run_regression, sample_rows
    from symdistill.halos_symbolic import SUMMED_NAME, network_predictions

    config = dataclasses.replace(cfg.regression, seed=cfg.regression.seed + cfg.seed)
    out_dir = run_dir / f"regress_{variant}"
    top = analysis["top_component"]
    messages = pd.read_csv(run_dir / analysis["messages"])
    rows = sample_rows(len(messages), config.n_edges, config.seed)
    edge = run_regression(f"e{top}", messages.iloc[rows][list(data.pair_names)].to_numpy(),
                          messages.iloc[rows][f"e{top}"].to_numpy(), data.pair_names, config, out_dir)

    receivers = data.split["train"][sample_rows(data.split["train"].size, config.n_nodes, config.seed)]
    network = _network(run_dir, variant)
    predictions, summed = network_predictions(network, data.dataset.node_features, data.dataset.edge_index,
                                              data.dataset.edge_attr, receivers)
    own = data.own_table()[receivers]
    node_variables = (*data.own_names, SUMMED_NAME)
    node = run_regression("delta", np.column_stack([own, summed[:, top]]), predictions, node_variables, config, out_dir)
    return {"edge": _fit_entry(edge, run_dir), "node": _fit_entry(node, run_dir)}


def _fit_entry(fit: Any, run_dir: Path) -> dict[str, Any]:
    summary = fit.summary()
    summary["hall_of_fame"] = os.path.relpath(fit.hall_of_fame, run_dir)
    return summary


def _symbolic_model(edge: Mapping[str, Any], node: Mapping[str, Any], key: str, max_degree: int):
    from symdistill.halos_symbolic import model_from_entries

    return model_from_entries(edge, node, key, max_degree)


def _dense(
    data: _VariantData, receivers: np.ndarray, pair: np.ndarray, max_degree: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    from symdistill.halos_symbolic import dense_receivers

    dense = dense_receivers(receivers, data.dataset.row_start, data.dataset.edge_index[0], pair, data.own_table(),
                            max_degree)
    return dense, data.catalog.delta[receivers][:, None, None]


def substitute_and_refit(cfg: HaloRunConfig, run_dir: Path, data: _VariantData, fits: Mapping[str, Any]) -> dict[str, Any]:
    """Put both formulas into one model and refit all constants on the training halos.

    With ``distill.screen_steps > 0`` the formulas are first chosen again by a short
    refit of each hall-of-fame candidate. Edge candidates are tried with the chosen node
    formula, then node candidates with the best edge formula. The error on training
    halos outside the refit set decides (the least complex candidate within
    ``distill.screen_tolerance`` of the lowest), because the refit changes how well each
    candidate fits delta.
    """
    from symdistill.halos_screening import screen_candidates
    from symdistill.symbolic import refit

    config = dataclasses.replace(cfg.refit, seed=cfg.refit.seed + cfg.seed)
    rng = np.random.default_rng(config.seed)
    train = data.split["train"]
    receivers = np.sort(rng.choice(train, size=min(config.max_graphs, train.size), replace=False))
    states, targets = _dense(data, receivers, data.pair_table())
    max_degree = _max_degree(data, receivers)
    chosen = {"edge": {**fits["edge"]}, "node": {**fits["node"]}}
    screening: dict[str, list[dict[str, Any]]] = {}
    if cfg.distill.screen_steps > 0:
        others = np.setdiff1d(train, receivers)
        validation = others if others.size else receivers
        validation = np.sort(rng.choice(validation, size=min(cfg.distill.screen_halos, validation.size), replace=False))
        check_degree = _max_degree(data, validation)
        check_set = (*_dense(data, validation, data.pair_table(), check_degree), check_degree)
        screen_config = dataclasses.replace(config, steps=cfg.distill.screen_steps,
                                            max_graphs=min(config.max_graphs, cfg.distill.screen_halos))
        for part in ("edge", "node"):
            chosen[part], screening[part] = screen_candidates(part, chosen, run_dir / chosen[part]["hall_of_fame"],
                                                              (states, targets, max_degree), check_set, screen_config,
                                                              cfg.distill.screen_tolerance)
    model = _symbolic_model(chosen["edge"], chosen["node"], "sympy", max_degree)
    result = refit(model, states, targets, config)
    edge, node = model.formulas()

    def entry(fit: Mapping[str, Any], formula: Any) -> dict[str, Any]:
        return {**fit, "sympy_refit": str(formula.expr)}

    return {"edge": entry(chosen["edge"], edge), "node": entry(chosen["node"], node), "loss_before": result.loss_before,
            "loss_after": result.loss_after, "n_halos": result.n_graphs, "screening": screening}


def _max_degree(data: _VariantData, receivers: np.ndarray) -> int:
    row_start = data.dataset.row_start
    return int(max(1, np.max(row_start[receivers + 1] - row_start[receivers], initial=0)))


def evaluate(
    cfg: HaloRunConfig, run_dir: Path, data: _VariantData, variant: str, refitted: Mapping[str, Any]
) -> dict[str, Any]:
    """Mean absolute error of the network and of the refitted formulas on each split."""
    import torch

    from symdistill.halos_symbolic import network_predictions
    from symdistill.symbolic import mean_absolute_error

    network = _network(run_dir, variant)
    pair = data.pair_table()
    losses: dict[str, dict[str, float | None]] = {}
    for name in ("train", "test", "ood"):
        nodes = data.split[name]
        if nodes.size == 0:
            losses[name] = {"gn": None, "symbolic": None, "n_halos": 0}
            continue
        predictions, _ = network_predictions(network, data.dataset.node_features, data.dataset.edge_index,
                                             data.dataset.edge_attr, nodes)
        model = _symbolic_model(refitted["edge"], refitted["node"], "sympy_refit", _max_degree(data, nodes)).double()
        # Chunks of receivers bound the memory of the padded dense layout.
        errors = []
        for start in range(0, nodes.size, 2048):
            states, targets = _dense(data, nodes[start : start + 2048], pair, model.max_degree)
            chunk_error = mean_absolute_error(model, torch.as_tensor(states), torch.as_tensor(targets), batch_size=512)
            errors.append(chunk_error * targets.size)
        losses[name] = {"gn": float(np.mean(np.abs(predictions - data.catalog.delta[nodes]))),
                        "symbolic": float(np.sum(errors) / nodes.size), "n_halos": int(nodes.size)}
    return {"losses": losses}


# -- 4. report --------------------------------------------------------------------------


def write_report(cfg: HaloRunConfig, run: RunFolder, data: Mapping[str, Any], baselines: Mapping[str, Any],
                 variants: Mapping[str, Mapping[str, Any]], started: float) -> dict[str, Any]:
    """Write ``report.json`` and ``report.md`` with Table 2 and the out-of-distribution test."""
    from symdistill import report as report_io
    from symdistill.halos_symbolic import physical_formula
    from symdistill.symbolic import Formula

    units = {"M": MASS_UNIT, "M1": MASS_UNIT, "M2": MASS_UNIT, "v": VELOCITY_UNIT, "v1": VELOCITY_UNIT,
             "v2": VELOCITY_UNIT, "dv": VELOCITY_UNIT}

    def formula_entries(variant: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        refitted = variants[variant]["refit"]
        entries = []
        for part in ("edge", "node"):
            entry = dict(refitted[part])
            expr = Formula.parse(entry["component"], entry["sympy_refit"], entry["variables"]).expr
            entry["sympy_physical"] = str(physical_formula(expr, units))
            entries.append(entry)
        return [entries[0]], [entries[1]]

    table2: dict[str, float | None] = {"constant": baselines["constant"]["test_mae"],
                                       "simple": baselines["simple"]["test_mae"]}
    for variant in VARIANTS:
        losses = variants.get(variant, {}).get("evaluation", {}).get("losses")
        table2[f"discovered_{variant}"] = losses["test"]["symbolic"] if losses else None
    main = "with_mass" if "with_mass" in variants else next(iter(variants))
    main_losses = variants[main]["evaluation"]["losses"]
    table2["gn"] = main_losses["test"]["gn"]
    edge_formulas, node_formula = formula_entries(main)
    wall = dict(run.wall_times)
    wall["total_this_invocation"] = time.perf_counter() - started
    report = {
        "system": "halos",
        "dim": 3,
        "model": cfg.model,
        "setup": {
            "catalogue": data["source"],
            "halos (train / test / ood)": f"{data['n_train']} / {data['n_test']} / {data['n_ood']}",
            "graph radius (Mpc/h)": cfg.data.r_max,
            "hidden units (edge / node MLP)": f"{cfg.train.hidden} / {cfg.train.node_hidden or cfg.train.hidden}",
            "training budget": (f"{cfg.train.steps} steps" if cfg.train.steps is not None
                                else f"{cfg.train.epochs:g} epochs" if cfg.train.epochs is not None else "default"),
            "formula units": f"r Mpc/h, masses {MASS_UNIT:g} Msun/h, velocities {VELOCITY_UNIT:g} km/s",
        },
        "top_components": [variants[main]["analysis"]["top_component"]],
        "edge_formulas": edge_formulas,
        "node_formula": node_formula,
        "loss_definition": LOSS_DEFINITION,
        "train_loss": main_losses["train"],
        "test_loss": main_losses["test"],
        "ood_loss": main_losses["ood"],
        "test_description": f"{data['n_test']} held-out halos with delta <= {cfg.data.delta_max:g}",
        "ood_description": f"{data['n_ood']} halos with delta > {cfg.data.delta_max:g}, unseen in training",
        "table2": table2,
        "table2_description": "Mean absolute error of delta on the held-out test halos.",
        "ood": {"gn": main_losses["ood"]["gn"], "symbolic": main_losses["ood"]["symbolic"],
                "n_halos": main_losses["ood"]["n_halos"]},
        "discovered_over_simple": (table2[f"discovered_{main}"] / table2["simple"]
                                   if table2.get(f"discovered_{main}") and table2["simple"] else None),
        "baselines": dict(baselines),
        "variants": {v: {"analysis": variants[v]["analysis"], "formulas": formula_entries(v),
                         "refit": {k: variants[v]["refit"][k] for k in ("loss_before", "loss_after", "n_halos")},
                         "screening": variants[v]["refit"].get("screening", {}),
                         "losses": variants[v]["evaluation"]["losses"]} for v in variants},
        "data": dict(data),
        "wall_time_s": wall,
    }
    report_io.write_report(run.path, report)
    markdown = report_io.render_markdown(report) + "\n" + _table2_markdown(table2, report["ood"])
    atomic_write_text(run.path / "report.md", markdown)
    return {"report": "report.json"}


def _table2_markdown(table2: Mapping[str, Any], ood: Mapping[str, Any]) -> str:
    def number(value: Any) -> str:
        return "n/a" if value is None else f"{value:.4g}"

    lines = ["## Table 2: overdensity estimators", "", "Mean absolute error of delta on held-out halos.", "",
             "| estimator | MAE |", "|---|---|"]
    lines += [f"| {name} | {number(value)} |" for name, value in table2.items()]
    lines += ["", f"Out of distribution (delta above the training range, {ood['n_halos']} halos): "
              f"GN {number(ood['gn'])}, symbolic {number(ood['symbolic'])}.", ""]
    return "\n".join(lines)
