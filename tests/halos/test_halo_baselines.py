"""Least-absolute-deviation baselines and the halo graph dataset."""

import numpy as np
import pytest

from symdistill.halos import (
    HaloCatalog,
    build_dataset,
    fit_baseline,
    fit_baselines,
    split_halos,
    summed_neighbour_mass,
)
from symdistill.halos.baselines import MASS_UNIT, least_absolute_deviations


def test_lad_recovers_linear_model_despite_outliers():
    rng = np.random.default_rng(0)
    design = np.column_stack([np.ones(400), rng.normal(size=400), rng.normal(size=400)])
    target = design @ np.array([0.5, -2.0, 3.0])
    target[:40] += rng.normal(0, 50, 40)  # 10% gross outliers
    np.testing.assert_allclose(least_absolute_deviations(design, target), [0.5, -2.0, 3.0], atol=1e-6)


def test_lad_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        least_absolute_deviations(np.ones((3, 1)), np.array([1.0, np.nan, 2.0]))


def test_constant_baseline_is_median():
    delta = np.array([0.0, 1.0, 5.0, 2.0, -0.5])
    fit = fit_baseline("constant", np.ones(5), np.ones(5), delta)
    assert fit.constants["C1"] == pytest.approx(1.0)
    assert fit.train_mae == pytest.approx(np.mean(np.abs(delta - 1.0)))


def test_simple_baseline_recovers_constants():
    rng = np.random.default_rng(1)
    mass, summed = rng.uniform(1, 10, 300), rng.uniform(0, 5, 300)
    delta = -0.2 + (0.3 + 0.05 * mass) * summed
    fit = fit_baseline("simple", mass, summed, delta)
    assert fit.constants == pytest.approx({"C1": -0.2, "C2": 0.3, "C3": 0.05}, abs=1e-6)
    assert fit.train_mae < 1e-6


def test_unknown_baseline():
    with pytest.raises(ValueError, match="unknown baseline"):
        fit_baseline("fancy", np.ones(2), np.ones(2), np.ones(2))


def test_summed_neighbour_mass_periodic():
    catalog = HaloCatalog(
        [[1.0, 1.0, 1.0], [99.0, 1.0, 1.0], [50.0, 50.0, 50.0]], np.zeros((3, 3)), [1e13, 3e13, 5e13], box_size=100.0
    )
    np.testing.assert_allclose(summed_neighbour_mass(catalog, radius=5.0), [3.0, 1.0, 0.0])


def test_fit_baselines_simple_beats_constant(make_catalog):
    catalog = make_catalog(n=600, box=200.0, seed=3)
    # A target that the simple formula explains up to noise.
    summed = summed_neighbour_mass(catalog, 20.0)
    noise = np.random.default_rng(3).normal(0, 0.05, catalog.n_halos)
    catalog = catalog.with_delta(-0.5 + 0.1 * summed + noise)
    split = split_halos(catalog.delta, delta_max=np.inf, seed=0)
    results = fit_baselines(catalog, split.train, split.test)
    assert results["simple"]["test_mae"] < 0.1
    assert results["constant"]["test_mae"] > 0.1
    assert results["simple"]["constants"]["C2"] == pytest.approx(0.1, abs=0.02)
    assert results["simple"]["mass_unit_msun_h"] == MASS_UNIT


def test_split_halos():
    delta = np.linspace(-1, 3, 101)
    split = split_halos(delta, delta_max=1.0, test_fraction=0.2, seed=0)
    assert np.all(delta[split.ood] > 1.0)
    assert np.all(delta[split.train] <= 1.0)
    assert np.all(delta[split.test] <= 1.0)
    assert split.test.size == round(0.2 * np.sum(delta <= 1.0))
    assert np.intersect1d(split.train, split.test).size == 0
    assert split.train.size + split.test.size + split.ood.size == delta.size
    again = split_halos(delta, delta_max=1.0, test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(split.test, again.test)
    with pytest.raises(ValueError, match="test_fraction"):
        split_halos(delta, test_fraction=1.5)


def test_build_dataset_features_and_scaling(catalog):
    dataset = build_dataset(catalog, r_max=40.0)
    assert dataset.node_feature_names == ("vx", "vy", "vz", "log_mass")
    assert dataset.node_features.dtype == np.float32
    np.testing.assert_allclose(dataset.node_features[:, 3], np.log10(catalog.masses) - 13, rtol=1e-5)
    r = dataset.edge_attr[:, dataset.edge_feature_names.index("r")] * dataset.scaling["r"]["scale"]
    assert r.max() <= 40.0 + 1e-3
    assert dataset.scaling["dvx"] == {"unit": "km/s", "scale": 100.0, "offset": 0.0}
    np.testing.assert_allclose(dataset.targets, catalog.delta, rtol=1e-6)
    without_mass = build_dataset(catalog, r_max=40.0, include_mass=False)
    assert "log_mass" not in without_mass.node_feature_names


def test_incoming_edges(catalog):
    dataset = build_dataset(catalog, r_max=40.0)
    receivers = np.array([5, 0, 42])
    edges = dataset.incoming_edges(receivers)
    assert set(dataset.edge_index[1, edges].tolist()) <= set(receivers.tolist())
    assert edges.size == sum(int(np.sum(dataset.edge_index[1] == r)) for r in receivers)


def test_build_dataset_needs_delta(make_catalog):
    with pytest.raises(ValueError, match="delta"):
        build_dataset(make_catalog(with_delta=False))
