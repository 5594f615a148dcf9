"""SymbolicRegression.jl through juliacall, as an optional backend (``backend="julia"``).

Install with ``pip install symdistill[julia]``. The first search downloads Julia (if none
is found) and the packages pinned in ``julia/juliapkg.json``. Every new process also
pays Julia's compilation time before the search starts.

The backend stays thin: :mod:`symdistill.sr.backends.julia_translate` builds the
``Options(...)`` code and parses the equations (pure Python, tested without Julia), and
``julia/SymDistillSR.jl`` holds the Julia side (the ``IF`` operator, the
graph-aggregated loss and the search call). Julia runs in this process, so a search
blocks the calling thread until it returns.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from symdistill.sr.backends.base import Candidate, Problem
from symdistill.sr.backends.julia_translate import (
    julia_options_code,
    julia_support_problems,
    parse_julia_equation,
    search_call_settings,
)
from symdistill.sr.options import SearchOptions

__all__ = ["JuliaBackend", "julia_source_dir"]

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install symdistill[julia]"

# The Julia runtime is process-wide, so it is loaded once and shared.
_JULIA_MAIN: Any = None


def julia_source_dir() -> Path:
    """Return the folder with ``SymDistillSR.jl`` and ``juliapkg.json``.

    ``SYMDISTILL_JULIA_DIR`` overrides the default, the ``julia/`` folder of the
    source checkout.

    Raises
    ------
    FileNotFoundError
        If the folder or the module file is missing.
    """
    override = os.environ.get("SYMDISTILL_JULIA_DIR")
    # NOTE: julia/ sits at the repository root, so only source checkouts (including
    # editable installs) find it without SYMDISTILL_JULIA_DIR.
    folder = Path(override) if override else Path(__file__).resolve().parents[4] / "julia"
    if not (folder / "SymDistillSR.jl").is_file():
        raise FileNotFoundError(
            f"SymDistillSR.jl not found in {folder}; set SYMDISTILL_JULIA_DIR to the julia/ folder "
            "of a symdistill source checkout"
        )
    return folder


def _require_juliacall() -> None:
    if importlib.util.find_spec("juliacall") is None:
        raise ImportError(
            "the 'julia' backend needs juliacall, which is not installed; install it with: "
            f"{INSTALL_HINT} (the first search then downloads Julia and SymbolicRegression.jl)"
        )


def _load_julia(threads: int | None):
    """Start Julia once, with the packages of ``juliapkg.json`` and ``SymDistillSR`` loaded."""
    global _JULIA_MAIN
    if _JULIA_MAIN is not None:
        return _JULIA_MAIN
    _require_juliacall()
    folder = julia_source_dir()
    import juliapkg

    spec = json.loads((folder / "juliapkg.json").read_text())
    juliapkg.require_julia(spec["julia"])
    for name, package in spec["packages"].items():
        juliapkg.add(name, package["uuid"], version=package.get("version"), url=package.get("url"), rev=package.get("rev"))
    # These variables only take effect before juliacall starts Julia.
    if threads is not None:
        os.environ.setdefault("PYTHON_JULIACALL_THREADS", str(threads))
    os.environ.setdefault("PYTHON_JULIACALL_HANDLE_SIGNALS", "yes")
    logger.info("starting Julia (the first start installs packages and can take minutes)")
    from juliacall import Main

    Main.seval(f"include({json.dumps(str(folder / 'SymDistillSR.jl'))})")
    Main.seval("using SymbolicRegression, .SymDistillSR")
    _JULIA_MAIN = Main
    return Main


class JuliaBackend:
    """Run SymbolicRegression.jl's ``equation_search`` behind ``SymbolicRegressor``.

    Raises
    ------
    ImportError
        On construction when juliacall is not installed; the message gives the
        ``pip install symdistill[julia]`` command.
    """

    name = "julia"

    def __init__(self) -> None:
        _require_juliacall()

    def check(self, problem: Problem, options: SearchOptions) -> None:
        """Raise ``ValueError`` listing every option SymbolicRegression.jl cannot honour here."""
        problems = julia_support_problems(problem, options)
        if problems:
            raise ValueError("options not supported by the julia backend: " + "; ".join(problems))

    def search(self, problem: Problem, options: SearchOptions) -> list[Candidate]:
        """Run the search and return the hall of fame, one candidate per complexity."""
        self.check(problem, options)
        settings = search_call_settings(problem, options)
        jl = _load_julia(settings.threads)
        julia_options = jl.seval(julia_options_code(options, problem))

        # SymbolicRegression.jl takes features x rows.
        X = np.ascontiguousarray(problem.X.T)
        keywords: dict[str, Any] = {
            "options": julia_options,
            "niterations": settings.niterations,
            "parallelism": jl.Symbol(settings.parallelism),
        }
        if settings.graph is not None:
            graph = settings.graph
            keywords["extra"] = jl.SymDistillSR.graph_extra(
                graph["receivers"],
                graph["node_targets"],
                graph["node_divisor"],
                graph["node_weights"],
                graph["loss_kind"],
                graph["huber_delta"],
            )
            # The graph loss reads its targets from `extra`; y only sets the row count.
            y = np.zeros(problem.n_rows)
        else:
            y = problem.y
            if problem.weights is not None:
                keywords["weights"] = problem.weights
        logger.info("starting SymbolicRegression.jl search (%s)", settings.parallelism)
        rows = jl.SymDistillSR.search_hall_of_fame(X, y, **keywords)
        return [self._candidate(row, problem) for row in rows]

    @staticmethod
    def _candidate(row, problem: Problem) -> Candidate:
        complexity, loss, equation = int(row[0]), float(row[1]), str(row[2])
        expression = parse_julia_equation(equation, problem.variable_names)
        return Candidate(complexity=complexity, loss=loss, expression=expression, equation=equation)
