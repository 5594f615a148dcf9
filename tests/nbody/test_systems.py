"""Systems: forces against finite differences of the potential, pair forces, bad input."""

import numpy as np
import pytest
import sympy

from symdistill.nbody import SYSTEMS, get_system, initial_states

CUSTOM_POTENTIALS = ("q1*q2*exp(-r)/r", "m1*m2*(r - 2)**4")
CASES = [(name, None) for name in SYSTEMS] + [(None, text) for text in CUSTOM_POTENTIALS]


def _random_states(system, n_sims=6, n_bodies=4, seed=1):
    states = initial_states(system, n_bodies, n_sims, seed)
    if not system.uses_charge:
        states[..., -2] = np.random.default_rng(seed).choice([-1.0, 1.0], size=states.shape[:-1])
    return states


def _finite_difference_forces(system, states, step=1e-6):
    forces = np.zeros(states.shape[:-1] + (system.dim,))
    for body in range(states.shape[-2]):
        for axis in range(system.dim):
            plus, minus = states.copy(), states.copy()
            plus[..., body, axis] += step
            minus[..., body, axis] -= step
            forces[..., body, axis] = -(system.potential_energy(plus) - system.potential_energy(minus)) / (2 * step)
    return forces


def _pair_distances(states, dim):
    positions = states[..., :dim]
    separation = positions[..., :, None, :] - positions[..., None, :, :]
    return np.linalg.norm(separation, axis=-1)


# Every built-in system and the Yukawa potential in both dimensions; the quartic
# potential only in 2-D, which keeps compilation time down.
GRADIENT_CASES = [(name, potential, dim) for name, potential in CASES[:-1] for dim in (2, 3)] + [(*CASES[-1], 2)]


@pytest.mark.parametrize("name,potential,dim", GRADIENT_CASES)
def test_accelerations_match_potential_gradient(name, potential, dim):
    system = get_system(name, potential=potential, dim=dim)
    states = _random_states(system)
    if name == "discontinuous":
        # The force jumps where the softened distance crosses 2; keep pairs away from it.
        softened = _pair_distances(states, dim) + system.softening
        keep = ~np.any(np.abs(softened - 2.0) < 1e-3, axis=(-1, -2))
        states = states[keep]
        assert len(states) >= 3
    expected = _finite_difference_forces(system, states) / states[..., -1:]
    gamma = system.damping_coefficients(states.shape[-2])
    velocities = states[..., dim : 2 * dim]
    expected -= gamma[:, None] * velocities / states[..., -1:]
    actual = system.accelerations(states)
    assert actual.shape == states.shape[:-1] + (dim,)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,potential", CASES)
def test_accelerations_are_sum_of_pair_forces(name, potential):
    system = get_system(name, potential=potential, dim=3 if potential is None else 2)
    states = _random_states(system, n_sims=3, n_bodies=5)
    n = states.shape[1]
    receivers, senders = np.nonzero(~np.eye(n, dtype=bool))
    for sim in states:
        force = system.pair_force(sim[receivers], sim[senders])
        total = np.zeros((n, system.dim))
        np.add.at(total, receivers, force)
        damping = system.damping_coefficients(n)[:, None] * sim[:, system.dim : 2 * system.dim]
        np.testing.assert_allclose(system.accelerations(sim), (total - damping) / sim[:, -1:], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SYSTEMS)
def test_pair_force_obeys_third_law(name):
    system = get_system(name, dim=2)
    states = _random_states(system, n_sims=20, n_bodies=2).reshape(-1, 2, 6)
    forward = system.pair_force(states[:, 0], states[:, 1])
    backward = system.pair_force(states[:, 1], states[:, 0])
    np.testing.assert_allclose(forward, -backward, rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        system.pair_potential(states[:, 0], states[:, 1]), system.pair_potential(states[:, 1], states[:, 0])
    )


