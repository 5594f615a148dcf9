"""The ``symdistill train`` and ``symdistill analyse`` commands."""

import json

import numpy as np
from click.testing import CliRunner

from symdistill import nbody
from symdistill.cli import main


def _save_dataset(path, states, accelerations):
    metadata = {"system": "spring", "dim": 2, "n_bodies": 4, "dt": 0.01, "softening": 0.01, "damping": "uniform", "seed": 0}
    dataset = nbody.NBodyDataset(
        states=states[None], accelerations=accelerations[None], times=np.arange(len(states)) * 0.01,
        truncated=np.zeros(1, dtype=bool), metadata=metadata,
    )
    dataset.save(path)
    return path


def test_train_then_analyse(tmp_path, spring_data, spring_test_data):
    train_path = _save_dataset(tmp_path / "train.npz", *spring_data)
    test_path = _save_dataset(tmp_path / "test.npz", *spring_test_data)
    run = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["train", "--data", str(train_path), "--test-data", str(test_path), "--model", "bottleneck", "--out", str(run),
         "--steps", "6", "--hidden", "16", "--device", "cpu"],
    )
    assert result.exit_code == 0, result.output
    assert "trained bottleneck for 6 steps" in result.output
    result = runner.invoke(main, ["analyse", "--run", str(run), "--data", str(test_path), "--n-graphs", "20"])
    assert result.exit_code == 0, result.output
    assert "message R^2" in result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["top_components"] == [0, 1] or metrics["top_components"] == [1, 0]
    assert metrics["system"] == "spring"


def test_train_unknown_model_fails_cleanly(tmp_path, spring_data):
    train_path = _save_dataset(tmp_path / "train.npz", *spring_data)
    result = CliRunner().invoke(main, ["train", "--data", str(train_path), "--model", "gravity", "--out", str(tmp_path / "r")])
    assert result.exit_code != 0
    assert "unknown model 'gravity'" in result.output


def test_train_unknown_device_fails_cleanly(tmp_path, spring_data):
    train_path = _save_dataset(tmp_path / "train.npz", *spring_data)
    result = CliRunner().invoke(main, ["train", "--data", str(train_path), "--device", "nonsense", "--out", str(tmp_path / "r")])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "unknown torch device 'nonsense'" in result.output


def test_train_rejects_non_dataset_file(tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a dataset\n")
    result = CliRunner().invoke(main, ["train", "--data", str(text_file), "--out", str(tmp_path / "r")])
    assert result.exit_code != 0
    assert "notes.txt" in result.output
    assert "is not an N-body dataset" in result.output
    assert "allow_pickle" not in result.output


def test_train_rejects_negative_seed(tmp_path, spring_data):
    train_path = _save_dataset(tmp_path / "train.npz", *spring_data)
    result = CliRunner().invoke(main, ["train", "--data", str(train_path), "--seed", "-1", "--out", str(tmp_path / "r")])
    assert result.exit_code != 0
    assert "--seed" in result.output
