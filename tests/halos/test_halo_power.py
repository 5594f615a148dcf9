"""The linear power spectrum used for initial conditions."""

import numpy as np
import pytest

from symdistill.halos.linear_power import (
    Cosmology,
    eisenstein_hu_no_wiggle_transfer,
    eisenstein_hu_transfer,
    linear_power,
    sigma_r,
)


def test_normalised_to_sigma8():
    cosmology = Cosmology(sigma8=0.8)
    k, power = linear_power(np.logspace(-5, 3, 4000), cosmology, method="eisenstein_hu")
    assert sigma_r(k, power, 8.0) == pytest.approx(0.8, rel=1e-3)


def test_wiggles_oscillate_around_no_wiggle_fit():
    cosmology = Cosmology()
    k = np.logspace(-3, 0, 500)
    ratio = (eisenstein_hu_transfer(k, cosmology) / eisenstein_hu_no_wiggle_transfer(k, cosmology)) ** 2
    assert np.all(np.abs(ratio - 1) < 0.1)
    bao = (k > 0.05) & (k < 0.3)
    assert ratio[bao].max() > 1.02
    assert ratio[bao].min() < 0.98
    assert eisenstein_hu_transfer(np.array([1e-5]), cosmology)[0] == pytest.approx(1.0, abs=1e-3)


def test_power_peak_near_equality_scale():
    k, power = linear_power(method="eisenstein_hu")
    assert 0.01 < k[np.argmax(power)] < 0.03
    assert 1e4 < power.max() < 5e4


def test_invalid_cosmology_and_method():
    with pytest.raises(ValueError, match="omega_b"):
        Cosmology(omega_b=0.5, omega_m=0.3)
    with pytest.raises(ValueError, match="method"):
        linear_power(method="class")
