"""Small synthetic spring systems shared by the graph-network and distillation tests."""

import numpy as np


class SpringSystem:
    """Springs of rest length 1 between every pair: U = (r - 1)^2, r unsoftened."""

    name = "spring"

    def pair_force(self, receiver, sender):
        delta = receiver[:, :2] - sender[:, :2]
        r = np.linalg.norm(delta, axis=1, keepdims=True)
        return -2.0 * (r - 1.0) * delta / r

    def pair_potential(self, receiver, sender):
        r = np.linalg.norm(receiver[:, :2] - sender[:, :2], axis=1)
        return (r - 1.0) ** 2


def spring_graphs(n_graphs: int, n_bodies: int = 4, seed: int = 0):
    """Return random 2-D states [G, N, 6] and their spring accelerations [G, N, 2]."""
    rng = np.random.default_rng(seed)
    states = rng.normal(size=(n_graphs, n_bodies, 6))
    states[..., -1] = np.exp(0.3 * rng.normal(size=(n_graphs, n_bodies)))
    system = SpringSystem()
    receivers, senders = np.nonzero(~np.eye(n_bodies, dtype=bool))
    forces = system.pair_force(states[:, receivers].reshape(-1, 6), states[:, senders].reshape(-1, 6))
    net = forces.reshape(n_graphs, n_bodies, n_bodies - 1, 2).sum(axis=2)
    return states, net / states[..., -1:]
