"""``symdistill simulate``: simulate an N-body system and save the dataset as .npz."""

from __future__ import annotations

import warnings

import click

from symdistill.nbody.systems import DAMPING_MODES, SYSTEMS

_SYSTEM_HELP = (
    f"Built-in system: {', '.join(SYSTEMS)}. Leave it out when giving --potential. [default: spring]"
)


@click.command(name="simulate")
@click.option("--system", "system", type=click.Choice(SYSTEMS), default=None, help=_SYSTEM_HELP)
@click.option(
    "--potential",
    default=None,
    help="Custom pair potential in r (softened distance), m1, m2, q1, q2, "
    "for example 'q1*q2*exp(-r)/r'. Forces are derived symbolically.",
)
@click.option("--dim", type=click.IntRange(2, 3), default=2, show_default=True, help="Spatial dimension.")
@click.option("--bodies", type=click.IntRange(min=2), default=4, show_default=True, help="Bodies per simulation.")
@click.option("--sims", type=click.IntRange(min=1), default=1000, show_default=True, help="Number of simulations.")
@click.option(
    "--steps",
    type=click.IntRange(min=2),
    default=500,
    show_default=True,
    help="Stored time points per simulation, at times 0, dt, ..., (steps-1)*dt.",
)
@click.option(
    "--dt",
    type=float,
    default=None,
    help="Time between stored points. [default: per system: spring 0.01, r1 0.005, r2 0.001, "
    "charge 0.001, damped 0.02, discontinuous 0.01, custom 0.01]",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the initial conditions.")
@click.option(
    "--softening", type=float, default=0.01, show_default=True, help="Length added to every pair distance."
)
@click.option(
    "--damping",
    type=click.Choice(DAMPING_MODES),
    default="uniform",
    show_default=True,
    help="Damping of the damped system: the same for every body, or the authors' body-order-dependent one.",
)
@click.option("--rtol", type=float, default=1e-8, show_default=True, help="Relative tolerance per step.")
@click.option("--atol", type=float, default=1e-8, show_default=True, help="Absolute tolerance per step.")
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Maximum integrator step attempts between two stored points.",
)
@click.option(
    "--on-truncation",
    type=click.Choice(["warn", "raise", "drop"]),
    default="warn",
    show_default=True,
    help="A simulation that stops early is kept with NaN states and a warning, is an error, or is dropped.",
)
@click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="Worker threads. [default: all cores]"
)
@click.option("--compress", is_flag=True, help="Compress the .npz file (smaller, slower to write and read).")
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, writable=True), required=True, help="Output .npz file."
)
def command(
    system, potential, dim, bodies, sims, steps, dt, seed, softening, damping, rtol, atol, max_steps,
    on_truncation, threads, compress, out,
) -> None:  # fmt: skip
    """Simulate an N-body system and save states and accelerations to an .npz file.

    The file contains arrays states [sims, steps, bodies, 2*dim+2] with columns
    [position, velocity, charge, mass], accelerations [sims, steps, bodies, dim],
    times [steps], truncated [sims] and metadata (a JSON string). Load it with
    symdistill.nbody.load(path) or numpy.load(path).

    Example: symdistill simulate --system spring --dim 2 --bodies 4 --sims 1000
    --steps 500 --seed 0 --out spring2d.npz
    """
    from symdistill.nbody import TruncationError, simulate

    if system is None and potential is None:
        system = "spring"
    if system is not None and potential is not None:
        raise click.UsageError(f"give either --system or --potential, not both (got --system {system})")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            dataset = simulate(
                system, dim=dim, n_bodies=bodies, n_sims=sims, n_steps=steps, dt=dt, seed=seed,
                potential=potential, softening=softening, damping=damping, rtol=rtol, atol=atol,
                max_steps=max_steps, on_truncation=on_truncation, n_threads=threads,
            )  # fmt: skip
    except (ValueError, TypeError, TruncationError) as error:
        raise click.ClickException(str(error)) from None
    for warning in caught:
        click.echo(f"Warning: {warning.message}", err=True)
    dataset.save(out, compress=compress)
    n_truncated = int(dataset.truncated.sum())
    click.echo(
        f"wrote {dataset.n_sims} {dataset.system} simulation(s) x {dataset.n_times} time points "
        f"({dataset.n_bodies} bodies, {dataset.dim}D, dt={dataset.metadata['dt']:g}) to {out}"
        + (f"; {n_truncated} truncated" if n_truncated else "")
    )
