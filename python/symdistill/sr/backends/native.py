"""The native backend: symdistill's own Numba-accelerated evolutionary search."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import ClassVar, Sequence

from symdistill.sr.backends.base import Candidate, Problem
from symdistill.sr.hall_of_fame import read_trees
from symdistill.sr.options import SearchOptions
from symdistill.sr.search import SearchResult, run_search
from symdistill.sr.tree import Tree, to_sympy, to_string

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class NativeCandidate(Candidate):
    """A candidate that also keeps its postfix tree, so ``predict`` reuses the search kernels."""

    tree: Tree = ()


class NativeBackend:
    """Regularised evolution over several islands (see :mod:`symdistill.sr.search`)."""

    name: ClassVar[str] = "native"

    def __init__(self) -> None:
        self.result: SearchResult | None = None

    def check(self, problem: Problem, options: SearchOptions) -> None:
        """Raise ``ValueError`` for option combinations the native engine cannot run.

        The native engine runs every combination that :class:`SearchOptions` accepts.
        """

    def search(self, problem: Problem, options: SearchOptions, seeds: Sequence[Tree] = ()) -> list[Candidate]:
        """Run the search and return the Pareto front as candidates.

        ``seeds`` are postfix trees placed into the initial populations (warm start).
        """
        self.check(problem, options)
        seeds = list(seeds) + guess_trees(problem, options)
        result = run_search(problem, options, seeds)
        self.result = result
        operators = result.evaluator.operators
        symbols = problem.symbols
        return [
            NativeCandidate(
                complexity=complexity,
                loss=loss,
                expression=to_sympy(tree, operators, symbols),
                equation=to_string(tree, operators, problem.variable_names),
                tree=tree,
            )
            for complexity, loss, tree in result.hall_of_fame.pareto_front()
        ]


def guess_trees(problem: Problem, options: SearchOptions) -> list[Tree]:
    """Convert ``problem.guesses`` into trees; raise ``ValueError`` naming a bad guess."""
    from symdistill.sr.from_sympy import tree_from_sympy

    return [tree_from_sympy(guess, options.operator_set, problem.variable_names) for guess in problem.guesses]


def warm_start_trees(path: str | os.PathLike[str], options: SearchOptions, n_features: int) -> list[Tree]:
    """Read seed trees from a hall-of-fame CSV; log and return none when it is unusable."""
    operators = options.operator_set.by_name()
    try:
        return read_trees(path, operators, n_features)
    except (OSError, ValueError) as error:
        logger.warning("cannot warm-start from %s: %s", os.fspath(path), error)
        return []
