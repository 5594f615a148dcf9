"""The discovery pipeline end to end on a tiny budget: structure, files, resume, config.

These tests check the plumbing, not scientific success: the budget is far too small
for the formulas to mean anything.
"""

import json
import logging

import pytest
import torch
from click.testing import CliRunner

from symdistill.cli import main
from symdistill.cli.overrides import parse_set_options
from symdistill.pipeline import discover
from symdistill.run_config import build_config, resolve_config, to_toml

TINY = {
    "simulation": {"n_sims": 6, "n_steps": 12},
    "data": {"test_sims": 3, "ood_sims": 2},
    "train": {"steps": 6, "hidden": 16, "n_hidden_layers": 2, "eval_every": 3, "test_examples": 20},
    "analysis": {"n_graphs": 20},
    "regression": {"niterations": 1, "populations": 1, "population_size": 12,
                   "timeout_in_seconds": 5.0, "n_edges": 100, "n_nodes": 60, "procs": 1, "maxsize": 8,
                   "screen_steps": 2, "screen_graphs": 10},
    "refit": {"steps": 4, "eval_every": 2, "max_graphs": 30, "batch_size": 8},
    "evaluation": {"max_graphs": 30, "n_check_edges": 60},
}

STAGES = ["data", "train", "analyse", "regress", "regress_node", "screen", "refit", "evaluate", "report"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "spring2d-l1"
    result = discover("spring", 2, "l1", out=out, overrides=TINY)
    return out, result


def _record_mtimes(out):
    return {stage: (out / "stages" / f"{stage}.json").stat().st_mtime_ns for stage in STAGES}


def test_run_writes_every_output(tiny_run):
    out, _ = tiny_run
    for name in ("config.json", "config.toml", "report.json", "report.md", "messages_train.csv",
                 "data/train.npz", "data/test.npz", "data/ood.npz", "gn/checkpoint.pt",
                 "plots/messages_vs_forces.png", "plots/training_curve.png"):
        assert (out / name).is_file(), name
    assert sorted(p.stem for p in (out / "stages").glob("*.json")) == sorted(STAGES)


def test_report_has_required_keys(tiny_run):
    out, result = tiny_run
    report = json.loads((out / "report.json").read_text())
    assert report == result.report
    for key in ("system", "dim", "model", "message_r2", "message_r2_trimmed", "edge_formulas", "node_formula", "test_loss", "ood_loss",
                "wall_time_s", "edge_formula_force_r2", "edge_formula_force_per_mass_r2", "ood_description"):
        assert key in report, key
    assert (report["system"], report["dim"], report["model"]) == ("spring", 2, "l1")
    assert set(report["test_loss"]) == {"gn", "symbolic", "zero"}
    assert set(report["ood_loss"]) == {"gn", "symbolic", "zero"}
    assert report["test_loss"]["zero"] > 0
    assert report["ood_description"] == "8 bodies instead of 4"
    assert report["true_potential"] == "(r - 1)**2"
    assert report["setup"]["hidden units (edge / node MLP)"] == "16 / 128"
    markdown = (out / "report.md").read_text()
    assert "Simulated pair potential" in markdown
    assert "predicting zero" in markdown
    assert set(STAGES[:-1]) <= set(report["wall_time_s"])


def test_report_formulas_list_components(tiny_run):
    out, result = tiny_run
    edges, nodes = result.edge_formulas, result.node_formula
    assert [e["component"] for e in edges] == [f"e{c}" for c in result.report["top_components"]]
    assert [n["component"] for n in nodes] == ["ax", "ay"]
    for entry in [*edges, *nodes]:
        assert {"component", "sympy", "sympy_refit", "variables"} <= set(entry)
        assert (out / entry["hall_of_fame"]).is_file()
        assert (out / "regress" / f"screening_{entry['component']}.csv").is_file()


def test_rerun_skips_finished_stages(tiny_run):
    out, result = tiny_run
    before = _record_mtimes(out)
    again = discover("spring", 2, "l1", out=out, overrides=TINY)
    assert _record_mtimes(out) == before
    assert again.report == result.report


def test_force_stage_reruns_it_and_later_stages(tiny_run):
    out, _ = tiny_run
    before = _record_mtimes(out)
    discover("spring", 2, "l1", out=out, overrides=TINY, force=["refit"])
    after = _record_mtimes(out)
    assert [s for s in STAGES if after[s] != before[s]] == ["refit", "evaluate", "report"]


def test_changed_settings_rerun_from_their_stage(tiny_run):
    out, _ = tiny_run
    before = _record_mtimes(out)
    changed = {**TINY, "evaluation": {"max_graphs": 20, "n_check_edges": 60}}
    discover("spring", 2, "l1", out=out, overrides=changed)
    after = _record_mtimes(out)
    assert [s for s in STAGES if after[s] != before[s]] == ["evaluate", "report"]


def test_screening_change_reruns_from_screen(tiny_run):
    out, _ = tiny_run
    before = _record_mtimes(out)
    changed = {**TINY, "regression": {**TINY["regression"], "screen_tolerance": 0.5}}
    discover("spring", 2, "l1", out=out, overrides=changed)
    after = _record_mtimes(out)
    assert [s for s in STAGES if after[s] != before[s]] == ["screen", "refit", "evaluate", "report"]


def test_forced_training_starts_from_scratch(tmp_path, caplog):
    out = tmp_path / "run"
    discover("spring", 2, "l1", out=out, overrides=TINY)
    first = torch.load(out / "gn" / "checkpoint.pt", weights_only=False)["model_state"]
    with caplog.at_level(logging.INFO, logger="symdistill.gn.train"):
        discover("spring", 2, "l1", out=out, overrides=TINY, force=["train"])
    messages = [record.getMessage() for record in caplog.records]
    assert not any(message.startswith("resuming") for message in messages)
    assert any(message.startswith("step 6/6") for message in messages)
    second = torch.load(out / "gn" / "checkpoint.pt", weights_only=False)["model_state"]
    for name, value in first.items():
        assert torch.equal(value, second[name]), name


def test_unknown_operator_fails_before_any_stage(tmp_path):
    bad = {**TINY, "regression": {**TINY["regression"], "unary_operators": ["foo"]}}
    with pytest.raises(ValueError, match="unknown operator 'foo'"):
        discover("spring", 2, "l1", out=tmp_path / "run", overrides=bad)
    assert not (tmp_path / "run" / "stages").exists()


def test_force_rejects_unknown_stage(tiny_run):
    out, _ = tiny_run
    with pytest.raises(ValueError, match="unknown stage"):
        discover("spring", 2, "l1", out=out, overrides=TINY, force=["training"])


def test_changed_training_discards_old_checkpoint(tmp_path):
    out = tmp_path / "run"
    discover("spring", 2, "l1", out=out, overrides=TINY)
    key = (out / "gn" / "pipeline_key.txt").read_text()
    longer = {**TINY, "train": {**TINY["train"], "steps": 7}}
    result = discover("spring", 2, "l1", out=out, overrides=longer)
    assert (out / "gn" / "pipeline_key.txt").read_text() != key
    record = json.loads((out / "stages" / "train.json").read_text())
    assert record["summary"]["steps"] == 7
    assert result.config.train.steps == 7


def test_resolved_config_round_trips(tiny_run):
    out, result = tiny_run
    saved = json.loads((out / "config.json").read_text())
    assert json.loads(json.dumps(build_config(saved).to_dict())) == saved
    assert build_config(saved).train == result.config.train
    assert "steps = 6" in (out / "config.toml").read_text()


def test_config_file_and_overrides_layer(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('model = "kl"\n[train]\nsteps = 77\n[regression]\nmaxsize = 11\n')
    config = resolve_config("default", path, {"regression": {"maxsize": 13}})
    assert config.model == "kl"
    assert config.train.steps == 77
    assert config.regression.maxsize == 13
    assert config.simulation.system == "spring"


def test_toml_output_reads_back(tmp_path):
    config = resolve_config("paper", None, {"model": "bottleneck"})
    path = tmp_path / "resolved.toml"
    path.write_text(to_toml(config))
    assert resolve_config("paper", path) == config


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model": "gat"}, "unknown model 'gat'"),
        ({"train": {"stpes": 3}}, "stpes"),
        ({"sections": {}}, "unknown config key"),
        ({"data": {"test_seed": 0}}, "new seed"),
        ({"refit": {"lr": -1.0}}, "lr"),
        ({"train": {"steps": 1.5}}, r"train\.steps must be an integer, got 1\.5"),
        ({"train": {"steps": True}}, r"train\.steps must be a number, got True"),
        ({"train": {"steps": -5}}, r"\[train\] steps must be positive"),
        ({"regression": {"backend": "nosuch"}}, "unknown backend 'nosuch'"),
        ({"regression": {"screen_steps": -1}}, r"screen_steps must be an integer >= 0"),
        ({"regression": {"screen_lr": 0.0}}, r"screen_lr must be a positive finite number, got 0\.0"),
        ({"regression": {"screen_tolerance": float("nan")}}, "screen_tolerance must be a finite number"),
    ],
)
def test_bad_config_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        resolve_config("default", None, overrides)


