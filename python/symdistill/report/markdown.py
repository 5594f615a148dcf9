"""Render a discovery report dictionary as Markdown with LaTeX formulas."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import sympy


# Largest symbolic / GN test-loss ratio reported without a warning.
AGREEMENT_RATIO = 2.0
# Largest GN / zero-prediction test-loss ratio reported without a warning.
LEARNED_RATIO = 0.5

CHECK_DESCRIPTIONS = {
    "edge_formula_force_r2": "R² of each refitted edge formula against its best linear combination of the "
    "true pair-force components plus a constant, on fresh test edges, averaged over components",
    "edge_formula_force_r2_per_component": "the same, per component",
    "edge_formula_force_per_mass_r2": "the same against the pair force divided by the receiver's mass; higher "
    "than the line above when the messages carry the receiver's acceleration rather than the force",
    "pair_energy_r2": "R² of the refitted pair energy against the scaled and offset true pair potential, "
    "on fresh test edges",
    "pair_energy_slope": "the scale of that fit",
    "n_check_edges": "test edges used by these checks",
}


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
    if any("loss" in entry for entry in entries):
        lines += ["The search loss is the symbolic-regression loss of the formula before the refit, "
                  "against the network's own function on the sampled inputs and in its units; "
                  "it is not comparable with the losses table below.", ""]
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
        # The search's loss is against the network's own function, not the accelerations.
        labels = {"complexity": "complexity", "loss": "search loss against the network's function"}
        extra = [f"{label} {_number(entry[key])}" for key, label in labels.items() if key in entry]
        if entry.get("selected_by"):
            extra.append(f"chosen by {entry['selected_by']}")
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

    if report.get("true_potential"):
        lines += [
            f"Simulated pair potential: $U = {formula_latex(report['true_potential'], _POTENTIAL_VARIABLES)}$, "
            f"where `r` is the distance plus the softening length {_number(report.get('softening'))} "
            "(in the formulas below `r` is the distance itself); the pair force on the receiver is "
            "-dU/d(receiver position).",
            "",
        ]
    if report.get("system") != "halos":
        lines += _variables_legend(report.get("model"))

    if report.get("message_r2") is not None:
        lines += ["## Messages", ""]
        lines.append(
            f"Top components {report.get('top_components')}: R² of a linear fit of the true pair force to "
            f"each component, mean {_number(report['message_r2'])} "
            f"(per component {[round(v, 4) for v in report.get('message_r2_per_component', [])]})."
        )
        if report.get("message_r2_trimmed") is not None:
            lines.append(
                f"With the original code's trimmed fit (the largest 10% of squared residuals dropped), "
                f"the mean is {_number(report['message_r2_trimmed'])}."
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
            if isinstance(value, list):
                text = str([round(v, 4) for v in value])
            else:
                text = _number(value)
            description = CHECK_DESCRIPTIONS.get(key)
            lines.append(f"- `{key}`: {text}" + (f" ({description})" if description else ""))
        lines.append("")

    lines += ["## Losses", ""]
    lines.append(report.get("loss_definition", ""))
    lines.append("")
    rows = (("train_loss", "training"), ("test_loss", "test"), ("ood_loss", "out of distribution"))
    with_zero = any(isinstance(report.get(key), Mapping) and "zero" in report[key] for key, _ in rows)
    header = "| data | GN | symbolic | symbolic / GN |" + (" predicting zero |" if with_zero else "")
    lines += [header, "|---|---|---|---|" + ("---|" if with_zero else "")]
    for key, label in rows:
        losses = report.get(key)
        if not losses:
            continue
        gn, symbolic = losses.get("gn"), losses.get("symbolic")
        ratio = symbolic / gn if isinstance(gn, float) and isinstance(symbolic, float) and gn > 0 else None
        line = f"| {label} | {_number(gn)} | {_number(symbolic)} | {_number(ratio, 3)} |"
        lines.append(line + (f" {_number(losses.get('zero'))} |" if with_zero else ""))
    lines.append("")
    lines += _learning_warning(report.get("test_loss"))
    lines += _agreement_warning(report.get("test_loss"))
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


def _variables_legend(model: Any) -> list[str]:
    lines = [
        "Variables: body 1 is the receiver and body 2 the sender of an edge; `dx`, `dy`, `dz` are "
        "receiver minus sender positions, `r` their distance; `x1`, `vx1`, `q1`, `m1` ... are the "
        "receiver's position, velocity, charge and mass, suffix 2 the sender's."
    ]
    if model != "flathgn":
        lines.append(
            "In node formulas, `E_k` is message component `e_k` summed over the body's incoming edges, "
            "and `x`, `vx`, `q`, `m` ... are the body's own state."
        )
    return lines + [""]


_POTENTIAL_VARIABLES = ("r", "m1", "m2", "q1", "q2")


def _learning_warning(test_loss: Any) -> list[str]:
    # A network that barely beats predicting zero has learned too little to distill.
    if not isinstance(test_loss, Mapping):
        return []
    gn, zero = test_loss.get("gn"), test_loss.get("zero")
    if not (isinstance(gn, float) and isinstance(zero, float) and zero > 0) or gn <= LEARNED_RATIO * zero:
        return []
    return [
        f"**Warning:** the graph network's test loss is {gn / zero:.3g} times that of predicting zero "
        f"(more than {LEARNED_RATIO:g} times), so it has learned little; train it longer before distilling it.",
        "",
    ]


def _agreement_warning(test_loss: Any) -> list[str]:
    # A substituted model that loses far more than the network does not describe what
    # the network learned.
    if not isinstance(test_loss, Mapping):
        return []
    gn, symbolic = test_loss.get("gn"), test_loss.get("symbolic")
    if not (isinstance(gn, float) and isinstance(symbolic, float) and gn > 0):
        return []
    ratio = symbolic / gn
    if ratio <= AGREEMENT_RATIO:
        return []
    return [
        f"**Warning:** the symbolic model's test loss is {ratio:.3g} times the graph network's "
        f"(more than {AGREEMENT_RATIO:g} times), so the formulas above do not reproduce the network; "
        "train longer or widen the symbolic search before reading them as the learned law.",
        "",
    ]
