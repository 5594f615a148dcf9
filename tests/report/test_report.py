"""Report writers: JSON and Markdown content, figures."""

import json

import numpy as np
import pytest

from symdistill.report import (
    formula_latex,
    plot_messages_vs_forces,
    plot_pareto_front,
    plot_training_curve,
    render_markdown,
    write_report,
)

REPORT = {
    "system": "spring",
    "dim": 2,
    "model": "l1",
    "message_r2": 0.99,
    "message_r2_per_component": [0.995, 0.985],
    "top_components": [12, 40],
    "edge_formulas": [
        {"component": "e12", "sympy": "0.5*dx*(r - 1.0)/r", "sympy_refit": "0.49*dx*(r - 1.01)/r", "variables": ["dx", "r"]}
    ],
    "node_formula": [{"component": "ax", "sympy": "2.0*E12/m", "sympy_refit": "1.98*E12/m", "variables": ["E12", "m"]}],
    "test_loss": {"gn": 0.1, "symbolic": 0.05},
    "ood_loss": {"gn": 0.4, "symbolic": 0.06},
    "checks": {"edge_formula_force_r2": 0.999},
    "wall_time_s": {"train": 12.5},
}


def test_formula_latex_rounds_constants():
    assert formula_latex("0.123456789*dx/r", ["dx", "r"]) == r"\frac{0.1235 dx}{r}"


def test_formula_latex_falls_back_to_text():
    assert formula_latex("dx +* r").startswith(r"\text{")


def test_markdown_has_formulas_and_losses():
    text = render_markdown(REPORT)
    assert "# symdistill discovery: spring 2D, model l1" in text
    assert r"\frac{0.49 dx \left(r - 1.01\right)}{r}" in text
    assert "| test | 0.1 | 0.05 | 0.5 |" in text
    assert "`edge_formula_force_r2`: 0.999" in text


def test_write_report_round_trips_json(tmp_path):
    json_path, markdown_path = write_report(tmp_path, REPORT)
    assert json.loads(json_path.read_text()) == REPORT
    assert markdown_path.read_text().startswith("# symdistill discovery")


def test_plots_write_png_files(tmp_path):
    rng = np.random.default_rng(0)
    forces = rng.normal(size=(200, 2))
    paths = [
        plot_messages_vs_forces(forces + 0.01 * rng.normal(size=forces.shape), forces, ["e0", "e1"], tmp_path / "m.png", [0.99, 0.98]),
        plot_pareto_front([1, 3, 5, 7], [1.0, 0.5, 0.01, 0.009], 5, tmp_path / "p.png", "e0"),
        plot_training_curve([0, 1, 2], [3.0, 2.0, 1.0], tmp_path / "t.png", [2], [1.5]),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_messages_plot_rejects_shape_mismatch(tmp_path):
    with pytest.raises(ValueError, match="n_components"):
        plot_messages_vs_forces(np.zeros((10, 2)), np.zeros((10, 3)), ["a", "b"], tmp_path / "x.png")


def test_markdown_defines_edge_variables():
    text = render_markdown(REPORT)
    assert "receiver minus sender" in text
    assert "`E_k` is message component `e_k` summed" in text


def test_markdown_warns_when_symbolic_loses():
    report = dict(REPORT, test_loss={"gn": 0.2, "symbolic": 2.4})
    text = render_markdown(report)
    assert "**Warning:** the symbolic model's test loss is 12 times" in text


def test_markdown_no_warning_when_symbolic_agrees():
    assert "**Warning:**" not in render_markdown(REPORT)


def test_markdown_gives_trimmed_message_r2_when_known():
    assert "trimmed fit" not in render_markdown(REPORT)
    text = render_markdown({**REPORT, "message_r2_trimmed": 0.97})
    assert "trimmed fit (the largest 10% of squared residuals dropped), the mean is 0.97" in text
