"""Choose distilled N-body formulas by their acceleration error after a short joint refit.

The ``score`` rule ranks each hall of fame by how well its candidates fit one internal
function of the network. A message component that mixes the pair force with a factor
of the receiver's mass, for example, can make a linear candidate look best by that
rule although a force law lies on the same front. The substituted model is judged on
the accelerations. :func:`screen_formulas` therefore gives every candidate of every
fitted function a short joint refit inside the symbolic model. It keeps the least
complex candidate whose error on held-out training graphs is close to the lowest. The
functions are screened one at a time (edge components, then node outputs), the others
held at their current choice.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np


logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ScreenSet:
    """Training graphs for the screening refits and held-out graphs that judge them.

    Shapes
    ------
    fit_states, check_states : [n_graphs, N, F]
    fit_targets, check_targets : [n_graphs, N, dim]
    """

    fit_states: np.ndarray
    fit_targets: np.ndarray
    check_states: np.ndarray
    check_targets: np.ndarray


def screen_formulas(
    fits: Mapping[str, Sequence[Mapping[str, Any]]], run_dir: Path, build: Callable[[list, list], Any],
    data: ScreenSet, refit_config: Any, tolerance: float, passes: int = 5,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Screen every hall-of-fame candidate of each fitted function; return the choices and the results.

    Parameters
    ----------
    fits : mapping
        ``{"edge": [...], "node": [...]}`` entries with ``component``, ``sympy``,
        ``variables`` and ``hall_of_fame`` (CSV path relative to ``run_dir``). Node
        candidates must use a summed message (a node variable named ``E<k>``).
    build : callable
        ``build(edge_formulas, node_formulas)`` returns the symbolic torch model.
    data : ScreenSet
        Refit and judging graphs.
    refit_config : symdistill.symbolic.RefitConfig
        Settings of each short refit.
    tolerance : float
        The simplest candidate whose error is within ``1 + tolerance`` times the
        minimum error is kept.
    passes : int
        Rounds over all functions. A later round judges each function's candidates with
        the others' new choices; the rounds stop early when no choice changes.

    Returns
    -------
    chosen : the entries of ``fits`` with ``sympy``, ``complexity`` and ``loss`` of the
        kept candidates, and ``selected_by`` set to ``"screening"``.
    results : per component, the refitted error of every candidate.
    """
    import pandas as pd

    chosen = {part: [dict(entry) for entry in fits[part]] for part in ("edge", "node")}
    results: dict[str, list[dict[str, Any]]] = {}
    tables = {entry["component"]: pd.read_csv(run_dir / entry["hall_of_fame"]) for part in ("edge", "node")
              for entry in fits[part]}
    # Errors this far apart are equal for the choice: a thousandth of predicting zero.
    floor = 1e-3 * float(np.abs(data.check_targets).mean())
    screened_with: dict[str, list[str]] = {}
    for round_index in range(passes):
        before = _choices(chosen)
        _screen_round(chosen, tables, build, data, refit_config, (tolerance, floor), results, screened_with)
        if _choices(chosen) == before:
            logger.info("screening round %d changed no formula; stopping", round_index + 1)
            break
    return chosen, results


def _choices(chosen: Mapping[str, list[dict[str, Any]]]) -> list[str]:
    return [entry["sympy"] for part in ("edge", "node") for entry in chosen[part]]


def _screen_round(chosen: dict[str, list[dict[str, Any]]], tables: Mapping[str, Any], build: Callable[[list, list], Any],
                  data: ScreenSet, refit_config: Any, tolerance: tuple[float, float],
                  results: dict[str, list[dict[str, Any]]], screened_with: dict[str, list[str]]) -> None:
    """Screen each function once, in place, the others held at their current choice.

    A function is skipped when every formula is unchanged since it was last screened.
    """
    from symdistill.symbolic import Formula

    messages = {name for entry in chosen["node"] for name in entry["variables"] if name.startswith("E")}
    for part in ("edge", "node"):
        for index, current in enumerate(chosen[part]):
            if screened_with.get(current["component"]) == _choices(chosen):
                continue
            table = tables[current["component"]]
            candidates, errors = [], []
            for row in table.itertuples():
                try:
                    formula = Formula.parse(current["component"], str(row.equation), current["variables"])
                except ValueError as failure:
                    logger.info("screening skips %s candidate %s: %s", current["component"], row.equation, failure)
                    continue
                if part == "node" and not {str(v) for v in formula.expr.free_symbols} & messages:
                    continue  # a node formula without summed messages leaves the edge formulas unused
                trial = {key: list(chosen[key]) for key in ("edge", "node")}
                trial[part][index] = {**current, "sympy": str(formula.expr)}
                error = _refitted_error(trial, build, data, refit_config)
                candidates.append({"sympy": str(formula.expr), "complexity": int(row.complexity), "loss": float(row.loss)})
                errors.append(error)
            results[current["component"]] = [
                {"complexity": c["complexity"], "equation": c["sympy"], "validation_mae": e}
                for c, e in zip(candidates, errors)
            ]
            best = _simplest_within(candidates, errors, *tolerance)
            if best is None:
                logger.warning("screening found no candidate for %s with a finite error; keeping %s",
                               current["component"], current["sympy"])
                continue
            chosen[part][index] = {**current, **candidates[best], "selected_by": "screening"}
            screened_with[current["component"]] = _choices(chosen)
            logger.info("screening chose %s = %s (complexity %d, validation MAE %.4g)", current["component"],
                        candidates[best]["sympy"], candidates[best]["complexity"], errors[best])


def _simplest_within(candidates: list[dict[str, Any]], errors: list[float], tolerance: float,
                     floor: float) -> int | None:
    """Return the index of the least complex candidate within ``tolerance`` or ``floor`` of the lowest error.

    The bound is the larger of ``(1 + tolerance)`` times the lowest finite error and the
    lowest plus ``floor``; ties in complexity go to the lower error. None when no error
    is finite.
    """
    finite = [error for error in errors if math.isfinite(error)]
    if not finite:
        return None
    lowest = min(finite)
    bound = max(lowest * (1 + tolerance), lowest + floor)
    eligible = [i for i, error in enumerate(errors) if math.isfinite(error) and error <= bound]
    return min(eligible, key=lambda i: (candidates[i]["complexity"], errors[i]))


def _refitted_error(entries: Mapping[str, list], build: Callable[[list, list], Any], data: ScreenSet,
                    refit_config: Any) -> float:
    """Refit one trial model briefly and return its mean absolute error on the judging graphs."""
    import torch

    from symdistill.symbolic import Formula, mean_absolute_error, refit

    try:
        formulas = {part: [Formula.parse(e["component"], e["sympy"], e["variables"]) for e in entries[part]]
                    for part in ("edge", "node")}
        model = build(formulas["edge"], formulas["node"])
        refit(model, data.fit_states, data.fit_targets, refit_config)
        return mean_absolute_error(model, torch.as_tensor(data.check_states), torch.as_tensor(data.check_targets))
    except (ValueError, RuntimeError, TypeError, ZeroDivisionError, OverflowError) as failure:
        logger.info("screening a candidate failed: %s", failure)
        return math.inf
