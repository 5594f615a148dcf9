"""``symdistill halos``: make, inspect and convert dark-matter halo catalogues."""

from __future__ import annotations

import json
import time

import click

_FORMATS = click.Choice(["npz", "csv", "hdf5", "rockstar", "fof"])


@click.group(name="halos")
def command() -> None:
    """Dark-matter halo catalogues: simulate, read, build graphs, fit baselines."""


@command.command()
@click.option("--particles", "n_particles_1d", type=int, default=128, show_default=True,
              help="Particles per side (a power of two); the PM mesh has the same size.")
@click.option("--box", "box_size", type=float, default=250.0, show_default=True, help="Box edge in Mpc/h.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the initial conditions.")
@click.option("--redshift", type=float, default=0.0, show_default=True, help="Output redshift.")
@click.option("--z-start", type=float, default=49.0, show_default=True, help="Redshift of the 2LPT initial conditions.")
@click.option("--radius", "overdensity_radius", type=float, default=20.0, show_default=True,
              help="Smoothing radius of delta in Mpc/h.")
@click.option("--kernel", "overdensity_kernel", type=click.Choice(["tophat", "gaussian"]), default="tophat",
              show_default=True, help="Smoothing kernel of delta.")
@click.option("--min-members", type=int, default=20, show_default=True, help="Smallest FoF group kept as a halo.")
@click.option("--linking-length", type=float, default=0.2, show_default=True,
              help="FoF linking length in units of the mean interparticle spacing.")
@click.option("--power-spectrum", type=click.Choice(["auto", "camb", "eisenstein_hu"]), default="auto",
              show_default=True, help="Linear power spectrum source (auto: CAMB when installed).")
@click.option("--threads", type=int, default=None, help="Threads for pysco (default: all CPUs).")
@click.option("--work-dir", type=click.Path(file_okay=False), default=None,
              help="Keep pysco's inputs, log and snapshots in this folder.")
@click.option("--timeout", "timeout_s", type=float, default=None, help="Stop pysco after this many seconds.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="Output catalogue (.npz, .csv or .h5).")
def simulate(out_path: str, threads: int | None, work_dir: str | None, timeout_s: float | None, **settings) -> None:
    """Run a pysco N-body simulation, find FoF halos and save the catalogue with delta."""
    from symdistill.halos import HaloSimulationConfig, simulate_catalog, write_table

    try:
        config = HaloSimulationConfig(**settings)
        catalog = simulate_catalog(config, work_dir=work_dir, n_threads=threads, timeout_s=timeout_s)
    except (ValueError, ImportError, RuntimeError, TimeoutError) as error:
        raise click.ClickException(str(error)) from None
    write_table(catalog, out_path)
    click.echo(json.dumps({"out": out_path, **catalog.summary(), "timing_s": catalog.metadata.get("timing_s")}, indent=2))


@command.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--format", "fmt", type=_FORMATS, default=None, help="Catalogue format (guessed from the name).")
@click.option("--box", "box_size", type=float, default=None, help="Box edge in Mpc/h, if the file lacks it.")
def info(path: str, fmt: str | None, box_size: float | None) -> None:
    """Print a catalogue's size, mass range and delta statistics as JSON."""
    catalog = _load(path, fmt, box_size)
    click.echo(json.dumps({"path": path, **catalog.summary(), "metadata": catalog.metadata}, indent=2, default=str))


@command.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--r-max", type=float, default=50.0, show_default=True, help="Edge radius in Mpc/h.")
@click.option("--format", "fmt", type=_FORMATS, default=None, help="Catalogue format (guessed from the name).")
@click.option("--box", "box_size", type=float, default=None, help="Box edge in Mpc/h, if the file lacks it.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Save edge_index, row_start and edge features to this .npz file.")
def graph(path: str, r_max: float, fmt: str | None, box_size: float | None, out_path: str | None) -> None:
    """Build the periodic radius graph of a catalogue and print its size."""
    import numpy as np

    from symdistill._io import atomic_path
    from symdistill.halos import EDGE_FEATURE_NAMES, edge_features, radius_graph

    catalog = _load(path, fmt, box_size)
    started = time.perf_counter()
    try:
        result = radius_graph(catalog.positions, r_max, catalog.box_size)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    elapsed = time.perf_counter() - started
    degree = result.in_degree()
    click.echo(json.dumps({
        "n_halos": catalog.n_halos, "n_edges": result.n_edges, "r_max_mpc_h": r_max,
        "mean_in_degree": float(degree.mean()) if degree.size else 0.0,
        "seconds_including_numba_load": round(elapsed, 3),
    }, indent=2))
    if out_path:
        features = edge_features(catalog.positions, catalog.velocities, result.edge_index, catalog.box_size)
        with atomic_path(out_path, suffix=".npz") as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, edge_index=result.edge_index, row_start=result.row_start, edge_attr=features,
                         edge_feature_names=np.array(EDGE_FEATURE_NAMES), r_max=r_max)


@command.command()
@click.argument("path", type=click.Path(exists=True), required=False)
@click.option("--format", "fmt", type=_FORMATS, default=None, help="Catalogue format (guessed from the name).")
@click.option("--radius", type=float, default=20.0, show_default=True, help="Radius of the neighbour mass sum e_i, Mpc/h.")
@click.option("--delta-max", type=float, default=1.0, show_default=True,
              help="Fit on halos with delta <= this value; the rest are reported as out of distribution.")
@click.option("--test-fraction", type=float, default=0.2, show_default=True, help="Held-out share of in-distribution halos.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the train/test split.")
def baselines(path: str | None, fmt: str | None, radius: float, delta_max: float, test_fraction: float, seed: int) -> None:
    """Fit the constant and simple estimators of delta and print their errors (shipped catalogue by default)."""
    import numpy as np

    from symdistill.halos import fit_baselines, shipped_catalog_path, split_halos

    catalog = _load(path or shipped_catalog_path(), fmt, None)
    if catalog.delta is None:
        raise click.ClickException(f"{path} has no delta column; simulate the catalogue or add the overdensity")
    try:
        split = split_halos(catalog.delta, delta_max=delta_max, test_fraction=test_fraction, seed=seed)
        results = fit_baselines(catalog, split.train, split.test, radius=radius, ood=split.ood)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps({"split": split.to_dict(), "baselines": results,
                           "delta_mean_abs": float(np.mean(np.abs(catalog.delta)))}, indent=2))


@command.command()
@click.argument("source", type=click.Path(exists=True))
@click.argument("destination", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=_FORMATS, default=None, help="Source format (guessed from the name).")
@click.option("--box", "box_size", type=float, default=None, help="Box edge in Mpc/h, if the source lacks it.")
@click.option("--redshift", type=float, default=None, help="Snapshot redshift (FoF files do not store it; default 0).")
def convert(source: str, destination: str, fmt: str | None, box_size: float | None, redshift: float | None) -> None:
    """Convert a catalogue (FoF, Rockstar, table) to an npz, CSV or HDF5 table."""
    from symdistill.halos import write_table

    catalog = _load(source, fmt, box_size, redshift)
    try:
        write_table(catalog, destination)
    except (ValueError, ImportError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {catalog.n_halos} halos to {destination}")


def _load(path: str, fmt: str | None, box_size: float | None, redshift: float | None = None):
    from symdistill.halos import load_catalog

    options = {}
    if box_size is not None:
        options["box_size"] = box_size
    if redshift is not None:
        options["redshift"] = redshift
    try:
        return load_catalog(path, format=fmt, **options)
    except (ValueError, FileNotFoundError, ImportError, OSError) as error:
        raise click.ClickException(str(error)) from None
