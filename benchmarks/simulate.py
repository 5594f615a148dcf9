"""Simulation throughput of symdistill.nbody against JAX ``odeint`` vmapped over simulations.

Both sides integrate the same 2-D spring system (pair potential (r - 1)^2 with
r = |x1 - x2| + 0.01) from the same initial states to the same output times, in float64,
with the same adaptive Dormand-Prince 5(4) method and tolerance (rtol = atol = 1e-8
unless given). The peer is the authors' approach made as fast as JAX allows:
``jax.experimental.ode.odeint`` with analytic accelerations, ``jax.vmap`` over
simulations and ``jax.jit``, compiled ahead of time so compilation is not timed.
symdistill is timed through its public ``simulate`` function with a warm kernel cache,
so its figure includes allocating the outputs and computing the stored accelerations
(which the peer does not compute).

Throughput is body-steps per second: simulations x output times x bodies / seconds.

Run: ``python benchmarks/simulate.py [--quick] [--threads 2] [--repeats 3]``. The full
size is 10,000 simulations x 500 output times of 4 bodies; ``--quick`` runs 1,000 x 100.
Needs ``pip install jax`` (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Run 1,000 simulations x 100 output times.")
    parser.add_argument("--sims", type=int, default=None, help="Simulations (default 10,000, quick 1,000).")
    parser.add_argument("--steps", type=int, default=None, help="Output times (default 500, quick 100).")
    parser.add_argument("--bodies", type=int, default=4, help="Bodies per simulation.")
    parser.add_argument("--dt", type=float, default=0.01, help="Time between outputs.")
    parser.add_argument("--tol", type=float, default=1e-8, help="rtol and atol of both integrators.")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both sides.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed runs per side; the best counts.")
    arguments = parser.parse_args()
    arguments.sims = arguments.sims or (1_000 if arguments.quick else 10_000)
    arguments.steps = arguments.steps or (100 if arguments.quick else 500)
    return arguments


def configure_threads(threads: int) -> None:
    # XLA's CPU client reads these flags when JAX first starts, so set them before importing it.
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + f" --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
    )
    os.environ.setdefault("NUMBA_NUM_THREADS", str(threads))


def jax_simulator(n_bodies: int, dim: int, softening: float, tol: float):
    """Return a jitted function (positions_velocities[S, N, 2*dim], masses[S, N], times[T]) -> [T, S, N, 2*dim]."""
    import jax
    import jax.numpy as jnp
    from jax.experimental.ode import odeint

    jax.config.update("jax_enable_x64", True)
    off_diagonal = ~np.eye(n_bodies, dtype=bool)

    def derivative(y, t, masses):
        positions, velocities = y[:, :dim], y[:, dim:]
        separation = positions[:, None, :] - positions[None, :, :]  # receiver minus sender
        distance = jnp.sqrt(jnp.sum(separation**2, axis=-1) + jnp.where(off_diagonal, 0.0, 1.0))
        radial_force = -2.0 * (distance + softening - 1.0)  # -dU/dr for U = (r - 1)^2
        scale = jnp.where(off_diagonal, radial_force / distance, 0.0)
        forces = jnp.sum(scale[:, :, None] * separation, axis=1)
        return jnp.concatenate([velocities, forces / masses[:, None]], axis=1)

    def one(y0, masses, times):
        return odeint(derivative, y0, times, masses, rtol=tol, atol=tol)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None), out_axes=1))


def best_time(function, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    arguments = parse_arguments()
    configure_threads(arguments.threads)

    from symdistill import nbody

    dim, softening = 2, 0.01
    system = nbody.get_system("spring", dim=dim, softening=softening)
    initial = nbody.initial_states(system, arguments.bodies, arguments.sims, seed=0)
    times = arguments.dt * np.arange(arguments.steps)

    def run_symdistill():
        return nbody.simulate(
            "spring", dim=dim, n_steps=arguments.steps, dt=arguments.dt, softening=softening,
            rtol=arguments.tol, atol=arguments.tol, initial=initial, n_threads=arguments.threads,
        )  # fmt: skip

    start = time.perf_counter()
    nbody.simulate("spring", n_sims=1, n_steps=2, n_threads=1)  # loads or compiles the kernels
    warmup = time.perf_counter() - start
    body_steps = arguments.sims * arguments.steps * arguments.bodies
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), {arguments.threads} thread(s) per side")
    print(
        f"problem: {arguments.sims} simulations x {arguments.steps} output times x {arguments.bodies} bodies, "
        f"2-D spring, dt={arguments.dt}, rtol=atol={arguments.tol:g}, float64"
    )
    ours, dataset = best_time(run_symdistill, arguments.repeats)
    print(f"symdistill: {ours:8.3f} s  {body_steps / ours / 1e6:8.2f} M body-steps/s  (kernel load {warmup:.1f} s)")

    import jax

    simulator = jax_simulator(arguments.bodies, dim, softening, arguments.tol)
    y0 = jax.numpy.asarray(initial[..., : 2 * dim])
    masses = jax.numpy.asarray(initial[..., -1])
    grid = jax.numpy.asarray(times)
    start = time.perf_counter()
    compiled = simulator.lower(y0, masses, grid).compile()
    jax_compile = time.perf_counter() - start
    theirs, trajectory = best_time(lambda: compiled(y0, masses, grid).block_until_ready(), arguments.repeats)
    print(f"JAX odeint: {theirs:8.3f} s  {body_steps / theirs / 1e6:8.2f} M body-steps/s  (compile {jax_compile:.1f} s)")
    print(f"speed-up:   {theirs / ours:8.1f}x", flush=True)

    # Accuracy of both against symdistill at rtol = atol = 1e-12 on the first simulations.
    n_check = min(arguments.sims, 200)
    exact = nbody.simulate(
        "spring", dim=dim, n_steps=arguments.steps, dt=arguments.dt, softening=softening, rtol=1e-12,
        atol=1e-12, initial=initial[:n_check], n_threads=arguments.threads,
    ).states[..., : 2 * dim]  # fmt: skip
    reference = np.moveaxis(np.asarray(trajectory), 0, 1)[:n_check]
    for name, states in (("symdistill", dataset.states[:n_check, ..., : 2 * dim]), ("JAX odeint", reference)):
        error = np.abs(states - exact).max(axis=(1, 2, 3))
        print(
            f"{name} max |error| per simulation vs tol 1e-12 ({n_check} sims): "
            f"median {np.median(error):.1e}, 99th percentile {np.percentile(error, 99):.1e}, max {error.max():.1e}"
        )
    print(f"mean integrator steps per simulation (symdistill): {dataset.metadata['mean_steps_per_simulation']:.0f}")


if __name__ == "__main__":
    main()
