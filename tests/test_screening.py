"""Screening of hall-of-fame candidates by their acceleration error after a short refit."""

import math

import pandas as pd
import pytest

from springs import spring_graphs
from symdistill.screening import ScreenSet, screen_formulas
from symdistill.symbolic import RefitConfig, SymbolicGraphModel
from symdistill.symbolic.features import edge_names, state_names

EDGE_VARIABLES = edge_names(2)
NODE_VARIABLES = [*state_names(2), "E0", "E1"]
SPRING_X = "-2.0*dx*(r - 1)/r"
SPRING_Y = "-2.0*dy*(r - 1)/r"


def _write(path, rows):
    pd.DataFrame(rows, columns=["complexity", "loss", "equation"]).to_csv(path, index=False)
    return path.name


def _fits(tmp_path, e0_rows, ax_rows):
    entry = {"variables": EDGE_VARIABLES}
    node = {"variables": NODE_VARIABLES}
    return {
        "edge": [
            {**entry, "component": "e0", "sympy": e0_rows[0][2], "hall_of_fame": _write(tmp_path / "e0.csv", e0_rows)},
            {**entry, "component": "e1", "sympy": SPRING_Y,
             "hall_of_fame": _write(tmp_path / "e1.csv", [(9, 0.0, SPRING_Y)])},
        ],
        "node": [
            {**node, "component": "ax", "sympy": ax_rows[0][2], "hall_of_fame": _write(tmp_path / "ax.csv", ax_rows)},
            {**node, "component": "ay", "sympy": "E1/m", "hall_of_fame": _write(tmp_path / "ay.csv", [(3, 0.0, "E1/m")])},
        ],
    }


def _screen(tmp_path, fits, tolerance=0.05):
    states, accelerations = spring_graphs(120, seed=3)
    data = ScreenSet(states[:60], accelerations[:60], states[60:], accelerations[60:])
    config = RefitConfig(steps=40, eval_every=20, batch_size=30, max_graphs=60)
    return screen_formulas(fits, tmp_path, lambda e, n: SymbolicGraphModel(e, [0, 1], n, 2), data, config, tolerance)


def test_force_law_beats_linear_edge_formula(tmp_path):
    # The linear candidate comes first, as the score rule might choose it. After the
    # refit only the spring law reproduces the accelerations.
    fits = _fits(tmp_path, [(3, 0.1, "0.8*dx"), (9, 0.2, SPRING_X)], [(3, 0.0, "E0/m")])
    chosen, results = _screen(tmp_path, fits)
    assert chosen["edge"][0]["sympy"] == str(pytest.importorskip("sympy").sympify(SPRING_X))
    assert chosen["edge"][0]["complexity"] == 9
    assert chosen["edge"][0]["selected_by"] == "screening"
    errors = {row["complexity"]: row["validation_mae"] for row in results["e0"]}
    assert errors[9] < 1e-6 < errors[3]
    assert set(results) == {"e0", "e1", "ax", "ay"}


def test_simpler_of_equal_candidates_kept(tmp_path):
    # The extra 0*m1 term does not change the predictions, so the simpler form wins.
    fits = _fits(tmp_path, [(9, 0.2, SPRING_X), (13, 0.2, f"{SPRING_X} + 0.0*m1*dx")], [(3, 0.0, "E0/m")])
    chosen, _ = _screen(tmp_path, fits)
    assert chosen["edge"][0]["complexity"] == 9


def test_failing_candidate_scores_infinite(tmp_path):
    # The log of a negative sum gives NaN predictions, so the candidate must not be chosen.
    fits = _fits(tmp_path, [(9, 0.2, SPRING_X)], [(3, 0.0, "E0/m"), (6, 0.0, "log(E0 - 1000.0)/m")])
    chosen, results = _screen(tmp_path, fits)
    assert chosen["node"][0]["sympy"] == "E0/m"
    errors = {row["complexity"]: row["validation_mae"] for row in results["ax"]}
    assert math.isinf(errors[6])


def test_error_floor_admits_simpler_candidate():
    from symdistill.screening import _simplest_within

    candidates = [{"complexity": 9}, {"complexity": 11}]
    # 0.0009 is 12% above 0.0008, outside the 5% tolerance but inside the absolute floor.
    assert _simplest_within(candidates, [0.0009, 0.0008], 0.05, 0.0) == 1
    assert _simplest_within(candidates, [0.0009, 0.0008], 0.05, 2e-4) == 0
    assert _simplest_within(candidates, [math.inf, math.inf], 0.05, 2e-4) is None


def test_node_without_messages_skipped(tmp_path):
    # "vx" would leave the edge formulas unused, so it must never be chosen.
    fits = _fits(tmp_path, [(9, 0.2, SPRING_X)], [(1, 0.0, "vx"), (3, 0.0, "E0/m")])
    chosen, results = _screen(tmp_path, fits)
    assert chosen["node"][0]["sympy"] == "E0/m"
    assert [row["complexity"] for row in results["ax"]] == [3]
