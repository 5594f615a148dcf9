"""Hall of fame (best tree per complexity), Pareto front, scores and the CSV file.

The CSV has the columns ``complexity, loss, score, equation, tree``; ``tree`` is the
lossless postfix form from :func:`symdistill.sr.tree.serialize`, which a later fit
reads back to warm-start. The file is rewritten atomically, so a reader never sees a
partial file.
"""

from __future__ import annotations

import csv
import io
import math
import os
from typing import Mapping, Sequence

import numpy as np

from symdistill._io import atomic_write_text
from symdistill.sr.operators import Operator
from symdistill.sr.tree import Tree, parse, serialize, to_string

CSV_COLUMNS = ("complexity", "loss", "score", "equation", "tree")

_LOSS_FLOOR = 1e-300
"""Losses are floored here before taking logs, so a zero loss gets a finite score."""

RELATIVE_LOSS_FLOOR = 1e-20
"""Losses below this fraction of the simplest entry's loss count as equal (exact fits
differ only by rounding there), for scores and for the ``best`` rule."""


def _loss_floor(losses) -> float:
    first = float(losses[0]) if len(losses) else 0.0
    if math.isfinite(first) and first > 0:
        return max(_LOSS_FLOOR, RELATIVE_LOSS_FLOOR * first)
    return _LOSS_FLOOR


class HallOfFame:
    """The lowest-loss tree seen at each complexity."""

    def __init__(self) -> None:
        self.entries: dict[int, tuple[float, Tree]] = {}

    def update(self, tree: Tree, loss: float, complexity: int) -> bool:
        """Store ``tree`` if it beats the current entry at its complexity; return whether it did."""
        if not math.isfinite(loss):
            return False
        current = self.entries.get(complexity)
        if current is None or loss < current[0]:
            self.entries[complexity] = (loss, tree)
            return True
        return False

    def pareto_front(self) -> list[tuple[int, float, Tree]]:
        """Return ``(complexity, loss, tree)`` entries whose loss beats every simpler entry."""
        front = []
        best = math.inf
        for complexity in sorted(self.entries):
            loss, tree = self.entries[complexity]
            if loss < best:
                front.append((complexity, loss, tree))
                best = loss
        return front

    def best_loss(self) -> float:
        return min((loss for loss, _ in self.entries.values()), default=math.inf)


def pareto_scores(complexities: Sequence[int], losses: Sequence[float]) -> np.ndarray:
    """Return the score of each Pareto-front entry: ``-d log(loss) / d complexity``.

    The first entry scores 0. Losses are floored at 1e-20 times the first entry's
    loss (at least 1e-300), so exact fits get a large but finite score and do not
    outscore each other through rounding noise.

    Shapes
    ------
    complexities, losses : [n] sorted by complexity; returns [n]
    """
    scores = np.zeros(len(losses))
    floor = _loss_floor(losses)
    for i in range(1, len(losses)):
        previous = max(losses[i - 1], floor)
        current = max(losses[i], floor)
        scores[i] = max(0.0, -math.log(current / previous) / (complexities[i] - complexities[i - 1]))
    return scores


def select_index(losses: Sequence[float], scores: Sequence[float], strategy: str) -> int:
    """Return the index of the selected front entry.

    ``accuracy``: the lowest loss. ``score``: the highest score. ``best``: the highest
    score among entries with loss <= 1.5 x the lowest loss, where losses below the
    relative floor (``RELATIVE_LOSS_FLOOR``) count as equal.
    """
    losses = np.asarray(losses, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if losses.size == 0:
        raise ValueError("cannot select a model from an empty Pareto front")
    if strategy == "accuracy":
        return int(np.argmin(losses))
    if strategy == "score":
        return int(np.argmax(scores))
    if strategy == "best":
        eligible = losses <= 1.5 * max(losses.min(), _loss_floor(losses))
        masked = np.where(eligible, scores, -np.inf)
        return int(np.argmax(masked))
    raise ValueError(f"model_selection={strategy!r} is invalid; use 'best', 'score' or 'accuracy'")


def write_csv(
    path: str | os.PathLike[str],
    front: Sequence[tuple[int, float, Tree]],
    operators: Mapping[int, Operator],
    variable_names: Sequence[str],
) -> None:
    """Write the Pareto front to ``path`` atomically."""
    scores = pareto_scores([c for c, _, _ in front], [loss for _, loss, _ in front])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for (complexity, loss, tree), score in zip(front, scores):
        writer.writerow(
            [complexity, repr(float(loss)), repr(float(score)), to_string(tree, operators, variable_names), serialize(tree, operators)]
        )
    atomic_write_text(path, buffer.getvalue())


def read_trees(path: str | os.PathLike[str], operators_by_name: Mapping[str, Operator], n_features: int) -> list[Tree]:
    """Read the trees of a hall-of-fame CSV written by :func:`write_csv`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file lacks a ``tree`` column or a tree uses an operator not chosen now.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"hall-of-fame file not found: {os.fspath(path)!r}")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "tree" not in reader.fieldnames:
            raise ValueError(f"{os.fspath(path)!r} has no 'tree' column; it was not written by symdistill")
        return [parse(row["tree"], operators_by_name, n_features) for row in reader]
