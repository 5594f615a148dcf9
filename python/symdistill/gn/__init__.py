"""Graph networks with inductive biases on their messages, and their training.

Start with :func:`build_model` (a network for a bias name), :func:`train` (N-body data)
or :func:`train_sparse` (one large graph with edge attributes, such as a halo
catalogue), and :func:`load_model` (a trained run). The biases live in
:data:`BIASES`; see :mod:`symdistill.gn.biases`.
"""

from symdistill.gn.biases import BIASES, GaussianMessageBias, HamiltonianBias, MessageBias, get_bias, register_bias
from symdistill.gn.build import build_model, model_from_spec
from symdistill.gn.checkpoint import load_model, read_checkpoint
from symdistill.gn.data import SparseGraph, load_nbody_arrays
from symdistill.gn.hamiltonian import FlatHGN
from symdistill.gn.model import GraphNetwork, complete_pairs
from symdistill.gn.train import DEFAULT_STEPS, TrainConfig, TrainResult, default_device, train, train_sparse

__all__ = [
    "BIASES",
    "DEFAULT_STEPS",
    "FlatHGN",
    "GaussianMessageBias",
    "GraphNetwork",
    "HamiltonianBias",
    "MessageBias",
    "SparseGraph",
    "TrainConfig",
    "TrainResult",
    "build_model",
    "complete_pairs",
    "default_device",
    "get_bias",
    "load_model",
    "load_nbody_arrays",
    "model_from_spec",
    "read_checkpoint",
    "register_bias",
    "train",
    "train_sparse",
]
