"""``symdistill table``: run a grid of systems x models and write paper-style tables."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from symdistill.cli.overrides import parse_set_options, set_option, set_threads

logger = logging.getLogger(__name__)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


@click.command(name="table")
@click.option("--systems", default="spring,r1,r2,charge", show_default=True, help="Comma-separated systems.")
@click.option("--models", default="standard,bottleneck,l1,kl", show_default=True, help="Comma-separated models.")
@click.option("--dim", type=click.IntRange(2, 3), default=2, show_default=True, help="Spatial dimension.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for one run folder per cell plus table.csv and table.md.")
@click.option("--preset", type=click.Choice(["default", "paper"]), default="default", show_default=True,
              help="Budget of every run.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="TOML config applied to every run.")
@click.option("--set", "settings", multiple=True, metavar="SECTION.KEY=VALUE", help="Override a config option in every run.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Training steps of every run.")
@click.option("--sr-backend", default=None, help="Symbolic-regression backend.")
@click.option("--recovered-r2", type=click.FloatRange(0, 1), default=0.99, show_default=True,
              help="R² of the refitted edge formula against the true force that counts as recovered.")
@click.option("--keep-going/--stop-on-error", default=True, show_default=True,
              help="Continue with the next cell when a run fails (the cell is left out of the tables).")
@click.option("--device", default=None, help="Torch device. [default: cuda when available]")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Torch CPU threads. One thread is faster than several on a machine busy with other jobs.")
def command(
    systems: str, models: str, dim: int, out: Path, preset: str, config_file: Path | None, settings: tuple[str, ...],
    steps: int | None, sr_backend: str | None, recovered_r2: float, keep_going: bool, device: str | None,
    threads: int | None,
) -> None:
    """Run `discover` for every system and model (resuming finished runs) and write
    OUT/table.csv and OUT/table.md: message R², formula R² against the true force,
    recovered or not, test and out-of-distribution losses of the GN and the symbolic model.
    """
    from symdistill.pipeline import discover
    from symdistill.report.table import table_row, write_tables

    overrides = parse_set_options(settings)
    set_threads(threads)
    if steps is not None:
        set_option(overrides, "train.steps", steps)
    if sr_backend is not None:
        set_option(overrides, "regression.backend", sr_backend)
    system_names, model_names = _names(systems), _names(models)
    if not system_names or not model_names:
        raise click.BadParameter("give at least one system and one model")

    rows, failures = [], []
    for system in system_names:
        for model in model_names:
            run_dir = out / f"{system}{dim}d-{model}"
            click.echo(f"running {system} {dim}D {model} -> {run_dir}")
            try:
                result = discover(system, dim, model, out=run_dir, preset=preset, config_file=config_file,
                                  overrides=overrides, device=device)
            except Exception as error:  # a failed cell must not lose the rest of the grid
                if not keep_going:
                    raise
                logger.exception("run %s failed", run_dir)
                failures.append(f"{system}-{dim} {model}: {error}")
                continue
            rows.append(table_row(result.report, recovered_r2))
    if rows:
        csv_path, markdown_path = write_tables(rows, out)
        click.echo(f"tables: {csv_path}, {markdown_path}")
    for failure in failures:
        click.echo(f"failed: {failure}", err=True)
    if failures:
        raise SystemExit(1)
