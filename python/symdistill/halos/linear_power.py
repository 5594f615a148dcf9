"""Linear matter power spectrum at z = 0 for initial conditions.

CAMB computes it when installed (``pip install camb``); otherwise the Eisenstein & Hu
(1998, ApJ 496, 605) transfer function fit is used, with baryon acoustic oscillations, which
matches Boltzmann codes to a few per cent for standard LCDM. Either way the spectrum is
normalised to ``sigma8``. Units: k in h/Mpc, P(k) in (Mpc/h)^3.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Cosmology:
    """Flat LCDM parameters; the defaults are the Quijote fiducial cosmology."""

    omega_m: float = 0.3175
    omega_b: float = 0.049
    h: float = 0.6711
    n_s: float = 0.9624
    sigma8: float = 0.834
    t_cmb: float = 2.7255

    def __post_init__(self) -> None:
        if not 0 < self.omega_b < self.omega_m <= 1:
            raise ValueError(f"need 0 < omega_b < omega_m <= 1, got omega_b={self.omega_b}, omega_m={self.omega_m}")
        if not 0.2 < self.h < 2:
            raise ValueError(f"h is H0 / (100 km/s/Mpc), expected about 0.7, got {self.h}")
        if self.sigma8 <= 0:
            raise ValueError(f"sigma8 must be positive, got {self.sigma8}")

    @property
    def critical_density(self) -> float:
        """Critical density today in (Msun/h) / (Mpc/h)^3."""
        return 2.77536627e11

    @property
    def mean_matter_density(self) -> float:
        """Mean comoving matter density in (Msun/h) / (Mpc/h)^3."""
        return self.omega_m * self.critical_density


def eisenstein_hu_transfer(k: np.ndarray, cosmology: Cosmology) -> np.ndarray:
    """Eisenstein & Hu (1998) transfer function with baryon oscillations; k in h/Mpc."""
    c = cosmology
    k_mpc = np.asarray(k, dtype=np.float64) * c.h  # 1/Mpc, the unit of the fitting formulas
    om_h2 = c.omega_m * c.h**2
    ob_h2 = c.omega_b * c.h**2
    f_b = c.omega_b / c.omega_m
    f_c = 1.0 - f_b
    theta = c.t_cmb / 2.7

    z_eq = 2.50e4 * om_h2 * theta**-4
    k_eq = 7.46e-2 * om_h2 * theta**-2
    b1 = 0.313 * om_h2**-0.419 * (1 + 0.607 * om_h2**0.674)
    b2 = 0.238 * om_h2**0.223
    z_d = 1291 * om_h2**0.251 / (1 + 0.659 * om_h2**0.828) * (1 + b1 * ob_h2**b2)
    r_d = 31.5 * ob_h2 * theta**-4 * (1e3 / z_d)
    r_eq = 31.5 * ob_h2 * theta**-4 * (1e3 / z_eq)
    s = 2 / (3 * k_eq) * np.sqrt(6 / r_eq) * np.log((np.sqrt(1 + r_d) + np.sqrt(r_d + r_eq)) / (1 + np.sqrt(r_eq)))
    k_silk = 1.6 * ob_h2**0.52 * om_h2**0.73 * (1 + (10.4 * om_h2) ** -0.95)
    q = k_mpc / (13.41 * k_eq)

    a1 = (46.9 * om_h2) ** 0.670 * (1 + (32.1 * om_h2) ** -0.532)
    a2 = (12.0 * om_h2) ** 0.424 * (1 + (45.0 * om_h2) ** -0.582)
    alpha_c = a1**-f_b * a2 ** (-(f_b**3))
    bb1 = 0.944 / (1 + (458 * om_h2) ** -0.708)
    bb2 = (0.395 * om_h2) ** -0.0266
    beta_c = 1 / (1 + bb1 * (f_c**bb2 - 1))

    def t0(alpha, beta):
        log_term = np.log(np.e + 1.8 * beta * q)
        big_c = 14.2 / alpha + 386 / (1 + 69.9 * q**1.08)
        return log_term / (log_term + big_c * q**2)

    ks = k_mpc * s
    f = 1 / (1 + (ks / 5.4) ** 4)
    t_cdm = f * t0(1.0, beta_c) + (1 - f) * t0(alpha_c, beta_c)

    y = (1 + z_eq) / (1 + z_d)
    root = np.sqrt(1 + y)
    g = y * (-6 * root + (2 + 3 * y) * np.log((root + 1) / (root - 1)))
    alpha_b = 2.07 * k_eq * s * (1 + r_d) ** -0.75 * g
    beta_node = 8.41 * om_h2**0.435
    beta_b = 0.5 + f_b + (3 - 2 * f_b) * np.sqrt((17.2 * om_h2) ** 2 + 1)
    s_tilde = s / (1 + (beta_node / ks) ** 3) ** (1 / 3)
    x = k_mpc * s_tilde
    j0 = np.where(x > 1e-8, np.sin(x) / np.where(x > 1e-8, x, 1.0), 1.0)
    t_baryon = (t0(1.0, 1.0) / (1 + (ks / 5.2) ** 2) + alpha_b / (1 + (beta_b / ks) ** 3) * np.exp(-((k_mpc / k_silk) ** 1.4))) * j0
    return f_b * t_baryon + f_c * t_cdm


def eisenstein_hu_no_wiggle_transfer(k: np.ndarray, cosmology: Cosmology) -> np.ndarray:
    """Eisenstein & Hu (1998) zero-baryon-oscillation transfer function; k in h/Mpc."""
    c = cosmology
    k_mpc = np.asarray(k, dtype=np.float64) * c.h
    om_h2 = c.omega_m * c.h**2
    ob_h2 = c.omega_b * c.h**2
    f_b = c.omega_b / c.omega_m
    theta = c.t_cmb / 2.7
    alpha_gamma = 1 - 0.328 * np.log(431 * om_h2) * f_b + 0.38 * np.log(22.3 * om_h2) * f_b**2
    s = 44.5 * np.log(9.83 / om_h2) / np.sqrt(1 + 10 * ob_h2**0.75)
    gamma_eff = c.omega_m * c.h * (alpha_gamma + (1 - alpha_gamma) / (1 + (0.43 * k_mpc * s) ** 4))
    q = np.asarray(k, dtype=np.float64) * theta**2 / gamma_eff
    log_term = np.log(2 * np.e + 1.8 * q)
    big_c = 14.2 + 731 / (1 + 62.5 * q)
    return log_term / (log_term + big_c * q**2)


def sigma_r(k: np.ndarray, power: np.ndarray, radius: float = 8.0) -> float:
    """RMS linear fluctuation in top-hat spheres of ``radius`` Mpc/h, integrating in ln k."""
    x = k * radius
    window = np.where(x > 1e-4, 3 * (np.sin(x) - x * np.cos(x)) / np.where(x > 1e-4, x, 1.0) ** 3, 1.0 - x**2 / 10)
    integrand = power * window**2 * k**3 / (2 * np.pi**2)
    return float(np.sqrt(np.trapezoid(integrand, np.log(k))))


def linear_power(
    k: np.ndarray | None = None, cosmology: Cosmology | None = None, *, method: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(k, P(k))`` of the z = 0 linear matter power spectrum normalised to sigma8.

    Parameters
    ----------
    k : ndarray, optional
        Wavenumbers in h/Mpc; 2000 log-spaced values from 1e-4 to 100 by default.
    cosmology : Cosmology, optional
        Quijote fiducial by default.
    method : {"auto", "camb", "eisenstein_hu"}
        ``auto`` uses CAMB when it is importable, else Eisenstein & Hu.
    """
    cosmology = cosmology or Cosmology()
    k = np.logspace(-4, 2, 2000) if k is None else np.asarray(k, dtype=np.float64)
    if method not in ("auto", "camb", "eisenstein_hu"):
        raise ValueError(f"unknown power spectrum method {method!r}; use auto, camb or eisenstein_hu")
    if method in ("auto", "camb"):
        try:
            import camb  # noqa: F401
        except ImportError:
            if method == "camb":
                raise ImportError("method='camb' needs CAMB: pip install camb") from None
        else:
            return k, _camb_power(k, cosmology)
    power = k**cosmology.n_s * eisenstein_hu_transfer(k, cosmology) ** 2
    grid = np.logspace(-5, 3, 4000)
    normalisation = sigma_r(grid, grid**cosmology.n_s * eisenstein_hu_transfer(grid, cosmology) ** 2)
    return k, power * (cosmology.sigma8 / normalisation) ** 2


def _camb_power(k: np.ndarray, cosmology: Cosmology) -> np.ndarray:  # pragma: no cover - needs CAMB
    import camb

    c = cosmology
    params = camb.CAMBparams()
    params.set_cosmology(H0=100 * c.h, ombh2=c.omega_b * c.h**2, omch2=(c.omega_m - c.omega_b) * c.h**2, TCMB=c.t_cmb)
    params.InitPower.set_params(ns=c.n_s)
    params.set_matter_power(redshifts=[0.0], kmax=float(k.max() * c.h * 1.1))
    results = camb.get_results(params)
    interpolator = results.get_matter_power_interpolator(nonlinear=False, hubble_units=True, k_hunit=True)
    power = interpolator.P(0.0, k)
    grid = np.logspace(-4, np.log10(k.max()), 2000)
    return power * (c.sigma8 / sigma_r(grid, interpolator.P(0.0, grid))) ** 2
