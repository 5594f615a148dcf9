"""``symdistill regress``: run symbolic regression on a CSV or .npz table."""

from __future__ import annotations

import os

import click
import numpy as np


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _load_table(path: str, target: str, features: list[str] | None, weights: str | None):
    """Return X, y, weights and variable names from a CSV file or an .npz archive."""
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            if "X" in archive and "y" in archive:
                X = np.asarray(archive["X"], dtype=np.float64)
                y = np.asarray(archive["y"], dtype=np.float64)
                names = [str(n) for n in archive["variable_names"]] if "variable_names" in archive else None
                sample_weights = archive["weights"] if "weights" in archive else None
                if features is not None:
                    if names is None:
                        raise click.UsageError("--features needs 'variable_names' in the .npz archive")
                    missing = [f for f in features if f not in names]
                    if missing:
                        raise click.UsageError(f"features {missing} not found; the archive has {names}")
                    X = X[:, [names.index(f) for f in features]]
                    names = features
                return X, y, sample_weights, names
            columns = {key: np.asarray(archive[key]) for key in archive.files}
    else:
        import pandas as pd

        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise click.UsageError(f"{path} has no columns; give a CSV with a header row and data rows") from None
        columns = {str(key): frame[key].to_numpy() for key in frame.columns}
    if target not in columns:
        raise click.UsageError(f"target column {target!r} not found; available columns: {sorted(columns)}")
    excluded = {target} | ({weights} if weights else set())
    names = features if features is not None else [key for key in columns if key not in excluded]
    missing = [name for name in names if name not in columns]
    if missing:
        raise click.UsageError(f"feature column(s) {missing} not found; available columns: {sorted(columns)}")
    if not names:
        raise click.UsageError("no feature columns left; give --features")
    if weights is not None and weights not in columns:
        raise click.UsageError(f"weights column {weights!r} not found; available columns: {sorted(columns)}")
    X = np.column_stack([_numeric_column(columns, name) for name in names])
    y = _numeric_column(columns, target)
    sample_weights = None if weights is None else _numeric_column(columns, weights)
    return X, y, sample_weights, names


def _numeric_column(columns: dict, name: str) -> np.ndarray:
    """Return column ``name`` as float64, naming the first value that is not a number."""
    values = np.asarray(columns[name])
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        for row, value in enumerate(values):
            try:
                float(value)
            except (TypeError, ValueError):
                raise click.UsageError(
                    f"column {name!r} has a non-numeric value {value!r} in data row {row + 1}; "
                    "every feature, target and weight must be a number"
                ) from None
        raise


@click.command(name="regress")
@click.argument("table", type=click.Path(exists=True, dir_okay=False))
@click.option("--target", "-y", default="y", show_default=True, help="Column (CSV or .npz key) to predict.")
@click.option("--features", default=None, help="Comma-separated feature columns. [default: all other columns]")
@click.option("--weights", default=None, help="Column of non-negative sample weights.")
@click.option("--binary-operators", default="+,-,*,/", show_default=True, help="Comma-separated binary operators.")
@click.option("--unary-operators", default="", show_default=True, help="Comma-separated unary operators, e.g. exp,log.")
@click.option("--maxsize", type=click.IntRange(min=4), default=30, show_default=True, help="Maximum complexity.")
@click.option("--niterations", type=click.IntRange(min=0), default=40, show_default=True, help="Search iterations.")
@click.option("--populations", type=click.IntRange(min=1), default=15, show_default=True, help="Number of islands.")
@click.option("--timeout", type=float, default=None, help="Wall-clock limit of the search in seconds.")
@click.option("--loss", default="L2", show_default=True, help="Elementwise loss: L2, L1 or Huber.")
@click.option(
    "--model-selection",
    type=click.Choice(["best", "score", "accuracy"]),
    default="best",
    show_default=True,
    help="How the reported equation is chosen from the Pareto front.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--procs", type=click.IntRange(min=1), default=None, help="Worker processes. [default: all cores]")
@click.option("--backend", default="native", show_default=True, help="Search backend: native, operon or julia.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Hall-of-fame CSV, rewritten atomically during the search.",
)
@click.option("--warm-start", is_flag=True, help="Start from the equations stored in --output, if it exists.")
def command(
    table: str,
    target: str,
    features: str | None,
    weights: str | None,
    binary_operators: str,
    unary_operators: str,
    maxsize: int,
    niterations: int,
    populations: int,
    timeout: float | None,
    loss: str,
    model_selection: str,
    seed: int,
    procs: int | None,
    backend: str,
    output: str | None,
    warm_start: bool,
) -> None:
    """Run symbolic regression on TABLE (a .csv file, or an .npz with X, y or named columns)."""
    from symdistill.sr import SymbolicRegressor

    X, y, sample_weights, names = _load_table(table, target, _split(features), weights)
    if warm_start and output is None:
        raise click.UsageError("--warm-start needs --output, the hall-of-fame file to start from")
    try:
        model = SymbolicRegressor(
            binary_operators=_split(binary_operators) or [],
            unary_operators=_split(unary_operators) or [],
            maxsize=maxsize,
            niterations=niterations,
            populations=populations,
            timeout_in_seconds=timeout,
            elementwise_loss=loss,
            model_selection=model_selection,
            random_state=seed,
            procs=procs,
            backend=backend,
            equation_file=output,
            warm_start=warm_start and output is not None and os.path.exists(output),
        )
        model.fit(X, y, weights=sample_weights, variable_names=names)
    except (ValueError, ImportError) as error:
        raise click.ClickException(str(error)) from None
    frame = model.equations_[["complexity", "loss", "score", "equation"]]
    click.echo(frame.to_string(index=False))
    best = model.get_best()
    click.echo(f"\nselected ({model_selection}): {model.sympy()}  [complexity {best['complexity']}, loss {best['loss']:.6g}]")
