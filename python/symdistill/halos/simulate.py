"""Make halo catalogues: a particle-mesh N-body run with pysco, FoF halos, overdensities.

The pipeline is :func:`simulate_catalog`: write a linear power spectrum, run pysco
(``pip install symdistill[cosmo]``) in a subprocess from 2LPT initial conditions to the
target redshift, find friends-of-friends halos, and measure the smoothed overdensity of
all particles at every halo centre. The PM mesh equals the particle grid (pysco's
``ncoarse = log2(n_particles_1d)``), so the particle count per side must be a power of two.
pysco runs in its own process because it reconfigures the root logger and ``sys.path``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from symdistill.halos.catalog import HaloCatalog
from symdistill.halos.linear_power import Cosmology, linear_power

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class HaloSimulationConfig:
    """Settings of one catalogue simulation.

    Parameters
    ----------
    n_particles_1d : int
        Particles per side (a power of two); the PM mesh has the same size.
    box_size : float
        Box edge in Mpc/h. 128 particles in 250 Mpc/h give Quijote's particle mass
        (6.6e11 Msun/h), so the smallest 20-particle halo is 1.3e13 Msun/h.
    redshift : float
        Output redshift.
    z_start : float
        Redshift of the 2LPT initial conditions.
    seed : int
        Seed of the initial Gaussian field.
    omega_m, omega_b, h, n_s, sigma8 : float
        Flat LCDM cosmology; defaults are the Quijote fiducial values.
    linking_length : float
        FoF linking length in units of the mean interparticle spacing.
    min_members : int
        Smallest FoF group kept as a halo.
    overdensity_radius : float
        Smoothing radius of delta in Mpc/h.
    overdensity_kernel : {"tophat", "gaussian"}
    power_spectrum : {"auto", "camb", "eisenstein_hu"}
        Source of the linear power spectrum (``auto``: CAMB when installed).
    courant_factor : float
        pysco's time-step safety factor.
    """

    n_particles_1d: int = 128
    box_size: float = 250.0
    redshift: float = 0.0
    z_start: float = 49.0
    seed: int = 0
    omega_m: float = 0.3175
    omega_b: float = 0.049
    h: float = 0.6711
    n_s: float = 0.9624
    sigma8: float = 0.834
    linking_length: float = 0.2
    min_members: int = 20
    overdensity_radius: float = 20.0
    overdensity_kernel: str = "tophat"
    power_spectrum: str = "auto"
    courant_factor: float = 1.0

    def __post_init__(self) -> None:
        n = self.n_particles_1d
        if n < 8 or n & (n - 1):
            raise ValueError(f"n_particles_1d must be a power of two >= 8 (the PM mesh matches it), got {n}")
        if self.box_size <= 0:
            raise ValueError(f"box_size must be positive (Mpc/h), got {self.box_size}")
        if not 0 <= self.redshift < self.z_start:
            raise ValueError(f"need 0 <= redshift < z_start, got redshift={self.redshift}, z_start={self.z_start}")
        if not 0 < 2 * self.overdensity_radius < self.box_size:
            raise ValueError(
                f"overdensity_radius must be below half the box ({self.box_size / 2:g} Mpc/h), got {self.overdensity_radius}"
            )
        if self.overdensity_kernel not in ("tophat", "gaussian"):
            raise ValueError(f"overdensity_kernel must be 'tophat' or 'gaussian', got {self.overdensity_kernel!r}")
        self.cosmology()  # validates the cosmological parameters

    def cosmology(self) -> Cosmology:
        return Cosmology(omega_m=self.omega_m, omega_b=self.omega_b, h=self.h, n_s=self.n_s, sigma8=self.sigma8)

    @property
    def particle_mass(self) -> float:
        """Mass of one particle in Msun/h."""
        return self.cosmology().mean_matter_density * self.box_size**3 / self.n_particles_1d**3


def simulate_catalog(
    config: HaloSimulationConfig | None = None,
    *,
    work_dir: str | os.PathLike[str] | None = None,
    n_threads: int | None = None,
    timeout_s: float | None = None,
) -> HaloCatalog:
    """Run the N-body simulation and return its FoF halo catalogue with ``delta``.

    Parameters
    ----------
    config : HaloSimulationConfig, optional
    work_dir : path-like, optional
        Folder for pysco's inputs and snapshots (kept); a temporary folder by default
        (removed).
    n_threads : int, optional
        Threads for pysco; all available by default.
    timeout_s : float, optional
        Stop pysco after this many seconds.
    """
    config = config or HaloSimulationConfig()
    started = time.perf_counter()
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="symdistill_pysco_") as tmp:
            positions, velocities = run_pysco(config, tmp, n_threads=n_threads, timeout_s=timeout_s)
    else:
        positions, velocities = run_pysco(config, work_dir, n_threads=n_threads, timeout_s=timeout_s)
    simulated = time.perf_counter()
    catalog = catalog_from_particles(positions, velocities, config)
    finished = time.perf_counter()
    catalog.metadata["timing_s"] = {"nbody": round(simulated - started, 2), "halos": round(finished - simulated, 2)}
    return catalog


def catalog_from_particles(positions: np.ndarray, velocities: np.ndarray, config: HaloSimulationConfig) -> HaloCatalog:
    """Find FoF halos among particles and attach the overdensity at their centres.

    Shapes: positions (n_particles, 3) in Mpc/h; velocities (n_particles, 3) in km/s.
    """
    from symdistill.halos.fof import friends_of_friends
    from symdistill.halos.overdensity import overdensity

    groups = friends_of_friends(
        positions, velocities, config.box_size, b=config.linking_length, min_members=config.min_members
    )
    logger.info("FoF found %d halos with >= %d particles", groups.n_members.size, config.min_members)
    if groups.n_members.size == 0:
        raise RuntimeError(
            f"no FoF group has {config.min_members} particles; use more particles or a smaller box (got "
            f"{config.n_particles_1d}^3 in {config.box_size} Mpc/h)"
        )
    delta = overdensity(
        positions, groups.positions, config.box_size, radius=config.overdensity_radius, kernel=config.overdensity_kernel
    )
    return HaloCatalog(
        positions=groups.positions,
        velocities=groups.velocities,
        masses=groups.n_members * config.particle_mass,
        box_size=config.box_size,
        delta=delta,
        redshift=config.redshift,
        metadata={
            "format": "symdistill-simulated",
            "simulation": dataclasses.asdict(config),
            "particle_mass": config.particle_mass,
            "n_particles": config.n_particles_1d**3,
            "linking_length_mpc_h": groups.linking_length,
            "overdensity": {"kernel": config.overdensity_kernel, "radius_mpc_h": config.overdensity_radius},
            "pysco_version": _pysco_version(),
        },
    )


def run_pysco(
    config: HaloSimulationConfig,
    work_dir: str | os.PathLike[str],
    *,
    n_threads: int | None = None,
    timeout_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run pysco in a subprocess; return final particle positions (Mpc/h) and velocities (km/s).

    Shapes: both returned arrays are (n_particles_1d**3, 3) float32.
    """
    if _pysco_version() is None:
        raise ImportError("halo simulation needs pysco: pip install 'symdistill[cosmo]' (package pysco-nbody)")
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    k, power = linear_power(cosmology=config.cosmology(), method=config.power_spectrum)
    power_file = work / "linear_power.dat"
    np.savetxt(power_file, np.column_stack([k, power]), header="k [h/Mpc]  P(k) [(Mpc/h)^3] at z=0")
    threads = n_threads or os.cpu_count() or 1
    params = _pysco_parameters(config, work, power_file, threads)
    param_file = work / "pysco_param.json"
    param_file.write_text(json.dumps(params, indent=2))

    script = "import json, sys\nfrom pysco import run\nrun(json.load(open(sys.argv[1])))\n"
    environment = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    log_file = work / "pysco.log"
    logger.info("running pysco: %d^3 particles in %g Mpc/h, log %s", config.n_particles_1d, config.box_size, log_file)
    with open(log_file, "w") as log:
        try:
            completed = subprocess.run(
                [sys.executable, "-c", script, str(param_file)], stdout=log, stderr=subprocess.STDOUT,
                env=environment, timeout=timeout_s, check=False,
            )
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"pysco did not finish within {timeout_s} s; see {log_file}") from None
    if completed.returncode != 0:
        tail = log_file.read_text()[-2000:]
        raise RuntimeError(f"pysco failed with exit code {completed.returncode}; end of {log_file}:\n{tail}")
    return _read_final_snapshot(work)


