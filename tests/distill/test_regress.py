"""Symbolic regression on graph-network parts: tables, choices, hall-of-fame files."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import sympy

from symdistill.distill.regress import (
    RegressionConfig,
    edge_variable_names,
    fit_edge_formulas,
    fit_edge_formulas_summed,
    fit_node_formulas,
    run_regression,
)
from symdistill.symbolic import state_names

SMALL = RegressionConfig(niterations=8, populations=2, population_size=20, timeout_in_seconds=20.0, n_edges=400,
                         n_nodes=300, procs=1, maxsize=12)


def _messages_table(n=600, seed=0):
    """A recorded-messages-like table whose component e3 is exactly 2 * dx - dy."""
    rng = np.random.default_rng(seed)
    columns = {}
    for name in edge_variable_names(2):
        columns[name] = rng.normal(size=n)
    columns["r"] = np.abs(columns["r"]) + 0.5
    columns["e3"] = 2.0 * columns["dx"] - columns["dy"]
    columns["e7"] = rng.normal(size=n)
    return pd.DataFrame(columns)


def test_edge_fit_finds_linear_message(tmp_path):
    (fit,) = fit_edge_formulas(_messages_table(), [3], 2, SMALL, tmp_path)
    assert fit.formula.component == "e3"
    assert fit.loss < 1e-6
    dx, dy = sympy.symbols("dx dy")
    assert fit.formula.expr.free_symbols == {dx, dy}
    assert abs(float(fit.formula.expr.coeff(dx)) - 2.0) < 1e-4


def test_edge_fit_writes_hall_of_fame(tmp_path):
    (fit,) = fit_edge_formulas(_messages_table(), [3], 2, SMALL, tmp_path)
    table = pd.read_csv(tmp_path / "hall_of_fame_e3.csv")
    assert {"complexity", "loss", "score", "equation", "chosen"} <= set(table.columns)
    assert table["chosen"].sum() == 1
    assert int(table.loc[table["chosen"], "complexity"].iloc[0]) == fit.complexity


def test_summed_edge_fit_recovers_edge_function(tmp_path):
    rng = np.random.default_rng(2)
    states = rng.normal(size=(60, 4, 6))
    dx = states[:, :, None, 0] - states[:, None, :, 0]
    dy = states[:, :, None, 1] - states[:, None, :, 1]
    # Self-pairs contribute 0 because dx = dy = 0 there.
    summed = (2.0 * dx - dy).sum(axis=2)[..., None]
    config = dataclasses.replace(SMALL, edge_variables="relative", niterations=15)
    (fit,) = fit_edge_formulas_summed(states, summed, [0], 2, config, tmp_path)
    assert fit.loss < 1e-6
    assert fit.formula.expr.free_symbols == set(sympy.symbols("dx dy"))


def test_edge_fit_rejects_missing_component(tmp_path):
    with pytest.raises(ValueError, match="e5"):
        fit_edge_formulas(_messages_table(), [5], 2, SMALL, tmp_path)


def test_node_fit_uses_summed_components(tmp_path):
    rng = np.random.default_rng(1)
    states = rng.normal(size=(100, 4, 6))
    states[..., -1] = np.exp(rng.normal(size=(100, 4)))
    summed = rng.normal(size=(100, 4, 5))
    outputs = np.stack([summed[..., 2] / states[..., -1], -summed[..., 4] / states[..., -1]], axis=-1)
    fits = fit_node_formulas(states, summed, outputs, [2, 4], 2, SMALL, tmp_path)
    assert [f.formula.component for f in fits] == ["ax", "ay"]
    assert list(fits[0].formula.variables) == [*state_names(2), "E2", "E4"]
    assert fits[0].loss < 1e-6


def test_run_regression_rejects_wrong_width(tmp_path):
    with pytest.raises(ValueError, match="n_rows, 2"):
        run_regression("e0", np.zeros((10, 3)), np.zeros(10), ["a", "b"], SMALL, tmp_path)


@pytest.mark.parametrize(
    "options, message",
    [({"edge_variables": "some"}, "edge_variables"), ({"n_edges": 0}, "n_edges"), ({"timeout_in_seconds": -1.0}, "timeout")],
)
def test_regression_config_rejects_bad_values(options, message):
    with pytest.raises(ValueError, match=message):
        RegressionConfig(**options)


def test_relative_variables_are_short():
    assert edge_variable_names(3, "relative") == ["dx", "dy", "dz", "r", "q1", "q2", "m1", "m2"]


def test_energy_choice_skips_offset_only_candidates():
    from symdistill.distill.regress import _choose_dynamic, dynamic_variables

    q1, q2, r = sympy.symbols("q1 q2 r")
    equations = pd.DataFrame({
        "complexity": [1, 3, 5, 7],
        "loss": [0.32, 0.31, 0.26, 0.21],
        "sympy": [sympy.Float(-0.01), -0.05 / r, 0.17 * q1 * q2, 0.31 * q1 * q2 / r],
    })
    assert _choose_dynamic(equations, dynamic_variables(2), "score") == 3
    assert "px1" in dynamic_variables(2)
