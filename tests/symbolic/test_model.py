"""Symbolic graph models: structure, read-back, Hamiltonian gradients, joint refit."""

import numpy as np
import pytest
import sympy
import torch

from symdistill.symbolic import (
    Formula,
    RefitConfig,
    SymbolicGraphModel,
    SymbolicHamiltonian,
    complete_graph,
    drop_offsets,
    edge_names,
    refit,
    state_names,
)

DIM = 2
EDGE = edge_names(DIM)
NODE = [*state_names(DIM), "E0", "E1"]


def _states(n_graphs=64, n_bodies=4, seed=0):
    rng = np.random.default_rng(seed)
    states = rng.normal(size=(n_graphs, n_bodies, 2 * DIM + 2))
    states[..., -1] = np.exp(rng.normal(size=(n_graphs, n_bodies)))
    return states


def _spring_accelerations(states):
    """Spring pair force -(r - 1) * d / r on the receiver, summed, divided by mass (NumPy reference)."""
    positions = states[..., :DIM]
    n = states.shape[1]
    accelerations = np.zeros(states.shape[:2] + (DIM,))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            d = positions[:, i] - positions[:, j]
            r = np.linalg.norm(d, axis=-1, keepdims=True)
            accelerations[:, i] += -(r - 1) * d / r
    return accelerations / states[..., -1:]


def _spring_model(a=1.0, b=1.0):
    edges = [
        Formula.parse("e0", f"-{a}*(r - {b})*dx/r", EDGE),
        Formula.parse("e1", f"-{a}*(r - {b})*dy/r", EDGE),
    ]
    nodes = [Formula.parse("ax", "E0/m", NODE), Formula.parse("ay", "E1/m", NODE)]
    return SymbolicGraphModel(edges, [0, 1], nodes, DIM)


def test_complete_graph_has_no_self_loops():
    receivers, senders = complete_graph(4)
    assert len(receivers) == 12
    assert not bool((receivers == senders).any())


def test_graph_model_matches_numpy_reference():
    states = _states()
    prediction = _spring_model()(torch.as_tensor(states)).detach().numpy()
    np.testing.assert_allclose(prediction, _spring_accelerations(states), rtol=1e-10, atol=1e-12)


def test_graph_model_is_permutation_equivariant():
    states = torch.as_tensor(_states())
    model = _spring_model()
    permutation = torch.tensor([2, 0, 3, 1])
    permuted = model(states[:, permutation])
    torch.testing.assert_close(permuted, model(states)[:, permutation])


def test_graph_model_accepts_edge_index():
    states = torch.as_tensor(_states(n_graphs=1)[0])
    receivers, senders = complete_graph(4)
    edge_index = torch.stack([senders, receivers])
    model = _spring_model()
    torch.testing.assert_close(model(states, edge_index), model(states[None])[0])


def test_graph_model_rejects_wrong_feature_count():
    with pytest.raises(ValueError, match="2\\*dim\\+2|\\[..., n_bodies, 6\\]"):
        _spring_model()(torch.zeros(3, 4, 5, dtype=torch.float64))


def test_formula_rejects_unknown_variable():
    with pytest.raises(ValueError, match="zz"):
        Formula.parse("e0", "zz * dx", EDGE)


def test_hamiltonian_gives_spring_accelerations():
    # H_pair per directed edge = (r - 1)^2 / 4, so each pair contributes (r - 1)^2 / 2
    # and the force on a body is -(r - 1) * d / r, as in the reference.
    pair = Formula.parse("pair_energy", "0.25*(r - 1)**2", edge_names(DIM, momenta=True))
    own = Formula.parse("self_energy", "(px**2 + py**2)/(2*m)", state_names(DIM, momenta=True))
    states = _states()
    prediction = SymbolicHamiltonian(pair, own, DIM)(torch.as_tensor(states)).detach().numpy()
    np.testing.assert_allclose(prediction, _spring_accelerations(states), rtol=1e-9, atol=1e-12)


def test_refit_recovers_perturbed_constants():
    states = _states(n_graphs=128)
    model = _spring_model(a=0.8, b=1.2)
    config = RefitConfig(steps=150, eval_every=50, lr=2e-2, batch_size=64)
    result = refit(model, states, _spring_accelerations(states), config)
    assert result.loss_after < 0.05 * result.loss_before
    edges, nodes = model.formulas()
    constants = sorted(abs(float(c)) for c in edges[0].expr.atoms(sympy.Float))
    np.testing.assert_allclose(constants, [1.0, 1.0], rtol=0.05)
    assert str(nodes[0].expr) == "E0/m"


def test_refit_never_worsens_the_loss():
    states = _states(n_graphs=64)
    model = _spring_model()
    result = refit(model, states, _spring_accelerations(states), RefitConfig(steps=20, eval_every=5, lr=0.5))
    assert result.loss_after <= result.loss_before


def test_refit_rejects_nan_data():
    states = _states(n_graphs=8)
    states[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        refit(_spring_model(), states, np.zeros(states.shape[:2] + (DIM,)))


def test_drop_offsets_keeps_dynamic_terms():
    q1, q2, r = sympy.symbols("q1 q2 r")
    energy = 3 * (q1 * q2 / r + sympy.Float(0.5)) + q1
    assert drop_offsets(energy, ["r", "dx", "dy"]) == 3 * q1 * q2 / r


def test_hamiltonian_without_position_terms_gives_zero():
    pair = Formula.parse("pair_energy", "0.5*q1*q2", edge_names(DIM, momenta=True))
    own = Formula.parse("self_energy", "(px**2 + py**2)/(2*m)", state_names(DIM, momenta=True))
    states = torch.as_tensor(_states(n_graphs=4))
    accelerations = SymbolicHamiltonian(pair, own, DIM)(states)
    assert accelerations.shape == (4, 4, DIM)
    assert bool((accelerations == 0).all())


def test_refit_of_forceless_hamiltonian_keeps_loss():
    pair = Formula.parse("pair_energy", "0.5*q1*q2", edge_names(DIM, momenta=True))
    own = Formula.parse("self_energy", "0.5*(px**2 + py**2)/m", state_names(DIM, momenta=True))
    model = SymbolicHamiltonian(pair, own, DIM)
    states = _states(n_graphs=16)
    result = refit(model, states, _spring_accelerations(states), RefitConfig(steps=4, eval_every=2, batch_size=4))
    assert result.loss_after == result.loss_before
