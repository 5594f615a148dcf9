"""simulate(): accuracy, conservation laws, determinism, truncation and bad input."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from symdistill.nbody import SYSTEMS, TruncationError, get_system, simulate

CONSERVATIVE = [(name, None) for name in SYSTEMS if name != "damped"] + [(None, "q1*q2*exp(-r)/r")]


def _total_momentum(states, dim):
    return np.sum(states[..., -1:] * states[..., dim : 2 * dim], axis=-2)


def test_matches_scipy_dop853():
    data = simulate("r2", dim=2, n_bodies=3, n_sims=2, n_steps=11, dt=0.02, seed=3, rtol=1e-10, atol=1e-10)
    system = data.get_system()
    for sim in range(2):
        start = data.states[sim, 0]

        def derivative(t, y):
            states = start.copy()
            states[:, :4] = y.reshape(3, 4)
            return np.concatenate([states[:, 2:4], system.accelerations(states)], axis=1).ravel()

        reference = solve_ivp(
            derivative, (0, data.times[-1]), start[:, :4].ravel(), method="DOP853", t_eval=data.times, rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(data.states[sim, :, :, :4], reference.y.T.reshape(-1, 3, 4), rtol=1e-7, atol=1e-7)


def test_dense_output_coefficients_match_scipy():
    from scipy.integrate._ivp.rk import RK45

    kernels = get_system("spring").kernels
    np.testing.assert_allclose(kernels.P, RK45.P, rtol=1e-15)
    np.testing.assert_allclose(kernels.E, -RK45.E, rtol=1e-15)  # scipy stores 4th minus 5th order


def test_shapes_times_and_metadata():
    data = simulate("charge", dim=3, n_bodies=5, n_sims=4, n_steps=7, dt=0.003, seed=2)
    assert data.states.shape == (4, 7, 5, 8)
    assert data.accelerations.shape == (4, 7, 5, 3)
    assert data.states.dtype == np.float64
    np.testing.assert_allclose(data.times, 0.003 * np.arange(7))
    assert (data.system, data.dim, data.n_bodies) == ("charge", 3, 5)
    assert data.truncated.tolist() == [False] * 4
    for key in ("system", "dim", "dt", "softening", "damping", "rtol", "atol", "seed", "version"):
        assert key in data.metadata
    assert set(np.unique(data.states[..., -2])) <= {-1.0, 1.0}
    assert np.all(data.states[..., -1] > 0)
    # Charges and masses never change along a trajectory.
    assert np.all(data.states[:, :, :, -2:] == data.states[:, :1, :, -2:])


def test_stored_accelerations_match_system():
    data = simulate("damped", n_sims=3, n_steps=20, seed=1)
    np.testing.assert_allclose(data.get_system().accelerations(data.states), data.accelerations, rtol=1e-12)


def test_default_dt_per_system():
    assert simulate("r2", n_sims=1, n_steps=2).metadata["dt"] == 1e-3
    assert simulate("damped", n_sims=1, n_steps=2).metadata["dt"] == 2e-2


@pytest.mark.parametrize("name,potential", CONSERVATIVE)
def test_energy_conserved(name, potential):
    data = simulate(name, potential=potential, dim=2, n_bodies=4, n_sims=8, n_steps=100, dt=0.01, seed=4)
    assert not data.truncated.any()
    energy = data.get_system().energy(data.states)
    drift = np.abs(energy - energy[:, :1]) / (1.0 + np.abs(energy[:, :1]))
    # rtol=atol=1e-8 per step; the states between steps come from the 4th-order
    # continuous extension, and a force that jumps costs accuracy where it jumps.
    limit = 1e-4 if name == "discontinuous" else 1e-5
    assert drift.max() < limit


def test_energy_drift_shrinks_with_tolerance():
    drifts = []
    for tolerance in (1e-6, 1e-9):
        data = simulate("r2", n_sims=4, n_steps=50, seed=4, rtol=tolerance, atol=tolerance)
        energy = data.get_system().energy(data.states)
        drifts.append(np.abs(energy - energy[:, :1]).max())
    assert drifts[1] < 1e-2 * drifts[0]


@pytest.mark.parametrize("damping", ["uniform", "reference"])
def test_damped_energy_decreases(damping):
    data = simulate("damped", damping=damping, dim=3, n_sims=8, n_steps=100, seed=5)
    energy = data.get_system().energy(data.states)
    assert np.all(np.diff(energy, axis=1) < 0)
    assert np.all(energy[:, -1] < 0.9 * energy[:, 0])


@pytest.mark.parametrize("name", [name for name in SYSTEMS if name != "damped"])
def test_momentum_conserved(name):
    data = simulate(name, dim=3, n_sims=8, n_steps=50, seed=6)
    momentum = _total_momentum(data.states, 3)
    np.testing.assert_allclose(momentum, np.broadcast_to(momentum[:, :1], momentum.shape), atol=1e-7)


def test_damped_reference_mode_leaves_last_body_undamped():
    data = simulate("damped", damping="reference", n_sims=2, n_steps=3, seed=0)
    system = data.get_system()
    states = data.states[:, 0]
    undamped = get_system("spring").accelerations(states)
    np.testing.assert_allclose(data.accelerations[:, 0, -1], undamped[:, -1])
    assert not np.allclose(data.accelerations[:, 0, 0], undamped[:, 0])
    assert system.damping == "reference"


def test_same_seed_same_data_and_prefix_stable():
    first = simulate("spring", n_sims=6, n_steps=30, seed=11, n_threads=2)
    second = simulate("spring", n_sims=6, n_steps=30, seed=11, n_threads=1)
    fewer = simulate("spring", n_sims=3, n_steps=30, seed=11)
    other = simulate("spring", n_sims=6, n_steps=30, seed=12)
    assert np.array_equal(first.states, second.states)
    assert np.array_equal(first.accelerations, second.accelerations)
    assert np.array_equal(first.states[:3], fewer.states)
    assert not np.allclose(first.states[:, 0], other.states[:, 0])


def test_unused_charge_modes():
    assert np.all(simulate("spring", n_sims=2, n_steps=2).states[..., -2] == 0)
    noise = simulate("spring", n_sims=50, n_steps=2, unused_charge="noise").states[:, 0, :, -2]
    assert 0.5 < noise.std() < 1.5


def test_initial_states_are_used():
    initial = np.array([[[0.0, 0.0, 0.0, 0.0, 0.0, 1.0], [2.0, 0.0, 0.0, 0.0, 0.0, 1.0]]])
    data = simulate("spring", initial=initial, n_steps=5)
    np.testing.assert_array_equal(data.states[:, 0], initial)
    # The spring pulls the bodies together symmetrically.
    assert np.all(np.diff(data.states[0, :, 1, 0]) < 0)
    np.testing.assert_allclose(data.states[0, :, 0, 0], 2.0 - data.states[0, :, 1, 0], atol=1e-12)


def test_truncation_is_marked_and_warned():
    with pytest.warns(RuntimeWarning, match="stopped early") as caught:
        data = simulate("spring", n_sims=3, n_steps=20, dt=0.1, max_steps=1)
    assert "--on-truncation drop" in str(caught[0].message)
    assert "drop_truncated()" in str(caught[0].message)
    assert data.truncated.all()
    assert np.isnan(data.states[:, -1]).all()
    assert np.isnan(data.accelerations[:, -1]).all()
    assert np.isfinite(data.states[:, 0]).all()


def test_truncation_raise_and_drop():
    initial = np.array(
        [
            [[0.0, 0.0, 0.0, 0.0, 0.0, 1.0], [2.0, 0.0, 0.0, 0.0, 0.0, 1.0]],
            [[0.0, 0.0, 0.0, 0.0, 0.0, 1.0], [1e-3, 0.0, 0.0, 0.0, 0.0, 1e3]],
        ]
    )
    kwargs = dict(initial=initial, n_steps=20, dt=0.05, softening=0.0, max_steps=50)
    with pytest.raises(TruncationError, match="1 of 2 simulation"):
        simulate("r2", on_truncation="raise", **kwargs)
    with pytest.warns(RuntimeWarning, match="dropped"):
        data = simulate("r2", on_truncation="drop", **kwargs)
    assert data.n_sims == 1
    assert not data.truncated.any()
    np.testing.assert_array_equal(data.states[0, 0], initial[0])


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"system": "gravity"}, ValueError, "unknown system 'gravity'"),
        ({"dim": 1}, ValueError, "dim must be 2 or 3, got 1"),
        ({"n_bodies": 1}, ValueError, "n_bodies must be at least 2, got 1"),
        ({"n_sims": 0}, ValueError, "n_sims must be at least 1, got 0"),
        ({"n_steps": 0}, ValueError, "n_steps must be at least 2, got 0"),
        ({"n_steps": 10.5}, TypeError, "n_steps must be an integer"),
        ({"dt": 0.0}, ValueError, "dt must be a finite number > 0, got 0.0"),
        ({"dt": -0.01}, ValueError, "dt must be a finite number > 0"),
        ({"dt": float("inf")}, ValueError, "dt must be a finite number > 0"),
        ({"rtol": 0}, ValueError, "rtol must be a finite number > 0"),
        ({"max_steps": 0}, ValueError, "max_steps must be at least 1"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
        ({"on_truncation": "ignore"}, ValueError, "unknown on_truncation 'ignore'"),
        ({"unused_charge": "one"}, ValueError, "unknown unused_charge 'one'"),
        ({"system": None}, ValueError, "give a system name"),
        ({"potential": "exp(-r)", "system": "spring"}, ValueError, "not both"),
        ({"n_threads": 0}, ValueError, "n_threads must be at least 1"),
    ],
)
def test_simulate_rejects_bad_input(kwargs, error, match):
    arguments = dict(system="spring", n_sims=2, n_steps=3)
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        simulate(**arguments)


@pytest.mark.parametrize(
    "initial,match",
    [
        (np.full((2, 3, 6), np.nan), "non-finite value at index"),
        (np.ones((2, 3, 8)), r"shape \[\.\.\., N, 6\]"),
        (np.ones((3, 6)), r"shape \[sims, bodies, 6\]"),
        (np.zeros((2, 3, 6)), "non-positive mass"),
        (np.ones((2, 1, 6)), "n_bodies must be at least 2"),
    ],
)
def test_simulate_rejects_bad_initial_states(initial, match):
    with pytest.raises(ValueError, match=match):
        simulate("spring", initial=initial, n_steps=3)


def test_simulate_config_from_dict():
    from symdistill.config import from_dict
    from symdistill.nbody import SimulationConfig, simulate_config

    config = from_dict(SimulationConfig, {"system": "r1", "dim": 3, "n_sims": 2, "n_steps": 4}, section="simulate")
    data = simulate_config(config)
    assert data.states.shape == (2, 4, 4, 8)
    assert data.metadata["dt"] == 5e-3
    assert data.metadata["initial_states"] == "random"
    with pytest.raises(ValueError, match="n_bodys"):
        from_dict(SimulationConfig, {"n_bodys": 3}, section="simulate")


def test_non_finite_accelerations_stop_simulation():
    # At a distance of 1e-160 without softening, 1/r^2 overflows to infinity.
    initial = np.array(
        [
            [[0.0, 0.0, 0.0, 0.0, 0.0, 1.0], [1e-160, 0.0, 0.0, 0.0, 0.0, 1.0]],
            [[0.0, 0.0, 0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]],
        ]
    )
    with pytest.warns(RuntimeWarning, match="1 produced non-finite accelerations"):
        data = simulate("r2", initial=initial, n_steps=4, softening=0.0)
    assert data.truncated.tolist() == [True, False]
    assert np.isnan(data.states[0, 1:]).all()
    assert np.isfinite(data.states[1]).all()


def test_coarser_dt_equals_thinned_output():
    fine = simulate("spring", n_sims=4, n_steps=21, dt=0.01, seed=8)
    coarse = simulate("spring", n_sims=4, n_steps=5, dt=0.05, seed=8)
    np.testing.assert_allclose(coarse.states, fine.states[:, ::5], atol=1e-7)
