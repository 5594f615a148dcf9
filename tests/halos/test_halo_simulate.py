"""Catalogue simulation: configuration checks, halos from particles, and (slow) a pysco run."""

import importlib.util

import numpy as np
import pytest

from symdistill.halos import HaloSimulationConfig, catalog_from_particles, simulate_catalog


@pytest.mark.parametrize(
    "options, message",
    [
        ({"n_particles_1d": 100}, "power of two"),
        ({"box_size": -1.0}, "box_size"),
        ({"redshift": 60.0}, "z_start"),
        ({"overdensity_radius": 200.0}, "half the box"),
        ({"overdensity_kernel": "box"}, "kernel"),
        ({"omega_b": 0.9}, "omega_b"),
    ],
)
def test_config_rejects_bad_values(options, message):
    with pytest.raises(ValueError, match=message):
        HaloSimulationConfig(**options)


def test_particle_mass_matches_quijote():
    # 512^3 particles in 1 Gpc/h, as in Quijote, equals 128^3 in 250 Mpc/h.
    assert HaloSimulationConfig().particle_mass == pytest.approx(6.56e11, rel=0.01)


def test_catalog_from_particles():
    rng = np.random.default_rng(0)
    config = HaloSimulationConfig(n_particles_1d=16, box_size=100.0, overdensity_radius=10.0, min_members=20)
    background = rng.uniform(0, 100, (16**3 - 300, 3))
    clump = np.mod(np.array([20.0, 30.0, 40.0]) + rng.normal(0, 0.2, (300, 3)), 100.0)
    positions = np.vstack([background, clump])
    velocities = np.zeros_like(positions)
    catalog = catalog_from_particles(positions, velocities, config)
    assert catalog.n_halos == 1
    assert catalog.masses[0] == pytest.approx(300 * config.particle_mass, rel=0.05)
    assert catalog.delta[0] > 5
    assert catalog.metadata["overdensity"] == {"kernel": "tophat", "radius_mpc_h": 10.0}


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("pysco") is None, reason="needs pysco-nbody (extra 'cosmo')")
def test_pysco_run_makes_halos(tmp_path):
    config = HaloSimulationConfig(n_particles_1d=32, box_size=62.5, overdensity_radius=10.0)
    catalog = simulate_catalog(config, work_dir=tmp_path, n_threads=2, timeout_s=1200)
    assert catalog.n_halos > 10
    speed = np.sqrt(np.mean(np.sum(catalog.velocities**2, axis=1)))
    assert 100 < speed < 1500  # peculiar velocities of a few hundred km/s
    assert np.mean(catalog.delta) > 0  # halos sit in overdense regions
