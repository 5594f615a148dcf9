"""Report writers: ``report.json``, ``report.md`` with LaTeX formulas, and figures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from symdistill._io import atomic_write_json, atomic_write_text
from symdistill.report.markdown import formula_latex, render_markdown
from symdistill.report.plots import plot_messages_vs_forces, plot_pareto_front, plot_training_curve

__all__ = [
    "formula_latex",
    "plot_messages_vs_forces",
    "plot_pareto_front",
    "plot_training_curve",
    "render_markdown",
    "write_report",
]


def write_report(run_dir: str | os.PathLike[str], report: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``run_dir`` atomically and return their paths."""
    run_dir = Path(run_dir)
    json_path, markdown_path = run_dir / "report.json", run_dir / "report.md"
    atomic_write_json(json_path, dict(report))
    atomic_write_text(markdown_path, render_markdown(report))
    return json_path, markdown_path
