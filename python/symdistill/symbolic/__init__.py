"""Formulas substituted into the graph-network structure, refitted jointly, read back.

``SymbolicGraphModel`` (edge formulas per message component, summed messages, node
formulas) and ``SymbolicHamiltonian`` (pair and self energies) are torch modules whose
constants are trainable; ``refit`` fits them all together on accelerations, and each
model's ``formulas()`` returns the refitted expressions.
"""

from symdistill.symbolic.features import edge_names, state_names, summed_message_name
from symdistill.symbolic.formula import Formula, drop_offsets
from symdistill.symbolic.model import SymbolicGraphModel, SymbolicHamiltonian, complete_graph
from symdistill.symbolic.prune import prune_constants
from symdistill.symbolic.refit import RefitConfig, RefitResult, mean_absolute_error, refit

__all__ = [
    "prune_constants",
    "Formula",
    "RefitConfig",
    "RefitResult",
    "SymbolicGraphModel",
    "SymbolicHamiltonian",
    "complete_graph",
    "drop_offsets",
    "edge_names",
    "mean_absolute_error",
    "refit",
    "state_names",
    "summed_message_name",
]
