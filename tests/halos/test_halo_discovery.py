"""Halo discovery: the symbolic halo model, configuration errors and a tiny run end to end."""

import json
import math

import numpy as np
import pytest
import sympy
import torch
from click.testing import CliRunner

from symdistill.cli import main
from symdistill.halos_pipeline import resolve_halo_config
from symdistill.halos_screening import simplest_within
from symdistill.halos_symbolic import SymbolicHaloModel, dense_receivers, physical_formula
from symdistill.symbolic import Formula

TINY = [
    "data.r_max=20", "train.hidden=16", "train.steps=12", "train.batch_size=16", "train.test_examples=100",
    "train.eval_every=6", "train.checkpoint_every=6", "regression.niterations=2", "regression.timeout_in_seconds=5",
    "regression.n_edges=300", "regression.n_nodes=200", "regression.maxsize=10", "regression.populations=2",
    "regression.population_size=20", "refit.steps=10", "refit.max_graphs=200", "refit.eval_every=5",
    "refit.batch_size=32", "distill.n_message_edges=2000", 'distill.variants=["with_mass"]',
    "distill.screen_steps=3", "distill.screen_halos=100",
]


def test_symbolic_halo_model_sums_incoming_edges():
    r, m2, m, e = sympy.symbols("r M2 M E")
    edge = Formula("e0", m2 / (1.5 + r), ("r", "M2"))
    node = Formula("delta", 0.1 + e / (2.0 + m), ("M", "E"))
    row_start = np.array([0, 2, 2, 3])  # node 0: two edges, node 1: none, node 2: one
    senders = np.array([1, 2, 0])
    pair = np.array([[1.0, 3.0], [2.0, 5.0], [0.5, 7.0]])
    own = np.array([[1.0], [2.0], [4.0]])
    dense = dense_receivers(np.array([0, 1, 2]), row_start, senders, pair, own)
    model = SymbolicHaloModel(edge, node, max_degree=2)
    predicted = model(torch.as_tensor(dense))[:, 0, 0].detach().numpy()
    summed = np.array([3.0 / 2.5 + 5.0 / 3.5, 0.0, 7.0 / 2.0])
    np.testing.assert_allclose(predicted, 0.1 + summed / (2.0 + own[:, 0]))


def test_physical_formula_rescales_variables():
    m, v = sympy.symbols("M v")
    physical = physical_formula(2 * m + v, {"M": 1e13, "v": 100.0})
    assert float(physical.subs({m: 3e13, v: 250.0})) == pytest.approx(8.5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"distill": {"variants": ["with_charge"]}}, "variants"),
        ({"simulation": {"n_bodies": 4}}, "unknown config section"),
        ({"model": "flathgn"}, "message model"),
        ({"data": {"test_fraction": 2.0}}, "test_fraction"),
        ({"train": {"no_such_option": 1}}, "no_such_option"),
        ({"distill": {"screen_steps": -1}}, "screen_steps"),
        ({"distill": {"screen_tolerance": -0.1}}, "screen_tolerance"),
    ],
)
def test_invalid_config(overrides, message):
    with pytest.raises(ValueError, match=message):
        resolve_halo_config("default", None, overrides)


def test_default_budget_is_in_epochs():
    config = resolve_halo_config("default")
    assert config.train.epochs == 50
    assert config.train.steps is None


@pytest.mark.parametrize(
    "preset, train, expected",
    [
        ("default", {"steps": 12}, (12, None)),
        ("paper", {"epochs": 3}, (None, 3)),
        ("paper", {"max_lr": 1e-4}, (30000, None)),
    ],
)
def test_budget_override_replaces_preset_budget(preset, train, expected):
    config = resolve_halo_config(preset, None, {"train": train})
    assert (config.train.steps, config.train.epochs) == expected


def test_budget_in_config_file_replaces_preset_budget(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[train]\nsteps = 40\n")
    config = resolve_halo_config("default", path)
    assert (config.train.steps, config.train.epochs) == (40, None)


def test_both_budgets_given_are_rejected():
    with pytest.raises(ValueError, match="steps or epochs"):
        resolve_halo_config("default", None, {"train": {"steps": 10, "epochs": 2}})


@pytest.mark.parametrize(
    "complexities, errors, tolerance, expected",
    [
        ([1, 5, 9, 13], [0.20, 0.070, 0.061, 0.060], 0.05, 2),  # 0.061 <= 1.05 * 0.060
        ([1, 5, 9, 13], [0.20, 0.070, 0.061, 0.060], 0.0, 3),  # no tolerance: the lowest error
        ([1, 5, 9, 13], [0.20, 0.062, 0.061, 0.060], 0.05, 1),
        ([5, 5, 9], [0.070, 0.065, 0.064], 0.1, 1),  # equal complexity: the lower error
        ([3, 9], [math.inf, 0.2], 0.05, 1),  # a failed candidate never wins
        ([3, 9], [math.inf, math.nan], 0.05, None),
    ],
)
def test_simplest_within_tolerance(complexities, errors, tolerance, expected):
    assert simplest_within(complexities, errors, tolerance) == expected


def test_unknown_preset():
    with pytest.raises(ValueError, match="preset"):
        resolve_halo_config("fast")


def test_tiny_discovery_run_writes_report(tmp_path):
    out = tmp_path / "run"
    arguments = ["discover", "--system", "halos", "--out", str(out)] + [item for s in TINY for item in ("--set", s)]
    result = CliRunner().invoke(main, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["table2"]) == {"constant", "simple", "discovered_without_mass", "discovered_with_mass", "gn"}
    assert report["table2"]["simple"] < report["table2"]["constant"]
    assert np.isfinite(report["table2"]["discovered_with_mass"])
    assert report["table2"]["discovered_without_mass"] is None  # variant not run
    assert np.isfinite(report["ood"]["gn"])
    assert np.isfinite(report["ood"]["symbolic"])
    assert report["ood"]["n_halos"] == report["data"]["n_ood"]
    assert report["edge_formulas"][0]["variables"] == ["r", "M1", "M2", "dv"]
    assert "sympy_physical" in report["node_formula"][0]
    screening = report["variants"]["with_mass"]["screening"]
    assert screening["edge"] and screening["node"]
    edge_errors = [entry["validation_mae"] for entry in screening["edge"]]
    assert np.isfinite(min(edge_errors))
    assert "Table 2" in (out / "report.md").read_text()
    assert (out / "gn_with_mass" / "checkpoint.pt").is_file()

    # A rerun resumes: every stage is skipped and the report is unchanged.
    records = {path.name: path.read_text() for path in (out / "stages").iterdir()}
    again = CliRunner().invoke(main, arguments, catch_exceptions=False)
    assert again.exit_code == 0
    assert {path.name: path.read_text() for path in (out / "stages").iterdir()} == records
