"""``symdistill discover``: the whole pipeline from simulation to refitted formulas."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from symdistill.cli.overrides import parse_set_options, set_option, set_threads

HALOS_SYSTEM = "halos"


@click.command(name="discover")
@click.option("--system", default=None, help="System to simulate: spring, r1, r2, charge, damped, discontinuous, "
              "custom (with --potential) or halos (a halo catalogue, see --catalog). [default: spring]")
@click.option("--dim", type=click.IntRange(2, 3), default=None, help="Spatial dimension. [default: 2]")
@click.option("--model", default=None, help="Inductive bias: standard, bottleneck, l1, kl or flathgn. [default: l1]")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Run folder; rerunning with the same folder resumes finished stages.")
@click.option("--potential", default=None, help="User pair potential in r, m1, m2, q1, q2, e.g. 'q1*q2*exp(-r)/r'.")
@click.option("--preset", type=click.Choice(["default", "paper"]), default="default", show_default=True,
              help="Budget: default takes about 10 minutes on 2 CPU cores; paper is the original budget.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="TOML config file (or a run's config.json); flags override it.")
@click.option("--set", "settings", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override any config option, e.g. --set train.steps=2000 --set regression.maxsize=20.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Training steps (train.steps).")
@click.option("--n-bodies", type=click.IntRange(min=2), default=None, help="Bodies per simulation.")
@click.option("--n-sims", type=click.IntRange(min=1), default=None, help="Training simulations.")
@click.option("--sr-backend", default=None, help="Symbolic-regression backend of the estimator (e.g. native, operon).")
@click.option("--sr-timeout", type=float, default=None, help="Wall-clock limit per symbolic-regression fit, seconds.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed of training, regression and refit.")
@click.option("--catalog", type=click.Path(path_type=Path), default=None, help="Halo catalogue (--system halos only).")
@click.option("--force", is_flag=True, help="Redo every stage instead of resuming.")
@click.option("--force-stage", multiple=True, help="Redo this stage and every later one (data, train, analyse, "
              "regress, regress_node, screen, refit, evaluate, report).")
@click.option("--device", default=None, help="Torch device, e.g. cpu or cuda. [default: cuda when available]")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Torch CPU threads. One thread is faster than several on a machine busy with other jobs.")
def command(
    system: str | None, dim: int | None, model: str | None, out: Path, potential: str | None, preset: str,
    config_file: Path | None, settings: tuple[str, ...], steps: int | None, n_bodies: int | None, n_sims: int | None,
    sr_backend: str | None, sr_timeout: float | None, seed: int | None, catalog: Path | None, force: bool,
    force_stage: tuple[str, ...], device: str | None, threads: int | None,
) -> None:
    """Simulate, train a graph network, distill its messages and node function with
    symbolic regression, substitute the formulas back, refit and evaluate.

    Writes config.toml, report.json, report.md, plots and hall-of-fame CSVs into OUT.
    """
    try:
        overrides = parse_set_options(settings)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--set") from None
    for path, value in (
        ("train.steps", steps), ("simulation.n_bodies", n_bodies), ("simulation.n_sims", n_sims),
        ("regression.backend", sr_backend), ("regression.timeout_in_seconds", sr_timeout), ("seed", seed),
    ):
        if value is not None:
            set_option(overrides, path, value)
    forced: bool | tuple[str, ...] = True if force else force_stage
    set_threads(threads)

    if system == HALOS_SYSTEM:
        for option, value in (("--n-bodies", n_bodies), ("--n-sims", n_sims), ("--potential", potential),
                              ("--dim", dim)):
            if value is not None:
                raise click.BadParameter(f"{option} applies only to simulated N-body systems, not to --system halos",
                                         param_hint=option)
        result = _discover_halos(catalog, model, out, preset, config_file, overrides, forced, device)
    else:
        if catalog is not None:
            raise click.BadParameter("--catalog applies only to --system halos", param_hint="--catalog")
        from symdistill.pipeline import discover

        try:
            result = discover(system, dim, model, out=out, potential=potential, preset=preset, config_file=config_file,
                              overrides=overrides, force=forced, device=device)
        except (ValueError, FileNotFoundError, ImportError) as error:
            raise click.ClickException(str(error)) from None
    _echo_summary(result.report, out)


def _discover_halos(catalog, model, out, preset, config_file, overrides, force, device) -> Any:
    try:
        module = importlib.import_module("symdistill.halos_pipeline")
    except ModuleNotFoundError as error:
        if error.name != "symdistill.halos_pipeline":
            raise
        raise click.ClickException(
            "--system halos needs symdistill.halos_pipeline, which is not in this installation"
        ) from None
    try:
        return module.discover_halos(catalog=catalog, model=model, out=out, preset=preset, config_file=config_file,
                                     overrides=overrides, force=force, device=device)
    except (ValueError, FileNotFoundError, ImportError) as error:
        raise click.ClickException(str(error)) from None


def _echo_summary(report: dict[str, Any], out: Path) -> None:
    for entry in report.get("edge_formulas", []):
        click.echo(f"{entry['component']} = {entry.get('sympy_refit') or entry.get('sympy')}")
    for entry in report.get("node_formula", []):
        click.echo(f"{entry['component']} = {entry.get('sympy_refit') or entry.get('sympy')}")
    for key in ("test_loss", "ood_loss"):
        losses = report.get(key)
        if isinstance(losses, dict) and isinstance(losses.get("gn"), float) and isinstance(losses.get("symbolic"), float):
            click.echo(f"{key}: GN {losses['gn']:.4g}, symbolic {losses['symbolic']:.4g}")
    click.echo(f"report: {out / 'report.md'}")
