"""Distillation of trained graph networks: message analysis and symbolic regression.

Message analysis (Cranmer et al. 2020, Table 1): :func:`record_messages` tabulates
phi_e's output with its edge inputs, :func:`top_components` ranks the components,
:func:`fit_messages_to_forces` fits them to the true pair forces and :func:`analyse`
runs all of it on a training run and writes ``metrics.json``.
"""

from symdistill.distill.analysis import analyse, prediction_loss
from symdistill.distill.forces import (
    component_scores,
    fit_energies_to_potential,
    fit_messages_to_forces,
    r_squared,
    top_components,
    trimmed_r_squared,
)
from symdistill.distill.messages import message_columns, record_messages, states_from_messages

__all__ = [
    "analyse",
    "component_scores",
    "fit_energies_to_potential",
    "fit_messages_to_forces",
    "message_columns",
    "prediction_loss",
    "r_squared",
    "record_messages",
    "states_from_messages",
    "top_components",
    "trimmed_r_squared",
]
