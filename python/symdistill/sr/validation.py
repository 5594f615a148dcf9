"""Input checks for ``SymbolicRegressor.fit``: clear errors that name the bad value."""

from __future__ import annotations

import logging
import warnings
from typing import Any, Sequence

import numpy as np

from symdistill.sr.backends.base import Problem

logger = logging.getLogger(__name__)

LARGE_TARGET = 1e12
"""Targets above this magnitude trigger a warning: losses grow as the square of it."""


def _as_float_array(value: Any, name: str, ndim: int) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric; converting it to float64 failed: {error}") from None
    if ndim == 1 and array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {array.shape}")
    return array


def _check_finite(array: np.ndarray, name: str, columns: Sequence[str] | None = None) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        index = np.argwhere(bad)[0]
        where = f"row {index[0]}"
        if array.ndim == 2:
            column = columns[index[1]] if columns is not None else str(index[1])
            where += f", column {column!r}"
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or infinite value(s), first at {where} "
            f"(value {array[tuple(index)]}); remove or impute them before fitting"
        )


def variable_names_for(X: Any, variable_names: Sequence[str] | None, n_features: int) -> tuple[str, ...]:
    """Return validated variable names: given ones, DataFrame columns, or x0, x1, ..."""
    if variable_names is None and hasattr(X, "columns"):
        variable_names = [str(column) for column in X.columns]
    if variable_names is None:
        return tuple(f"x{i}" for i in range(n_features))
    names = tuple(str(name) for name in variable_names)
    if len(names) != n_features:
        raise ValueError(f"variable_names has {len(names)} names but X has {n_features} columns")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"variable_names contains duplicates {duplicates}; give every column a distinct name")
    empty = [i for i, name in enumerate(names) if not name.strip()]
    if empty:
        raise ValueError(f"variable_names has empty name(s) at column(s) {empty}")
    return names


def build_problem(
    X: Any,
    y: Any,
    weights: Any = None,
    variable_names: Sequence[str] | None = None,
    receivers: Any = None,
    node_divisor: Any = None,
    extra: Any = None,
) -> Problem:
    """Validate inputs and return a :class:`Problem`.

    Shapes
    ------
    X : [n_rows, n_features]; y : [n_rows], or [n_nodes] with ``receivers`` [n_rows];
    weights : like y; node_divisor : [n_nodes]

    Raises
    ------
    ValueError
        On NaN or inf, mismatched shapes, empty data, negative weights, receiver
        indices out of range or a zero divisor; the message names the value.
    """
    X_array = _as_float_array(X, "X", 2)
    names = variable_names_for(X, variable_names, X_array.shape[1])
    y_array = _as_float_array(y, "y", 1)
    if X_array.shape[0] == 0:
        raise ValueError("X has no rows; give at least one sample")
    if X_array.shape[1] == 0:
        raise ValueError("X has no columns; give at least one feature")
    _check_finite(X_array, "X", names)
    _check_finite(y_array, "y")
    receivers_array = None
    divisor_array = None
    if receivers is None:
        if node_divisor is not None:
            raise ValueError("node_divisor applies only to a graph-aggregated loss; also pass receivers")
        if y_array.shape[0] != X_array.shape[0]:
            raise ValueError(f"X has {X_array.shape[0]} rows but y has {y_array.shape[0]}; they must match")
    else:
        receivers_array = np.asarray(receivers)
        if receivers_array.ndim != 1 or receivers_array.shape[0] != X_array.shape[0]:
            raise ValueError(
                f"receivers must have one entry per row of X ({X_array.shape[0]}), got shape {receivers_array.shape}"
            )
        if not np.issubdtype(receivers_array.dtype, np.integer):
            raise ValueError(f"receivers must be integer node indices, got dtype {receivers_array.dtype}")
        receivers_array = receivers_array.astype(np.int64)
        if receivers_array.min() < 0 or receivers_array.max() >= y_array.shape[0]:
            raise ValueError(
                f"receivers must lie in [0, {y_array.shape[0]}) (one target per node), "
                f"got values from {receivers_array.min()} to {receivers_array.max()}"
            )
        if node_divisor is not None:
            divisor_array = _as_float_array(node_divisor, "node_divisor", 1)
            if divisor_array.shape[0] != y_array.shape[0]:
                raise ValueError(
                    f"node_divisor has {divisor_array.shape[0]} entries but y has {y_array.shape[0]} nodes"
                )
            _check_finite(divisor_array, "node_divisor")
            if np.any(divisor_array == 0):
                raise ValueError(f"node_divisor is zero at node {int(np.argmax(divisor_array == 0))}; it must be non-zero")
    weights_array = None
    if weights is not None:
        weights_array = _as_float_array(weights, "weights", 1)
        if weights_array.shape[0] != y_array.shape[0]:
            raise ValueError(f"weights has {weights_array.shape[0]} entries but y has {y_array.shape[0]}")
        _check_finite(weights_array, "weights")
        if np.any(weights_array < 0):
            raise ValueError(f"weights must be >= 0, found {weights_array.min()} at row {int(np.argmin(weights_array))}")
        if weights_array.sum() <= 0:
            raise ValueError("weights sum to zero; at least one row needs a positive weight")
    magnitude = float(np.max(np.abs(y_array)))
    if magnitude > LARGE_TARGET:
        warnings.warn(
            f"|y| reaches {magnitude:.3g}; losses are computed in float64 and stay finite up to about 1e150 "
            "(L2), but consider rescaling y or fitting log(y)",
            RuntimeWarning,
            stacklevel=3,
        )
    return Problem(
        X=np.ascontiguousarray(X_array),
        y=np.ascontiguousarray(y_array),
        weights=weights_array,
        variable_names=names,
        receivers=receivers_array,
        node_divisor=divisor_array,
        extra=extra,
    )
