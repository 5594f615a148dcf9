"""Friends-of-friends grouping and overdensity measurement on synthetic particles."""

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from symdistill.halos import friends_of_friends, overdensity


def clumpy_particles(seed=0, box=100.0, n_background=3000):
    """Uniform background plus three tight clumps, one straddling a box corner."""
    rng = np.random.default_rng(seed)
    centres = np.array([[30.0, 40.0, 50.0], [70.0, 20.0, 80.0], [0.1, 99.9, 0.2]])
    sizes = [200, 60, 120]
    clumps = [np.mod(c + rng.normal(0, 0.3, (size, 3)), box) for c, size in zip(centres, sizes)]
    positions = np.vstack([rng.uniform(0, box, (n_background, 3))] + clumps)
    velocities = np.zeros_like(positions)
    start = n_background
    for value, size in zip((100.0, -50.0, 7.0), sizes):
        velocities[start : start + size, 0] = value
        start += size
    return positions, velocities, centres, sizes


def brute_force_labels(positions, box, linking_length):
    separation = positions[:, None] - positions[None]
    separation -= box * np.round(separation / box)
    adjacency = np.sum(separation**2, axis=-1) <= linking_length**2
    return connected_components(adjacency, directed=False)[1]


def test_fof_finds_clumps_across_boundaries():
    positions, velocities, centres, sizes = clumpy_particles()
    groups = friends_of_friends(positions, velocities, 100.0, b=0.2, min_members=20)
    assert groups.n_members.tolist() == sorted(sizes, reverse=True)
    order = np.argsort(sizes)[::-1]
    for halo, clump in enumerate(order):
        offset = groups.positions[halo] - centres[clump]
        offset -= 100.0 * np.round(offset / 100.0)
        assert np.linalg.norm(offset) < 0.2
    np.testing.assert_allclose(groups.velocities[:, 0], [100.0, 7.0, -50.0])
    assert np.all(groups.positions >= 0)
    assert np.all(groups.positions < 100.0)


def test_fof_chunked_equals_single_pass():
    positions, velocities, _, _ = clumpy_particles(seed=1)
    single = friends_of_friends(positions, velocities, 100.0, min_members=5, n_chunks=1)
    chunked = friends_of_friends(positions, velocities, 100.0, min_members=5, n_chunks=4)
    np.testing.assert_array_equal(single.labels, chunked.labels)
    np.testing.assert_allclose(single.positions, chunked.positions)


def test_fof_matches_brute_force_components():
    rng = np.random.default_rng(5)
    positions = rng.uniform(0, 20.0, (800, 3))
    groups = friends_of_friends(positions, np.zeros_like(positions), 20.0, b=0.5, min_members=1)
    reference = brute_force_labels(positions, 20.0, groups.linking_length)
    # Same partition: a one-to-one map between labels.
    pairs = set(zip(groups.labels.tolist(), reference.tolist()))
    assert len(pairs) == len(set(reference.tolist())) == len(set(groups.labels.tolist()))


def test_fof_rejects_bad_options():
    positions = np.zeros((10, 3))
    with pytest.raises(ValueError, match="b must be"):
        friends_of_friends(positions, positions, 10.0, b=2.0)
    with pytest.raises(ValueError, match="shape"):
        friends_of_friends(positions, np.zeros((9, 3)), 10.0)


def test_tophat_overdensity_of_uniform_lattice_is_zero():
    grid = (np.arange(40) + 0.5) * 2.5
    lattice = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), axis=-1).reshape(-1, 3)
    centres = np.random.default_rng(0).uniform(0, 100, (20, 3))
    delta = overdensity(lattice, centres, 100.0, radius=20.0)
    np.testing.assert_allclose(delta, 0.0, atol=0.02)


def test_tophat_overdensity_counts_cluster():
    rng = np.random.default_rng(1)
    background = rng.uniform(0, 100, (10000, 3))
    cluster = np.mod(np.array([1.0, 1.0, 1.0]) + rng.normal(0, 0.5, (500, 3)), 100.0)
    particles = np.vstack([background, cluster])
    delta = overdensity(particles, np.array([[1.0, 1.0, 1.0]]), 100.0, radius=10.0)[0]
    mean_count = particles.shape[0] * (4 / 3) * np.pi * 1e3 / 1e6
    inside = np.sum(np.linalg.norm((background - 1.0 + 50) % 100 - 50, axis=1) <= 10.0) + 500
    assert delta == pytest.approx(inside / mean_count - 1, rel=1e-12)


def test_gaussian_overdensity_tracks_tophat():
    rng = np.random.default_rng(2)
    particles = np.mod(rng.uniform(0, 100, (20000, 3)) * [1, 1, 1], 100.0)
    particles = np.vstack([particles, np.mod(50 + rng.normal(0, 3, (4000, 3)), 100.0)])
    centres = np.array([[50.0, 50.0, 50.0], [10.0, 10.0, 10.0]])
    gaussian = overdensity(particles, centres, 100.0, radius=5.0, kernel="gaussian")
    assert gaussian[0] > 5 * max(abs(gaussian[1]), 0.2)


def test_overdensity_rejects_bad_kernel_and_radius():
    particles = np.zeros((5, 3))
    with pytest.raises(ValueError, match="kernel"):
        overdensity(particles, particles, 10.0, radius=1.0, kernel="box")
    with pytest.raises(ValueError, match="radius"):
        overdensity(particles, particles, 10.0, radius=6.0)
