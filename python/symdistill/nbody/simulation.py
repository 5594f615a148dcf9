"""Simulate many trajectories of an N-body system in parallel."""

from __future__ import annotations

import logging
import numbers
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from typing import Callable, Literal

import numpy as np

from symdistill.nbody.dataset import NBodyDataset
from symdistill.nbody.initial import UNUSED_CHARGE_MODES, UnusedCharge, initial_states
from symdistill.nbody.systems import CUSTOM, System, get_system
from symdistill.nbody.validation import check_positive_float, check_positive_int, check_states

logger = logging.getLogger(__name__)

OnTruncation = Literal["warn", "raise", "drop"]
TRUNCATION_MODES = ("warn", "raise", "drop")
# Each reason follows a count of simulations, and its fix follows the reasons.
_STATUS_REASONS = {
    1: ("needed more than max_steps step attempts between two output times", "raise max_steps or loosen rtol/atol"),
    2: ("saw the step size fall below the floating-point resolution", "increase softening or loosen rtol/atol"),
    3: ("produced non-finite accelerations", "check that the force is defined at every distance "
        "(a potential such as sqrt(r - 5) is not), or increase softening"),
}
# Maximum simulations per kernel call; the progress bar advances once per call.
_CHUNK = 256


class TruncationError(RuntimeError):
    """Raised by ``simulate(..., on_truncation="raise")`` when a simulation stops early."""


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of one ``simulate`` run (see ``simulate`` for each field)."""

    system: str | None = None
    dim: int = 2
    n_bodies: int = 4
    n_sims: int = 1000
    n_steps: int = 500
    dt: float | None = None
    seed: int = 0
    potential: str | None = None
    softening: float = 0.01
    damping: str = "uniform"
    rtol: float = 1e-8
    atol: float = 1e-8
    max_steps: int = 10_000
    on_truncation: OnTruncation = "warn"
    unused_charge: UnusedCharge = "zero"

    def __post_init__(self) -> None:
        check_positive_int(self.n_bodies, "n_bodies", minimum=2)
        check_positive_int(self.n_sims, "n_sims")
        check_positive_int(self.n_steps, "n_steps", minimum=2)
        check_positive_int(self.max_steps, "max_steps")
        if self.dt is not None:
            check_positive_float(self.dt, "dt")
        check_positive_float(self.rtol, "rtol")
        check_positive_float(self.atol, "atol")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.on_truncation not in TRUNCATION_MODES:
            raise ValueError(
                f"unknown on_truncation {self.on_truncation!r}; choose one of {', '.join(TRUNCATION_MODES)}"
            )
        if self.unused_charge not in UNUSED_CHARGE_MODES:
            raise ValueError(
                f"unknown unused_charge {self.unused_charge!r}; choose one of {', '.join(UNUSED_CHARGE_MODES)}"
            )
        self.build_system()  # checks system, potential, dim, softening and damping

    def build_system(self) -> System:
        """Return the configured ``System``."""
        name = None if (self.potential is not None and self.system in (None, CUSTOM)) else self.system
        return get_system(
            name, potential=self.potential, dim=self.dim, softening=self.softening, damping=self.damping
        )


def simulate(
    system: str | None = None,
    dim: int = 2,
    n_bodies: int = 4,
    n_sims: int = 1000,
    n_steps: int = 500,
    dt: float | None = None,
    seed: int = 0,
    *,
    potential: str | None = None,
    softening: float = 0.01,
    damping: str = "uniform",
    rtol: float = 1e-8,
    atol: float = 1e-8,
    max_steps: int = 10_000,
    on_truncation: OnTruncation = "warn",
    unused_charge: UnusedCharge = "zero",
    initial: np.ndarray | None = None,
    n_threads: int | None = None,
) -> NBodyDataset:
    """Simulate ``n_sims`` independent trajectories of an N-body system.

    Integration runs in float64 with an adaptive Dormand-Prince 5(4) method, in
    parallel over simulations (threads running a Numba kernel that releases the GIL),
    and stores the state every ``dt``.

    Parameters
    ----------
    system : str or None
        A name from ``SYSTEMS``; None (or ``"custom"``) when ``potential`` is given.
    dim : int
        Spatial dimension, 2 or 3.
    n_bodies : int
        Bodies per simulation, at least 2.
    n_sims : int
        Number of simulations.
    n_steps : int
        Number of stored time points per simulation, at times ``0, dt, ..., (n_steps-1)*dt``.
        (The authors' code stores ``linspace(0, dt*n, n)``, a spacing of ``dt*n/(n-1)``.)
    dt : float, optional
        Output time step. The default is the step the authors used for the system
        (``DEFAULT_DT``): spring 0.01, r1 0.005, r2 0.001, charge 0.001, damped 0.02,
        discontinuous 0.01, custom 0.01. The integrator picks its own internal steps
        and interpolates the stored states, so ``dt=0.05`` gives the trajectories of
        ``dt=0.01`` thinned to every 5th point (as the authors' notebook does) at a
        fifth of the memory.
    seed : int
        Seed of the initial conditions; the same seed gives the same dataset. Use a
        new seed for test data.
    potential : str, optional
        Pair potential of a custom system in ``r, m1, m2, q1, q2``, e.g. ``"q1*q2*exp(-r)/r"``.
    softening : float
        Length added to every pair distance (additive, as in the authors' code).
    damping : {"uniform", "reference"}
        Damping convention of the ``damped`` system (see ``System``).
    rtol, atol : float
        Relative and absolute tolerance of the local error per step.
    max_steps : int
        Maximum step attempts (accepted or rejected) between two output times.
    on_truncation : {"warn", "raise", "drop"}
        What happens to a simulation that stops early because of the step limit, a
        step size underflow or non-finite accelerations. ``"warn"`` keeps it with
        ``truncated=True`` and NaN states after the stop, and issues a
        ``RuntimeWarning``. ``"raise"`` raises ``TruncationError``. ``"drop"`` removes
        it from the dataset and warns.
    unused_charge : {"zero", "noise"}
        Charge column of systems whose potential ignores charge: 0, or the N(0, 1)
        noise of the authors' code.
    initial : ndarray, optional
        Initial states [S, N, 2*dim + 2] to use instead of random ones; ``n_sims``,
        ``n_bodies``, ``seed`` and ``unused_charge`` are then ignored.
    n_threads : int, optional
        Threads that integrate simulations in parallel; by default Numba's thread
        count (``NUMBA_NUM_THREADS``, all cores unless set). The result does not
        depend on it.

    Returns
    -------
    NBodyDataset
        ``states`` [S, n_steps, N, 2*dim + 2] and ``accelerations`` [S, n_steps, N, dim].
    """
    if initial is not None:
        initial = check_states(initial, dim, "initial states")
        if initial.ndim != 3:
            raise ValueError(f"initial states must have shape [sims, bodies, {2 * dim + 2}], got {initial.shape}")
        n_sims, n_bodies = initial.shape[:2]
    config = SimulationConfig(
        system=system, dim=dim, n_bodies=n_bodies, n_sims=n_sims, n_steps=n_steps, dt=dt, seed=seed,
        potential=potential, softening=softening, damping=damping, rtol=rtol, atol=atol,
        max_steps=max_steps, on_truncation=on_truncation, unused_charge=unused_charge,
    )  # fmt: skip
    dataset, status = _integrate(config, initial, n_threads)
    return _handle_truncation(dataset, status, config.on_truncation)


def simulate_config(
    config: SimulationConfig, *, initial: np.ndarray | None = None, n_threads: int | None = None
) -> NBodyDataset:
    """Run ``simulate`` with the settings of ``config`` (see ``simulate`` for the other arguments)."""
    dataset, status = _integrate(config, initial, n_threads)
    return _handle_truncation(dataset, status, config.on_truncation)


def _integrate(
    config: SimulationConfig, initial: np.ndarray | None, n_threads: int | None
) -> tuple[NBodyDataset, np.ndarray]:
    from symdistill._progress import progress

    system = config.build_system()
    if n_threads is None:
        import numba

        n_threads = numba.get_num_threads()
    n_threads = check_positive_int(n_threads, "n_threads")
    dt = system.default_dt if config.dt is None else float(config.dt)
    random_start = initial is None
    if initial is None:
        initial = initial_states(system, config.n_bodies, config.n_sims, config.seed, config.unused_charge)
    else:
        initial = np.ascontiguousarray(check_states(initial, config.dim, "initial states"))
    n_sims, n_bodies = initial.shape[:2]
    times = dt * np.arange(config.n_steps, dtype=np.float64)
    gamma = system.damping_coefficients(n_bodies)
    kernels = system.kernels

    states = np.empty((n_sims, config.n_steps, n_bodies, system.n_features))
    accelerations = np.empty((n_sims, config.n_steps, n_bodies, system.dim))
    status = np.zeros(n_sims, dtype=np.int64)
    steps_taken = np.zeros(n_sims, dtype=np.int64)
    logger.info(
        "simulating %d %s system(s) in %dD with %d bodies for %d time points (dt=%g)",
        n_sims, system.name, system.dim, n_bodies, config.n_steps, dt,
    )  # fmt: skip

    def integrate_slice(start: int, stop: int) -> None:
        part = slice(start, stop)
        kernels.integrate(
            system.law, initial[part], gamma, system.softening, times, config.rtol, config.atol, config.max_steps,
            states[part], accelerations[part], status[part], steps_taken[part],
        )  # fmt: skip

    with progress(total=n_sims, desc="simulate", unit="sim") as bar:
        _run_threads(n_threads, n_sims, integrate_slice, bar.update)

    metadata = dict(asdict(config), system=system.name, dt=dt, n_sims=n_sims, n_bodies=n_bodies)
    metadata["initial_states"] = "random" if random_start else "given"
    metadata.update(
        version=_package_version(),
        integrator="dopri5",
        mean_steps_per_simulation=float(steps_taken.mean()),
        max_steps_per_simulation=int(steps_taken.max()),
    )
    return NBodyDataset(states, accelerations, times, status != 0, metadata), status


def _run_threads(n_threads: int, n_sims: int, work: Callable[[int, int], None], done: Callable[[int], None]) -> None:
    # The kernel releases the GIL, so threads integrate disjoint slices in parallel.
    # Simulations differ in cost (close encounters), so small slices keep threads busy.
    # A prange kernel would do the same, but Numba compiles the integrator a second
    # time inside a parallel region, which doubles the first-use compile time.
    chunk = max(1, min(_CHUNK, n_sims // (8 * n_threads)))
    bounds = [(start, min(start + chunk, n_sims)) for start in range(0, n_sims, chunk)]
    if n_threads == 1:
        for start, stop in bounds:
            work(start, stop)
            done(stop - start)
        return
    with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="symdistill-nbody") as pool:
        futures = {pool.submit(work, start, stop): stop - start for start, stop in bounds}
        try:
            for future in as_completed(futures):
                future.result()
                done(futures[future])
        except BaseException:
            # On an error or Ctrl-C, wait only for the slices already running.
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _handle_truncation(dataset: NBodyDataset, status: np.ndarray, mode: str) -> NBodyDataset:
    # Called directly by the public functions, so stacklevel 3 names the user's call.
    failed = np.flatnonzero(status)
    if failed.size == 0:
        return dataset
    found = [code for code in _STATUS_REASONS if np.any(status == code)]
    reasons = "; ".join(f"{int(np.sum(status == code))} {_STATUS_REASONS[code][0]}" for code in found)
    fixes = "; ".join(_STATUS_REASONS[code][1] for code in found)
    message = (
        f"{failed.size} of {status.size} simulation(s) stopped early (first: simulation {int(failed[0])}): "
        f"{reasons}. To fix: {fixes}"
    )
    if mode == "raise":
        raise TruncationError(message)
    if mode == "drop":
        if failed.size == status.size:
            raise TruncationError(message + "; no simulation is left to keep")
        message += "; they were dropped from the dataset"
        dataset = dataset.drop_truncated()
        dataset.metadata.update(n_sims=dataset.n_sims, dropped_simulations=int(failed.size))
    else:
        message += ("; their states after the stop are NaN. To leave them out, pass on_truncation='drop' "
                    "(CLI: --on-truncation drop) or call dataset.drop_truncated() afterwards")
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    return dataset


def _package_version() -> str:
    import symdistill

    return symdistill.__version__

