"""symdistill: distill trained graph networks into symbolic physics.

An implementation of Cranmer et al. (2020), "Discovering Symbolic Models from Deep
Learning with Inductive Biases" (arXiv:2006.11287): simulate N-body systems, train a
graph network with an inductive bias on its messages, distill the messages and node
update with symbolic regression, substitute the formulas back and refit them.

Heavy dependencies (torch, numba) load only when the attribute that needs them is
first used, so ``import symdistill`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

try:
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("symdistill")
    except PackageNotFoundError:  # running from a source tree without installation
        __version__ = "0.0.0+unknown"
except ImportError:  # pragma: no cover
    __version__ = "0.0.0+unknown"

# Public name -> "module:attribute", resolved on first access.
_LAZY_ATTRIBUTES = {
    "simulate": "symdistill.nbody:simulate",
    "train": "symdistill.gn:train",
    "discover": "symdistill.pipeline:discover",
    "SymbolicRegressor": "symdistill.sr:SymbolicRegressor",
}

_SUBPACKAGES = ("nbody", "gn", "sr", "distill", "symbolic", "halos", "report", "pipeline", "config")

__all__ = ["__version__", *_LAZY_ATTRIBUTES, *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    if name in _LAZY_ATTRIBUTES:
        module_name, attribute = _LAZY_ATTRIBUTES[name].split(":")
        value = getattr(importlib.import_module(module_name), attribute)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"symdistill.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'symdistill' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
