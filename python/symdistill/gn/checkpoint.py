"""Training checkpoints: written atomically, read back for resuming and for analysis."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from symdistill._io import atomic_path
from symdistill.gn.build import model_from_spec

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


def checkpoint_path(run_dir_or_checkpoint: str | os.PathLike[str]) -> Path:
    """Return the checkpoint file of a run folder, or the path itself when it is a file."""
    path = Path(run_dir_or_checkpoint)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save`` so a reader sees the old or the complete new file."""
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save({"format": FORMAT_VERSION, **state}, tmp)


def read_checkpoint(run_dir_or_checkpoint: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by training, with a clear error when it is missing or foreign."""
    path = checkpoint_path(run_dir_or_checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {os.fspath(path)!r}; train a model there first")
    # Checkpoints hold RNG states and plain containers, which the weights-only unpickler accepts.
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION or "model_spec" not in state:
        raise ValueError(f"{os.fspath(path)!r} is not a symdistill graph-network checkpoint (format {FORMAT_VERSION})")
    return state


def load_model(run_dir_or_checkpoint: str | os.PathLike[str], device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a trained model from a run folder or checkpoint file, in evaluation mode.

    The returned module has ``.spec`` (how it was built) and ``.trained_steps``.
    """
    state = read_checkpoint(run_dir_or_checkpoint, map_location=device)
    model = model_from_spec(state["model_spec"])
    model.load_state_dict(state["model_state"])
    model.trained_steps = int(state["step"])
    return model.to(device).eval()