def _pysco_parameters(config: HaloSimulationConfig, work: Path, power_file: Path, threads: int) -> dict[str, Any]:
    return {
        "nthreads": threads,
        "theory": "newton",
        "H0": 100.0 * config.h,
        "Om_m": config.omega_m,
        "T_cmb": 2.7255,
        "N_eff": 3.044,
        "w0": -1.0,
        "wa": 0.0,
        "boxlen": config.box_size,
        "npart": config.n_particles_1d**3,
        "ncoarse": int(math.log2(config.n_particles_1d)),
        "z_start": config.z_start,
        "seed": config.seed,
        "initial_conditions": "2LPT",
        "power_spectrum_file": str(power_file),
        "fixed_ICS": False,
        "paired_ICS": False,
        "dealiased_ICS": False,
        "position_ICS": "center",
        "linear_newton_solver": "fft",
        "gradient_stencil_order": 5,
        "Courant_factor": config.courant_factor,
        "max_aexp_stepping": 10,
        "n_reorder": 50,
        "integrator": "leapfrog",
        "mass_scheme": "TSC",
        "save_power_spectrum": "no",
        "output_snapshot_format": "HDF5",
        "z_out": f"[{config.redshift!r}]",
        "base": str(work),
        "Npre": 2,
        "Npost": 1,
        "epsrel": 1e-2,
        "verbose": 1,
        "evolution_table": False,
    }


def _read_final_snapshot(work: Path) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    snapshots = sorted(work.glob("output_*/particles_*.h5"))
    if len(snapshots) < 2:
        raise RuntimeError(f"pysco wrote no final snapshot in {work}; see {work / 'pysco.log'}")
    with h5py.File(snapshots[-1], "r") as handle:
        attrs = handle.attrs
        box = float(attrs["boxlen"])
        velocity_unit = float(attrs["unit_l"]) / float(attrs["unit_t"])  # box units -> km/s
        positions = handle["position"][()] * np.float32(box)
        velocities = handle["velocity"][()] * np.float32(velocity_unit)
    positions = np.mod(positions, np.float32(box))
    positions[positions >= box] = 0.0
    return positions, velocities


def _pysco_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pysco-nbody")
    except PackageNotFoundError:
        return None