def test_builtin_forces_match_textbook_laws():
    receiver = np.array([[1.5, 0.0, 0.0, 0.0, -1.0, 2.0]])
    sender = np.array([[0.0, 0.0, 0.0, 0.0, 1.0, 3.0]])
    r = 1.5 + 0.01
    expected_x = {
        "spring": -2 * (r - 1),
        "r1": -6.0 / r,
        "r2": -6.0 / r**2,
        "charge": -1.0 / r**2,
        "damped": -2 * (r - 1),
        "discontinuous": 0.0,
    }
    for name, value in expected_x.items():
        force = get_system(name).pair_force(receiver, sender)
        np.testing.assert_allclose(force, [[value, 0.0]], rtol=1e-12, err_msg=name)
    far = receiver.copy()
    far[0, 0] = 3.0
    np.testing.assert_allclose(get_system("discontinuous").pair_force(far, sender), [[-2 * 2.01, 0.0]])


def test_coincident_bodies_exert_no_force():
    body = np.array([[0.5, 0.5, 0.0, 0.0, 1.0, 1.0]])
    assert np.all(get_system("spring").pair_force(body, body) == 0.0)


def test_damping_modes():
    uniform = get_system("damped").damping_coefficients(4)
    reference = get_system("damped", damping="reference").damping_coefficients(4)
    np.testing.assert_allclose(uniform, [0.375] * 4)
    np.testing.assert_allclose(reference, [0.75, 0.5, 0.25, 0.0])
    assert uniform.sum() == pytest.approx(reference.sum())
    assert np.all(get_system("spring", damping="reference").damping_coefficients(4) == 0)


def test_custom_potential_accepts_sympy_expression():
    r, q1, q2 = sympy.symbols("r q1 q2")
    from_expr = get_system(potential=q1 * q2 * sympy.exp(-r) / r)
    from_text = get_system(potential="q1*q2*exp(-r)/r")
    assert sympy.simplify(from_expr.potential_expr - from_text.potential_expr) == 0
    assert from_expr.name == "custom"
    assert from_expr.uses_charge


def test_potential_expr_of_builtin():
    r = sympy.Symbol("r", real=True)
    assert sympy.simplify(get_system("spring").potential_expr - (r - 1) ** 2) == 0
    assert not get_system("spring").uses_charge
    assert get_system("charge").uses_charge


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"name": "springs"}, "unknown system 'springs'"),
        ({"name": None}, "give a system name"),
        ({"name": "spring", "dim": 4}, "dim must be 2 or 3, got 4"),
        ({"name": "spring", "dim": 2.0}, "dim must be 2 or 3"),
        ({"name": "spring", "softening": -0.1}, "softening must be a finite number >= 0"),
        ({"name": "spring", "softening": float("nan")}, "softening"),
        ({"name": "damped", "damping": "linear"}, "unknown damping 'linear'"),
        ({"name": "spring", "potential": "1/r"}, "either a system name or a potential"),
        ({"potential": "x*r"}, "unknown symbol"),
        ({"potential": "m1/r"}, "changes when the bodies are swapped"),
        ({"potential": "m1*m2"}, "does not depend on r"),
        ({"potential": "1/(r"}, "cannot parse"),
        ({"potential": "  "}, "empty"),
        ({"potential": "m1*m2*besselj(0, r)"}, "besselj .* has no compiled form"),
    ],
)
def test_get_system_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_system(**kwargs)


def test_methods_reject_bad_states():
    system = get_system("spring", dim=2)
    good = np.ones((3, 6))
    with pytest.raises(ValueError, match=r"shape \[\.\.\., N, 6\]"):
        system.accelerations(np.ones((3, 8)))
    with pytest.raises(ValueError, match="non-finite"):
        system.accelerations(np.full((3, 6), np.nan))
    with pytest.raises(ValueError, match="non-positive mass"):
        system.accelerations(np.zeros((3, 6)))
    with pytest.raises(ValueError, match="same shape"):
        system.pair_force(good, np.ones((2, 6)))
    with pytest.raises(ValueError, match=r"shape \[E, 6\]"):
        system.pair_potential(good[None], good[None])


def test_import_does_not_load_torch():
    import subprocess
    import sys

    code = "import sys, symdistill.nbody; print('torch' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"
