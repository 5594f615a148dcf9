"""Graph-network forward passes: equivariance, dense and sparse paths, FlatHGN physics."""

import pytest
import torch
from torch import nn

from symdistill import gn

MODELS = ("standard", "bottleneck", "l1", "kl", "flathgn")


def _small(name, n_features=6, dim=2, **kwargs):
    torch.manual_seed(0)
    return gn.build_model(name, n_features, dim, hidden=16, n_hidden_layers=2, **kwargs).double().eval()


def _complete_edge_index(n_graphs, n_bodies):
    receivers, senders = gn.complete_pairs(n_bodies)
    offsets = (torch.arange(n_graphs) * n_bodies).repeat_interleave(receivers.numel())
    return torch.stack([senders.repeat(n_graphs) + offsets, receivers.repeat(n_graphs) + offsets])


@pytest.mark.parametrize("name", MODELS)
def test_output_equivariant_to_node_permutation(name):
    model = _small(name)
    x = torch.randn(3, 5, 6, dtype=torch.float64)
    x[..., -1] = x[..., -1].exp()
    permutation = torch.tensor([3, 0, 4, 1, 2])
    out, _ = model.forward_dense(x)
    out_permuted, _ = model.forward_dense(x[:, permutation])
    torch.testing.assert_close(out_permuted, out[:, permutation], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", MODELS)
def test_dense_and_sparse_paths_agree(name):
    model = _small(name)
    x = torch.randn(4, 4, 6, dtype=torch.float64)
    x[..., -1] = x[..., -1].exp()
    dense, dense_penalty = model.forward_dense(x)
    sparse, sparse_penalty = model(x.reshape(-1, 6), _complete_edge_index(4, 4))
    torch.testing.assert_close(sparse.reshape(4, 4, -1), dense, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(sparse_penalty, dense_penalty)


def test_edge_and_node_models_rebuild_forward():
    model = _small("l1")
    x = torch.randn(2, 3, 6, dtype=torch.float64)
    receivers, senders = gn.complete_pairs(3)
    messages = model.edge_model(x[:, receivers].reshape(-1, 6), x[:, senders].reshape(-1, 6))
    summed = messages.reshape(2, 3, 2, -1).sum(dim=2)
    expected, _ = model.forward_dense(x)
    torch.testing.assert_close(model.node_model(x, summed), expected)


def test_message_sizes_follow_bias():
    assert _small("standard").msg_dim == 100
    assert _small("bottleneck").msg_dim == 2
    assert _small("bottleneck", dim=3, n_features=8).msg_dim == 3
    assert _small("l1", msg_dim=7).msg_dim == 7
    assert _small("kl").edge_mlp[-1].out_features == 200


def test_node_hidden_widens_only_the_node_mlp():
    model = _small("l1", node_hidden=24)
    assert model.edge_mlp[0].out_features == 16
    assert model.node_mlp[0].out_features == 24
    assert model.spec["node_hidden"] == 24
    rebuilt = gn.model_from_spec(model.spec)
    assert rebuilt.node_mlp[0].out_features == 24


def test_node_hidden_sets_flathgn_self_energy_width():
    model = _small("flathgn", node_hidden=24)
    assert model.pair_energy_net[0].out_features == 16
    assert model.self_energy_net[0].out_features == 24


def test_node_hidden_absent_from_default_spec():
    assert "node_hidden" not in _small("l1").spec


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_invalid_node_hidden_rejected(bad):
    with pytest.raises(ValueError, match="node_hidden"):
        _small("l1", node_hidden=bad)


def test_kl_samples_only_while_training():
    model = _small("kl")
    x = torch.randn(2, 4, 6, dtype=torch.float64)
    first, _ = model.forward_dense(x)
    second, _ = model.forward_dense(x)
    torch.testing.assert_close(first, second)
    model.train()
    sampled, _ = model.forward_dense(x, torch.Generator().manual_seed(1))
    assert not torch.allclose(sampled, first)


def test_l1_penalty_sums_every_edge():
    model = _small("l1")
    x = torch.randn(3, 4, 6, dtype=torch.float64)
    _, penalty = model.forward_dense(x)
    receivers, senders = gn.complete_pairs(4)
    messages = model.edge_model(x[:, receivers].reshape(-1, 6), x[:, senders].reshape(-1, 6))
    torch.testing.assert_close(penalty, 1e-2 * messages.abs().sum())


class _SpringPairEnergy(nn.Module):
    """Half of U = (r - 1)^2 per directed edge, so each pair contributes U once."""

    def forward(self, edge_input):
        delta = edge_input[..., 0:2] - edge_input[..., 6:8]
        r = delta.norm(dim=-1, keepdim=True)
        return 0.5 * (r - 1.0) ** 2


class _KineticEnergy(nn.Module):
    def forward(self, z):
        return (z[..., 2:4] ** 2).sum(dim=-1, keepdim=True) / (2 * z[..., 5:6])


def test_flathgn_spring_hamiltonian_gives_hand_accelerations():
    model = gn.FlatHGN(_SpringPairEnergy(), _KineticEnergy(), n_features=6, dim=2)
    x = torch.tensor(
        [[[0.0, 0.0, 0.3, -0.1, 0.5, 1.0], [2.0, 0.0, 0.0, 0.2, -1.0, 2.0], [0.0, 3.0, 1.0, 1.0, 0.0, 0.5]]],
        dtype=torch.float64,
    )
    # Hand calculation: a_i = -sum_j 2 (r_ij - 1) (x_i - x_j) / (r_ij m_i).
    # Pairs: (0,1) r=2, (0,2) r=3, (1,2) r=sqrt(13).
    s13 = 13**0.5

    def vector(a, b):
        return torch.tensor([a, b], dtype=torch.float64)

    f0 = -2 * (2 - 1) * vector(-2.0, 0.0) / 2 - 2 * (3 - 1) * vector(0.0, -3.0) / 3
    f1 = -2 * (2 - 1) * vector(2.0, 0.0) / 2 - 2 * (s13 - 1) * vector(2.0, -3.0) / s13
    f2 = -2 * (3 - 1) * vector(0.0, 3.0) / 3 - 2 * (s13 - 1) * vector(-2.0, 3.0) / s13
    expected = torch.stack([f0 / 1.0, f1 / 2.0, f2 / 0.5])
    accelerations, penalty = model.forward_dense(x)
    torch.testing.assert_close(accelerations[0], expected, rtol=1e-12, atol=1e-12)
    assert float(penalty) == 0.0
    sparse, _ = model(x[0], _complete_edge_index(1, 3))
    torch.testing.assert_close(sparse, expected, rtol=1e-12, atol=1e-12)


def test_flathgn_energies_use_momenta():
    model = gn.FlatHGN(_SpringPairEnergy(), _KineticEnergy(), n_features=6, dim=2)
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0, 0.0, 2.0]], dtype=torch.float64)
    z = model.canonical(x)
    torch.testing.assert_close(z, torch.tensor([[1.0, 2.0, 6.0, 8.0, 0.0, 2.0]], dtype=torch.float64))
    torch.testing.assert_close(model.self_energy(z), torch.tensor([25.0], dtype=torch.float64))


def test_flathgn_built_by_name_is_trainable():
    torch.manual_seed(0)
    model = gn.build_model("flathgn", 6, 2, hidden=16, n_hidden_layers=3).double().train()
    x = torch.randn(2, 4, 6, dtype=torch.float64)
    x[..., -1] = 1.0
    accelerations, _ = model.forward_dense(x)
    accelerations.abs().sum().backward()
    # Constant energy offsets (the output biases) do not change dH/dq, so they get no gradient.
    without_gradient = {name for name, p in model.named_parameters() if p.grad is None}
    assert without_gradient == {"pair_energy_net.6.bias", "self_energy_net.6.bias"}
