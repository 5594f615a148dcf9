"""Choose distilled halo formulas by their error on delta after a short joint refit.

Symbolic regression ranks candidates by how well they fit the GN's messages or
predictions, while the final model is judged on delta after every constant is refitted.
:func:`screen_candidates` refits each hall-of-fame candidate briefly and keeps the least
complex one whose error on held-out training halos is close to the lowest
(:func:`simplest_within`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Mapping

from symdistill.halos_symbolic import model_from_entries
from symdistill.symbolic.formula import Formula

logger = logging.getLogger(__name__)


def screen_candidates(part: str, chosen: Mapping[str, Mapping[str, Any]], hall_of_fame: Path, fit_set: tuple,
                      check_set: tuple, config: Any, tolerance: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Refit each candidate of ``part`` ("edge" or "node") briefly; return the chosen entry and every result.

    ``chosen`` contains the current edge and node entries (``component``, ``sympy``,
    ``variables``), and ``hall_of_fame`` is the CSV of the candidates for ``part``.
    ``fit_set`` and ``check_set`` are (dense states, targets, max_degree) of the refit
    halos and of the halos that judge the refitted candidates. The least complex
    candidate whose error is within ``tolerance`` (relative) of the lowest is chosen.
    """
    import pandas as pd
    import torch

    from symdistill.symbolic import mean_absolute_error, refit

    current = chosen[part]
    table = pd.read_csv(hall_of_fame)
    results, candidates = [], []
    for row in table.itertuples():
        try:
            expr = Formula.parse(current["component"], str(row.equation), current["variables"]).expr
        except ValueError as failure:
            logger.info("screening skips %s candidate %s: %s", part, row.equation, failure)
            continue
        candidate = {**current, "sympy": str(expr), "complexity": int(row.complexity), "loss": float(row.loss)}
        pair = {**chosen, part: candidate}
        try:
            model = model_from_entries(pair["edge"], pair["node"], "sympy", fit_set[2])
            refit(model, fit_set[0], fit_set[1], config)
            edge, node = model.formulas()
            refitted_edge = {**pair["edge"], "sympy": str(edge.expr)}
            refitted_node = {**pair["node"], "sympy": str(node.expr)}
            judged = model_from_entries(refitted_edge, refitted_node, "sympy", check_set[2]).double()
            error = mean_absolute_error(judged, torch.as_tensor(check_set[0]), torch.as_tensor(check_set[1]),
                                        batch_size=512)
        except (ValueError, RuntimeError, TypeError, ZeroDivisionError) as failure:
            logger.info("screening %s candidate %s failed: %s", part, row.equation, failure)
            error = math.inf
        results.append({"complexity": int(row.complexity), "equation": str(row.equation), "validation_mae": error})
        candidates.append((candidate, error))
    index = simplest_within([c["complexity"] for c, _ in candidates], [error for _, error in candidates], tolerance)
    if index is None:
        logger.warning("screening found no %s candidate with a finite error; keeping %s", part, current["sympy"])
        return dict(current), results
    best, error = candidates[index]
    logger.info("screening chose %s = %s (complexity %d, validation MAE %.4g)", part, best["sympy"],
                best["complexity"], error)
    return best, results


def simplest_within(complexities: list[int], errors: list[float], tolerance: float) -> int | None:
    """Return the index of the least complex entry whose error is within ``tolerance`` of the lowest.

    The error bound is ``(1 + tolerance)`` times the lowest finite error, a guard against
    complex formulas that fit the training range but extrapolate worse. Ties in
    complexity go to the lower error. Returns None when no error is finite.
    """
    finite = [error for error in errors if math.isfinite(error)]
    if not finite:
        return None
    bound = min(finite) * (1 + tolerance)
    eligible = [i for i, error in enumerate(errors) if math.isfinite(error) and error <= bound]
    return min(eligible, key=lambda i: (complexities[i], errors[i]))
