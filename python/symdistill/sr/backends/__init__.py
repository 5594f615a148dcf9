"""Symbolic-regression backends behind ``SymbolicRegressor``; see :mod:`.base`."""

from symdistill.sr.backends.base import Backend, Candidate, Problem, available_backends, get_backend

__all__ = ["Backend", "Candidate", "Problem", "available_backends", "get_backend"]
