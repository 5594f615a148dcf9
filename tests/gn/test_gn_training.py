"""Training: loss goes down, checkpoints resume exactly, bad input is rejected clearly."""

import json

import numpy as np
import pytest
import torch

from symdistill import gn
from symdistill.gn import tasks

SMALL = {"hidden": 32, "n_hidden_layers": 2, "batch_size": 32, "device": "cpu", "threads": 1}


@pytest.mark.parametrize("name", ["standard", "bottleneck", "l1", "kl", "flathgn"])
def test_short_run_lowers_test_loss(name, tmp_path, spring_data, spring_test_data):
    result = gn.train(
        spring_data, name, out=tmp_path, steps=150, test_data=spring_test_data, max_lr=3e-3, eval_every=150, **SMALL
    )
    torch.manual_seed(0)  # the initial weights of a run with seed=0
    untrained = gn.build_model(name, 6, 2, hidden=32, n_hidden_layers=2)
    initial = tasks.DenseTask(*spring_test_data, torch.device("cpu"), 0.0).evaluate(untrained, 200)
    assert result.steps == 150
    assert result.test_loss < 0.95 * initial


def test_run_folder_contents(tmp_path, spring_data, spring_test_data):
    result = gn.train(spring_data, "l1", out=tmp_path, steps=20, test_data=spring_test_data, eval_every=5, **SMALL)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [5, 10, 15, 20]
    assert all("test_loss" in row and "train_loss" in row for row in rows)
    assert json.loads((tmp_path / "config.json").read_text())["model"]["name"] == "l1"
    loaded = gn.load_model(tmp_path)
    assert loaded.trained_steps == 20
    assert not loaded.training
    for ours, theirs in zip(result.model.state_dict().values(), loaded.state_dict().values()):
        torch.testing.assert_close(ours, theirs)


def test_resume_matches_uninterrupted_run(tmp_path, spring_data, spring_test_data, monkeypatch):
    options = {"steps": 30, "test_data": spring_test_data, "eval_every": 5, "checkpoint_every": 10, **SMALL}
    reference = gn.train(spring_data, "kl", out=tmp_path / "a", **options)

    original = tasks.DenseTask.objective
    calls = {"n": 0}

    def interrupted(self, *args):
        calls["n"] += 1
        if calls["n"] > 23:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(tasks.DenseTask, "objective", interrupted)
    with pytest.raises(KeyboardInterrupt):
        gn.train(spring_data, "kl", out=tmp_path / "b", **options)
    monkeypatch.setattr(tasks.DenseTask, "objective", original)
    assert gn.read_checkpoint(tmp_path / "b")["step"] == 20
    resumed = gn.train(spring_data, "kl", out=tmp_path / "b", resume=True, **options)

    for key, value in reference.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    reference_rows = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    resumed_rows = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in resumed_rows] == [5, 10, 15, 20, 25, 30]
    assert [json.loads(r)["test_loss"] for r in resumed_rows] == [json.loads(r)["test_loss"] for r in reference_rows]


def test_resume_rejects_changed_settings(tmp_path, spring_data):
    gn.train(spring_data, "l1", out=tmp_path, steps=4, **SMALL)
    with pytest.raises(ValueError, match="other settings"):
        gn.train(spring_data, "l1", out=tmp_path, steps=8, resume=True, **SMALL)


def test_same_seed_same_parameters(tmp_path, spring_data):
    first = gn.train(spring_data, "l1", out=tmp_path / "a", steps=5, **SMALL)
    second = gn.train(spring_data, "l1", out=tmp_path / "b", steps=5, **SMALL)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key


def test_epochs_budget_counts_full_passes(tmp_path, spring_data):
    result = gn.train(spring_data, "standard", out=tmp_path, epochs=0.5, **SMALL)
    assert result.steps == (len(spring_data[0]) // 32) // 2


def test_unknown_model_rejected(tmp_path, spring_data):
    with pytest.raises(ValueError, match="unknown model 'l2'.*standard, bottleneck, l1, kl, flathgn"):
        gn.train(spring_data, "l2", out=tmp_path, steps=2, **SMALL)


def test_wrong_feature_count_rejected(tmp_path, spring_data):
    states, accelerations = spring_data
    with pytest.raises(ValueError, match="5 columns.*2\\*dim\\+2 = 6"):
        gn.train((states[..., :5], accelerations), "l1", out=tmp_path, steps=2, **SMALL)


def test_nan_data_rejected(tmp_path, spring_data):
    states, accelerations = spring_data
    broken = accelerations.copy()
    broken[3, 1, 0] = np.nan
    with pytest.raises(ValueError, match="accelerations contains 1 NaN"):
        gn.train((states, broken), "l1", out=tmp_path, steps=2, **SMALL)


def test_mismatched_shapes_rejected(tmp_path, spring_data):
    states, accelerations = spring_data
    with pytest.raises(ValueError, match="do not match"):
        gn.train((states, accelerations[:10]), "l1", out=tmp_path, steps=2, **SMALL)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 5, "epochs": 1}, "not both"),
        ({"steps": 0}, "steps must be positive"),
        ({"stpes": 5}, "unknown option.*stpes"),
        ({"augment_sigma": -1.0}, "augment_sigma"),
    ],
)
def test_bad_options_rejected(tmp_path, spring_data, options, message):
    with pytest.raises(ValueError, match=message):
        gn.train(spring_data, "l1", out=tmp_path, **options)


def test_load_model_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        gn.load_model(tmp_path)
