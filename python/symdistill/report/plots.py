"""Report figures: messages against forces, Pareto fronts, training curves.

Every function writes one PNG atomically and returns its path. Matplotlib runs on the
non-interactive Agg backend, so plotting works without a display.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from symdistill._io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: str | os.PathLike[str]) -> Path:
    plt = _pyplot()
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return Path(path)


def plot_messages_vs_forces(
    messages: np.ndarray, fitted: np.ndarray, labels: Sequence[str], path: str | os.PathLike[str],
    r2: Sequence[float] | None = None, max_points: int = 2000,
) -> Path:
    """Scatter each message component against its best linear combination of true forces.

    Shapes
    ------
    messages, fitted : [n_edges, n_components]
    """
    messages = np.asarray(messages, dtype=float)
    fitted = np.asarray(fitted, dtype=float)
    if messages.shape != fitted.shape or messages.ndim != 2:
        raise ValueError(f"messages and fitted must both be [n_edges, n_components], got {messages.shape} and {fitted.shape}")
    if len(labels) != messages.shape[1]:
        raise ValueError(f"got {len(labels)} labels for {messages.shape[1]} components")
    keep = np.random.default_rng(0).permutation(messages.shape[0])[:max_points]
    plt = _pyplot()
    n = messages.shape[1]
    figure, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.4), squeeze=False)
    for k, axis in enumerate(axes[0]):
        x, y = fitted[keep, k], messages[keep, k]
        axis.scatter(x, y, s=3, alpha=0.4, linewidths=0)
        finite = np.isfinite(x) & np.isfinite(y)
        if finite.any():
            low, high = np.percentile(np.concatenate([x[finite], y[finite]]), [1, 99])
            axis.plot([low, high], [low, high], color="black", linewidth=0.8)
            axis.set_xlim(low, high)
            axis.set_ylim(low, high)
        title = labels[k] if r2 is None else f"{labels[k]}  (R² = {r2[k]:.3f})"
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("linear fit of true force")
        axis.set_ylabel("message")
    return _save(figure, path)


def plot_pareto_front(
    complexity: Sequence[float], loss: Sequence[float], chosen: int | None, path: str | os.PathLike[str], title: str = "",
    chosen_label: str = "chosen",
) -> Path:
    """Plot loss against complexity of a hall of fame, marking the chosen formula.

    ``chosen`` is the complexity of the selected expression (None for no marker);
    ``chosen_label`` names it in the legend, for example with the rule that chose it.
    """
    complexity = np.asarray(complexity, dtype=float)
    loss = np.asarray(loss, dtype=float)
    if complexity.shape != loss.shape or complexity.ndim != 1:
        raise ValueError(f"complexity and loss must be 1-D of equal length, got {complexity.shape} and {loss.shape}")
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.6, 3.4))
    valid = np.isfinite(loss) & (loss > 0)
    axis.step(complexity[valid], loss[valid], where="post", color="tab:blue", linewidth=1)
    axis.scatter(complexity[valid], loss[valid], s=12, color="tab:blue", label="hall of fame")
    if chosen is not None:
        mark = valid & (complexity == chosen)
        axis.scatter(complexity[mark], loss[mark], s=80, facecolors="none", edgecolors="tab:red", linewidths=1.5,
                     label=chosen_label)
    if valid.any():
        axis.set_yscale("log")
    axis.set_xlabel("complexity")
    axis.set_ylabel("loss")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=8)
    return _save(figure, path)


def plot_training_curve(
    steps: Sequence[float], train_loss: Sequence[float], path: str | os.PathLike[str],
    test_steps: Sequence[float] = (), test_loss: Sequence[float] = (), ylabel: str = "loss",
) -> Path:
    """Plot training loss (and test loss when given) against the training step; ``ylabel`` names the loss."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.8, 3.4))
    if len(steps):
        axis.plot(steps, train_loss, linewidth=1, label="train")
    if len(test_steps):
        axis.plot(test_steps, test_loss, marker="o", markersize=3, linewidth=1, label="test")
    positive = [v for v in (*train_loss, *test_loss) if np.isfinite(v) and v > 0]
    if positive:
        axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel(ylabel)
    axis.legend(fontsize=8)
    return _save(figure, path)
