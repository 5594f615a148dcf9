"""The periodic radius graph and edge features against brute-force NumPy references."""

import numpy as np
import pytest

from symdistill.halos.graph import (
    EDGE_FEATURE_NAMES,
    edge_features,
    edge_features_reference,
    radius_graph,
    radius_graph_reference,
)


def canonical(edge_index):
    order = np.lexsort((edge_index[0], edge_index[1]))
    return edge_index[:, order]


@pytest.mark.parametrize(
    "n, extent, r_max, box",
    [
        (400, 100.0, 9.5, 100.0),  # many cells
        (400, 100.0, 9.5, None),  # open boundaries
        (300, 20.0, 9.5, 20.0),  # fewer cells than the stencil width
        (200, 30.0, 14.9, 30.0),  # r_max just below half the box
        (2000, 1000.0, 100.0, 1000.0),  # sparse
        (1, 10.0, 1.0, 10.0),  # a single node has no edges
    ],
)
def test_matches_brute_force(n, extent, r_max, box):
    positions = np.random.default_rng(n).uniform(0, extent, (n, 3))
    graph = radius_graph(positions, r_max, box)
    reference = radius_graph_reference(positions, r_max, box)
    assert graph.edge_index.dtype == np.int32
    np.testing.assert_array_equal(canonical(graph.edge_index), reference)
    np.testing.assert_array_equal(graph.edge_index[1], reference[1])  # grouped by receiver
    np.testing.assert_array_equal(graph.in_degree(), np.bincount(reference[1], minlength=n))


def test_periodic_pair_across_faces_and_corner():
    positions = np.array([[0.5, 0.5, 0.5], [99.5, 99.5, 99.5], [50.0, 0.2, 50.0], [50.0, 99.9, 50.0]])
    graph = radius_graph(positions, 2.0, 100.0)
    edges = {tuple(edge) for edge in graph.edge_index.T.tolist()}
    assert edges == {(1, 0), (0, 1), (3, 2), (2, 3)}
    assert not radius_graph(positions, 2.0, None).n_edges


def test_distance_exactly_r_max_is_connected():
    positions = np.array([[1.0, 1.0, 1.0], [4.0, 1.0, 1.0]])
    assert radius_graph(positions, 3.0, 10.0).n_edges == 2


def test_coincident_halos_are_connected():
    positions = np.array([[5.0, 5.0, 5.0], [5.0, 5.0, 5.0]])
    assert radius_graph(positions, 1.0, 10.0).n_edges == 2


def test_clustered_points_match_reference():
    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 50, (5, 3))
    positions = np.mod(centres[rng.integers(0, 5, 600)] + rng.normal(0, 1.5, (600, 3)), 50.0)
    graph = radius_graph(positions, 4.0, 50.0)
    np.testing.assert_array_equal(canonical(graph.edge_index), radius_graph_reference(positions, 4.0, 50.0))


def test_row_start_slices_incoming_edges():
    positions = np.random.default_rng(1).uniform(0, 50, (200, 3))
    graph = radius_graph(positions, 8.0, 50.0)
    for node in (0, 17, 199):
        receivers = graph.edge_index[1, graph.row_start[node] : graph.row_start[node + 1]]
        assert np.all(receivers == node)


def test_deterministic():
    positions = np.random.default_rng(2).uniform(0, 80, (500, 3))
    first = radius_graph(positions, 10.0, 80.0).edge_index
    second = radius_graph(positions, 10.0, 80.0).edge_index
    np.testing.assert_array_equal(first, second)


def test_empty_catalogue():
    graph = radius_graph(np.zeros((0, 3)), 5.0, 100.0)
    assert graph.n_edges == 0
    assert graph.n_nodes == 0


@pytest.mark.parametrize(
    "positions, r_max, box, message",
    [
        (np.zeros((4, 2)), 1.0, 10.0, "shape"),
        (np.full((2, 3), np.nan), 1.0, 10.0, "NaN"),
        (np.zeros((2, 3)), 0.0, 10.0, "r_max"),
        (np.zeros((2, 3)), 6.0, 10.0, "half the periodic box"),
        (np.full((2, 3), 11.0), 1.0, 10.0, "outside the periodic box"),
    ],
)
def test_invalid_input(positions, r_max, box, message):
    with pytest.raises(ValueError, match=message):
        radius_graph(positions, r_max, box)


@pytest.mark.parametrize("box", [60.0, None])
def test_edge_features_match_reference(box):
    rng = np.random.default_rng(4)
    positions = rng.uniform(0, 60, (300, 3))
    velocities = rng.normal(0, 200, (300, 3))
    graph = radius_graph(positions, 12.0, box)
    features = edge_features(positions, velocities, graph.edge_index, box, dtype=np.float64)
    assert features.shape == (graph.n_edges, len(EDGE_FEATURE_NAMES))
    np.testing.assert_allclose(features, edge_features_reference(positions, velocities, graph.edge_index, box), atol=1e-9)
    assert np.all(features[:, 3] <= 12.0 + 1e-9)


def test_edge_features_sign_is_receiver_minus_sender():
    positions = np.array([[1.0, 0.0, 0.0], [99.0, 0.0, 0.0]])
    velocities = np.array([[10.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    edge_index = np.array([[1], [0]])  # sender 1 -> receiver 0
    features = edge_features(positions, velocities, edge_index, 100.0, dtype=np.float64)[0]
    np.testing.assert_allclose(features, [2.0, 0, 0, 2.0, 10.0, 0, 0, 10.0])


def test_edge_features_reject_bad_index():
    with pytest.raises(ValueError, match="outside"):
        edge_features(np.zeros((2, 3)), np.zeros((2, 3)), np.array([[0], [5]]))


def test_crowded_cell_matches_reference():
    # Open boundaries with every halo within r_max of the others put them in one cell,
    # whose sender lists the fill kernel writes in blocks.
    positions = np.random.default_rng(5).uniform(0, 1.0, (1500, 3))
    graph = radius_graph(positions, 5.0)
    assert graph.n_edges == 1500 * 1499
    np.testing.assert_array_equal(canonical(graph.edge_index), radius_graph_reference(positions, 5.0))
