"""Elementwise losses and their derivatives, weighted means over rows.

A loss here is an :class:`ElementwiseLoss`: per-row values ``l(prediction, target)``
and their derivative with respect to the prediction, which constant fitting chains
with the exact Jacobian of the expression. The loss of a candidate is the mean over
rows, or ``sum(w * l) / sum(w)`` with sample weights.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class ElementwiseLoss:
    """A per-row loss ``l(prediction, target)`` with its derivative in ``prediction``.

    Attributes
    ----------
    name : str
        Name shown in logs and in the hall-of-fame file header.
    values : callable
        ``values(prediction, target) -> array`` of per-row losses.
    derivative : callable
        ``derivative(prediction, target) -> array`` of d l / d prediction.
    huber_delta : float
        The transition point of a Huber loss; 0 for other losses.
    """

    name: str
    values: Callable[[np.ndarray, np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]
    huber_delta: float = 0.0

    def mean(self, prediction: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None) -> float:
        """Return the (weighted) mean loss; ``inf`` when it is not finite.

        Shapes
        ------
        prediction, target, weights : [n]
        """
        per_row = self.values(prediction, target)
        if weights is None:
            value = float(np.mean(per_row))
        else:
            value = float(np.dot(weights, per_row) / np.sum(weights))
        return value if np.isfinite(value) else np.inf

    def gradient_weights(self, prediction: np.ndarray, target: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        """Return d(mean loss)/d(prediction) per row, so gradients are this @ Jacobian.

        Shapes
        ------
        prediction, target, weights : [n]; returns [n]
        """
        derivative = self.derivative(prediction, target)
        if weights is None:
            return derivative / prediction.shape[0]
        return derivative * weights / np.sum(weights)


def _l2_values(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    d = p - t
    return d * d


def _l1_values(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.abs(p - t)


def huber_loss(delta: float = 1.0) -> ElementwiseLoss:
    """Return the Huber loss: ``d^2/2`` for ``|d| <= delta``, else ``delta*(|d| - delta/2)``."""
    if not (delta > 0 and np.isfinite(delta)):
        raise ValueError(f"Huber delta={delta!r} must be a positive finite number")

    def values(p: np.ndarray, t: np.ndarray) -> np.ndarray:
        a = np.abs(p - t)
        return np.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta))

    def derivative(p: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.clip(p - t, -delta, delta)

    return ElementwiseLoss(f"Huber({delta:g})", values, derivative, huber_delta=float(delta))


L2 = ElementwiseLoss("L2", _l2_values, lambda p, t: 2.0 * (p - t))
L1 = ElementwiseLoss("L1", _l1_values, lambda p, t: np.sign(p - t))

_HUBER_PATTERN = re.compile(r"^huber(?:loss)?\s*(?:\(\s*(?:delta\s*=\s*)?([0-9.eE+-]*)\s*\))?$", re.IGNORECASE)


def custom_elementwise_loss(function: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> ElementwiseLoss:
    """Wrap a user callable ``f(prediction, target) -> per-row losses``.

    Its derivative is taken by central differences per row, so constant fitting still
    uses the exact Jacobian of the expression.
    """

    def values(p: np.ndarray, t: np.ndarray) -> np.ndarray:
        result = np.asarray(function(p, t), dtype=np.float64)
        if result.shape != p.shape:
            raise ValueError(
                f"custom elementwise_loss returned shape {result.shape}, expected {p.shape}: "
                "it must return one loss per row"
            )
        return result

    def derivative(p: np.ndarray, t: np.ndarray) -> np.ndarray:
        step = 1e-6 * np.maximum(1.0, np.abs(p))
        return (values(p + step, t) - values(p - step, t)) / (2.0 * step)

    name = getattr(function, "__name__", "custom")
    return ElementwiseLoss(name, values, derivative)


def resolve_elementwise_loss(loss: str | Callable | ElementwiseLoss) -> ElementwiseLoss:
    """Return the :class:`ElementwiseLoss` for a name, a callable or a loss object.

    Names: ``"L2"`` (``"L2DistLoss()"``, ``"mse"``), ``"L1"`` (``"L1DistLoss()"``,
    ``"mae"``), ``"Huber"`` or ``"HuberLoss(delta)"``.

    Raises
    ------
    ValueError
        If the name is unknown.
    """
    if isinstance(loss, ElementwiseLoss):
        return loss
    if callable(loss):
        return custom_elementwise_loss(loss)
    if not isinstance(loss, str):
        raise TypeError(f"elementwise_loss must be a name or a callable, got {loss!r}")
    key = loss.strip().lower().replace(" ", "")
    if key in ("l2", "l2distloss()", "l2distloss", "mse"):
        return L2
    if key in ("l1", "l1distloss()", "l1distloss", "mae"):
        return L1
    match = _HUBER_PATTERN.match(key)
    if match:
        delta = float(match.group(1)) if match.group(1) else 1.0
        return huber_loss(delta)
    raise ValueError(
        f"unknown elementwise_loss {loss!r}; use 'L2', 'L1', 'Huber', 'HuberLoss(delta)' "
        "or a callable f(prediction, target) -> per-row losses"
    )
