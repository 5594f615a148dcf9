"""Symbolic regression: a Numba-accelerated search engine behind a scikit-learn estimator.

Quick start::

    from symdistill.sr import SymbolicRegressor
    model = SymbolicRegressor(binary_operators=["+", "-", "*", "/"], niterations=20)
    model.fit(X, y, variable_names=["m1", "m2", "dx", "r"])
    model.equations_          # complexity, loss, score, equation, sympy
    model.sympy()             # the selected expression

Operator semantics are defined once in :mod:`symdistill.sr.operators`; backends plug
in through :mod:`symdistill.sr.backends.base`.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SymbolicRegressor": "symdistill.sr.regressor",
    "SearchOptions": "symdistill.sr.options",
    "custom_operator": "symdistill.sr.operators",
    "get_backend": "symdistill.sr.backends.base",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symdistill.sr' has no attribute {name!r}")
