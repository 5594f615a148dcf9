"""Render a discovery report dictionary as Markdown with LaTeX formulas."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import sympy


def formula_latex(text: str | None, variables: Sequence[str] = ()) -> str:
    """Return the LaTeX of a sympy string, numbers rounded to 4 significant digits."""
    if not text:
        return ""
    local = {name: sympy.Symbol(name) for name in variables}
    try:
        expr = sympy.sympify(text, locals=local)
    except (sympy.SympifyError, SyntaxError, TypeError):
        return r"\text{" + text.replace("_", r"\_") + "}"
    rounded = expr.xreplace({f: sympy.Float(f, 4) for f in expr.atoms(sympy.Float)})
    return sympy.latex(rounded)


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}g}"
    return str(value)


def _formula_section(title: str, entries: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [f"## {title}", ""]
    for entry in entries:
        variables = entry.get("variables", ())
        lines.append(f"**{entry['component']}**")
        lines.append("")
        lines.append("From symbolic regression:")
        lines.append("")
        lines.append(f"$$ {formula_latex(entry.get('sympy'), variables)} $$")
        if entry.get("sympy_refit"):
            lines.append("")
            lines.append("After the joint refit:")
            lines.append("")
            lines.append(f"$$ {formula_latex(entry['sympy_refit'], variables)} $$")
        extra = [f"{key} {_number(entry[key])}" for key in ("complexity", "loss") if key in entry]
        if extra:
            lines.append("")
            lines.append("(" + ", ".join(extra) + ")")
        lines.append("")
    return lines


def render_markdown(report: Mapping[str, Any]) -> str:
    """Return ``report.md`` for a ``report.json`` dictionary."""
    lines = [f"# symdistill discovery: {report.get('system')} {report.get('dim')}D, model {report.get('model')}", ""]
    setup = report.get("setup", {})
    if setup:
        lines += ["| setting | value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in setup.items()]
        lines.append("")

    if report.get("message_r2") is not None:
        lines += ["## Messages", ""]
        lines.append(
            f"Top components {report.get('top_components')}: R² of a linear fit of the true pair force to "
            f"each component, mean {_number(report['message_r2'])} "
            f"(per component {[round(v, 4) for v in report.get('message_r2_per_component', [])]})."
        )
        lines.append("")

    edge_title = "Pair energy" if report.get("model") == "flathgn" else "Edge formulas (message components)"
    node_title = "Self energy" if report.get("model") == "flathgn" else "Node formulas"
    lines += _formula_section(edge_title, report.get("edge_formulas", []))
    lines += _formula_section(node_title, report.get("node_formula", []))

    checks = report.get("checks", {})
    if checks:
        lines += ["## Checks against the simulator", ""]
        for key, value in checks.items():
            lines.append(f"- `{key}`: {_number(value)}")
        lines.append("")

    lines += ["## Losses", ""]
    lines.append(report.get("loss_definition", ""))
    lines.append("")
    lines += ["| data | GN | symbolic | symbolic / GN |", "|---|---|---|---|"]
    for key, label in (("train_loss", "training"), ("test_loss", "test"), ("ood_loss", "out of distribution")):
        losses = report.get(key)
        if not losses:
            continue
        gn, symbolic = losses.get("gn"), losses.get("symbolic")
        ratio = symbolic / gn if isinstance(gn, float) and isinstance(symbolic, float) and gn > 0 else None
        lines.append(f"| {label} | {_number(gn)} | {_number(symbolic)} | {_number(ratio, 3)} |")
    lines.append("")
    if report.get("test_description"):
        lines.append(f"Test data: {report['test_description']}.")
    if report.get("ood_description"):
        lines.append(f"Out-of-distribution data: {report['ood_description']}.")
    lines.append("")

    times = report.get("wall_time_s", {})
    if times:
        lines += ["## Wall time", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {stage} | {_number(seconds, 3)} |" for stage, seconds in times.items()]
        lines.append("")

    plots = report.get("plots", {})
    if plots:
        lines += ["## Plots", ""]
        lines += [f"![{name}]({path})" for name, path in plots.items()]
        lines.append("")
    return "\n".join(lines)
