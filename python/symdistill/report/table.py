"""Paper-style tables over many discovery runs: message R^2, losses, recovered or not."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from symdistill._io import atomic_write_text

COLUMNS = (
    "system", "dim", "model", "message_r2", "message_r2_trimmed", "formula_r2", "recovered", "test_loss_gn", "test_loss_symbolic",
    "ood_loss_gn", "ood_loss_symbolic", "edge_formula", "wall_time_s",
)


def table_row(report: Mapping[str, Any], recovered_r2: float = 0.99) -> dict[str, Any]:
    """Summarise one ``report.json`` as a table row.

    ``formula_r2`` is the R^2 of the refitted edge formulas against the true pair
    force (``edge_formula_force_r2``). For ``flathgn`` it is the R^2 of the pair energy
    against the true pair potential (``pair_energy_r2``). ``recovered`` is whether
    ``formula_r2`` reaches ``recovered_r2``.
    """
    formula_r2 = report.get("edge_formula_force_r2", report.get("pair_energy_r2"))
    edges = report.get("edge_formulas", [])
    times = report.get("wall_time_s", {})
    return {
        "system": report.get("system"),
        "dim": report.get("dim"),
        "model": report.get("model"),
        "message_r2": report.get("message_r2"),
        "message_r2_trimmed": report.get("message_r2_trimmed"),
        "formula_r2": formula_r2,
        "recovered": bool(formula_r2 is not None and math.isfinite(formula_r2) and formula_r2 >= recovered_r2),
        "test_loss_gn": report.get("test_loss", {}).get("gn"),
        "test_loss_symbolic": report.get("test_loss", {}).get("symbolic"),
        "ood_loss_gn": report.get("ood_loss", {}).get("gn"),
        "ood_loss_symbolic": report.get("ood_loss", {}).get("symbolic"),
        "edge_formula": edges[0].get("sympy_refit") if edges else None,
        "wall_time_s": sum(v for k, v in times.items() if k != "total_this_invocation"),
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _r2_cell(row: Mapping[str, Any]) -> str:
    plain, trimmed = _cell(row.get("message_r2")), _cell(row.get("message_r2_trimmed"))
    return f"{plain} ({trimmed})" if plain and trimmed else plain


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Return the rows as CSV with the ``COLUMNS`` header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row.get(key) for key in COLUMNS})
    return buffer.getvalue()


def to_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """Return two Markdown tables: message R^2 (systems x models) and per-run results."""
    models = list(dict.fromkeys(str(r["model"]) for r in rows))
    systems = list(dict.fromkeys((str(r["system"]), r["dim"]) for r in rows))
    lines = ["## Message R² (linear fit of the true pair force to the top components)", "",
             "Each cell is the plain R², then in brackets the original code's trimmed R² (the largest 10% of "
             "squared residuals dropped).", ""]
    lines.append("| system | " + " | ".join(models) + " |")
    lines.append("|---" * (len(models) + 1) + "|")
    for system, dim in systems:
        cells = []
        for model in models:
            match = [r for r in rows if r["system"] == system and r["dim"] == dim and r["model"] == model]
            cells.append(_r2_cell(match[0]) if match else "")
        lines.append(f"| {system}-{dim} | " + " | ".join(cells) + " |")
    lines += ["", "## Symbolic models", ""]
    header = ("system", "model", "formula R²", "recovered", "test GN", "test symbolic", "OOD GN", "OOD symbolic",
              "wall time (s)")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|---" * len(header) + "|")
    for r in rows:
        cells = (f"{r['system']}-{r['dim']}", r["model"], r["formula_r2"], r["recovered"], r["test_loss_gn"],
                 r["test_loss_symbolic"], r["ood_loss_gn"], r["ood_loss_symbolic"], r["wall_time_s"])
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_tables(rows: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``table.csv`` and ``table.md`` into ``out_dir`` atomically and return their paths."""
    out_dir = Path(out_dir)
    csv_path, markdown_path = out_dir / "table.csv", out_dir / "table.md"
    atomic_write_text(csv_path, to_csv(rows))
    atomic_write_text(markdown_path, to_markdown(rows))
    return csv_path, markdown_path