def test_integral_float_is_taken_for_an_integer_option():
    assert resolve_config("default", None, {"train": {"steps": 20.0}}).train.steps == 20


def test_preset_network_widths():
    assert resolve_config("default").train.hidden == 64
    assert resolve_config("default").train.node_hidden == 128
    assert resolve_config("paper").train.node_hidden is None
    assert resolve_config("paper").train.hidden == 300


def test_unknown_preset_is_rejected():
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        resolve_config("huge")


def test_set_options_parse_values():
    assert parse_set_options(["train.steps=5", "model=kl", "regression.unary_operators=[\"exp\"]"]) == {
        "train": {"steps": 5}, "model": "kl", "regression": {"unary_operators": ["exp"]}}
    with pytest.raises(ValueError, match="SECTION.KEY=VALUE"):
        parse_set_options(["train.steps"])


def test_cli_reports_bad_set_option(tmp_path):
    result = CliRunner().invoke(main, ["discover", "--out", str(tmp_path / "x"), "--set", "nokey"])
    assert result.exit_code != 0
    assert "SECTION.KEY=VALUE" in result.output


def test_cli_reports_unknown_option_name(tmp_path):
    result = CliRunner().invoke(main, ["discover", "--out", str(tmp_path / "x"), "--set", "train.stpes=3"])
    assert result.exit_code != 0
    assert "stpes" in result.output


def test_cli_halos_without_module_fails_clearly(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "symdistill.halos_pipeline", None)
    result = CliRunner().invoke(main, ["discover", "--system", "halos", "--out", str(tmp_path / "h")])
    assert result.exit_code != 0
    assert "halos_pipeline" in result.output


@pytest.mark.slow
def test_flathgn_run_reports_energies(tmp_path):
    result = discover("charge", 2, "flathgn", out=tmp_path / "run", overrides=TINY)
    assert [e["component"] for e in result.edge_formulas] == ["pair_energy"]
    assert [e["component"] for e in result.node_formula] == ["self_energy"]
    assert "pair_energy_r2" in result.report
    assert "px1" in result.edge_formulas[0]["variables"]
    assert not (tmp_path / "run" / "messages_train.csv").exists()


def test_unavailable_device_rejected_early(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA device"):
        discover("spring", 2, "l1", out=tmp_path / "run", overrides=TINY, device="cuda")
    assert not (tmp_path / "run" / "data").exists()
    with pytest.raises(ValueError, match="unknown torch device 'gpu0'"):
        discover("spring", 2, "l1", out=tmp_path / "run", overrides=TINY, device="gpu0")


def test_halos_rejects_nbody_options(tmp_path):
    result = CliRunner().invoke(main, ["discover", "--system", "halos", "--n-sims", "20", "--out", str(tmp_path / "h")])
    assert result.exit_code != 0
    assert "--n-sims applies only to simulated N-body systems" in result.output


def test_binary_config_file_fails_cleanly(tmp_path):
    binary = tmp_path / "settings.npz"
    binary.write_bytes(b"\x00\xae\xff")
    result = CliRunner().invoke(main, ["discover", "--config", str(binary), "--out", str(tmp_path / "run")])
    assert result.exit_code != 0
    assert "settings.npz" in result.output
    assert "is not a text file" in result.output
