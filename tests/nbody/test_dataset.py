"""NBodyDataset: save and load, plain NumPy readability, selection and splits."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from symdistill import nbody
from symdistill.cli import main


@pytest.fixture(scope="module")
def dataset():
    return nbody.simulate("spring", n_sims=5, n_steps=8, seed=3)


@pytest.mark.parametrize("compress", [False, True])
def test_save_load_round_trip(dataset, tmp_path, compress):
    path = tmp_path / "spring.npz"
    dataset.save(path, compress=compress)
    loaded = nbody.load(path)
    np.testing.assert_array_equal(loaded.states, dataset.states)
    np.testing.assert_array_equal(loaded.accelerations, dataset.accelerations)
    np.testing.assert_array_equal(loaded.times, dataset.times)
    np.testing.assert_array_equal(loaded.truncated, dataset.truncated)
    assert loaded.metadata["seed"] == 3
    assert loaded.get_system() == dataset.get_system()
    assert [p.name for p in tmp_path.iterdir()] == ["spring.npz"]


def test_file_readable_with_numpy_alone(dataset, tmp_path):
    path = tmp_path / "data.npz"
    dataset.save(path)
    with np.load(path, allow_pickle=False) as data:
        assert data["states"].shape == (5, 8, 4, 6)
        metadata = json.loads(str(data["metadata"]))
    assert metadata["system"] == "spring"
    assert metadata["format"] == "symdistill.nbody.dataset/1"


def test_custom_system_round_trip(tmp_path):
    data = nbody.simulate(potential="q1*q2*exp(-r)/r", n_sims=2, n_steps=3)
    data.save(tmp_path / "yukawa.npz")
    system = nbody.load(tmp_path / "yukawa.npz").get_system()
    assert system.name == "custom"
    assert system.potential == "q1*q2*exp(-r)/r"
    np.testing.assert_allclose(system.accelerations(data.states), data.accelerations, rtol=1e-12)


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(ValueError, match="missing array"):
        nbody.load(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        nbody.load(tmp_path / "absent.npz")


def test_split_by_time(dataset):
    train, test = nbody.split_by_time(dataset, test_fraction=0.25)
    assert train.n_times == 6
    assert test.n_times == 2
    np.testing.assert_array_equal(np.concatenate([train.states, test.states], axis=1), dataset.states)
    np.testing.assert_array_equal(test.times, dataset.times[6:])
    for fraction in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="test_fraction"):
            nbody.split_by_time(dataset, fraction)


def test_select_and_drop_truncated(dataset):
    subset = dataset.select(sims=[0, 2], times=slice(0, 4))
    assert subset.states.shape == (2, 4, 4, 6)
    np.testing.assert_array_equal(subset.accelerations, dataset.accelerations[[0, 2], :4])
    marked = dataset.select()
    marked.truncated[1] = True
    assert marked.drop_truncated().n_sims == 4
    with pytest.raises(ValueError, match="at least one"):
        dataset.select(sims=[])


def test_dataset_rejects_mismatched_arrays(dataset):
    with pytest.raises(ValueError, match="accelerations must have shape"):
        nbody.NBodyDataset(dataset.states, dataset.accelerations[:, :2], dataset.times, dataset.truncated)
    with pytest.raises(ValueError, match="feature columns"):
        nbody.NBodyDataset(np.zeros((1, 2, 3, 5)), np.zeros((1, 2, 3, 2)), np.zeros(2), np.zeros(1))


def test_cli_simulate_writes_dataset(tmp_path):
    out = tmp_path / "run" / "charge.npz"
    result = CliRunner().invoke(
        main, ["simulate", "--system", "charge", "--dim", "3", "--bodies", "3", "--sims", "4", "--steps", "5",
               "--seed", "2", "--threads", "1", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 4 charge simulation(s)" in result.output
    data = nbody.load(out)
    assert data.states.shape == (4, 5, 3, 8)
    assert data.metadata["dt"] == 1e-3
    np.testing.assert_array_equal(data.states, nbody.simulate("charge", dim=3, n_bodies=3, n_sims=4, n_steps=5, seed=2).states)


def test_cli_simulate_custom_potential(tmp_path):
    out = tmp_path / "yukawa.npz"
    result = CliRunner().invoke(
        main, ["simulate", "--potential", "q1*q2*exp(-r)/r", "--sims", "2", "--steps", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert nbody.load(out).metadata["potential"] == "q1*q2*exp(-r)/r"


@pytest.mark.parametrize(
    "arguments,message",
    [
        (["--system", "gravity"], "Invalid value for '--system'"),
        (["--bodies", "1"], "Invalid value for '--bodies'"),
        (["--dim", "4"], "Invalid value for '--dim'"),
        (["--dt", "-1"], "dt must be a finite number > 0, got -1.0"),
        (["--steps", "0"], "Invalid value for '--steps'"),
        (["--potential", "x/r"], "unknown symbol"),
        (["--system", "spring", "--potential", "1/r"], "not both"),
    ],
)
def test_cli_simulate_rejects_bad_input(tmp_path, arguments, message):
    out = tmp_path / "x.npz"
    result = CliRunner().invoke(main, ["simulate", "--sims", "1", "--steps", "2", *arguments, "--out", str(out)])
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists()


def test_cli_help_documents_flags():
    result = CliRunner().invoke(main, ["simulate", "--help"])
    assert result.exit_code == 0
    for flag in ("--system", "--potential", "--dim", "--bodies", "--sims", "--steps", "--dt", "--seed", "--out"):
        assert flag in result.output


def test_cli_simulate_reports_truncation(tmp_path):
    out = tmp_path / "short.npz"
    arguments = ["simulate", "--sims", "2", "--steps", "3", "--dt", "0.1", "--max-steps", "1", "--out", str(out)]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert "2 truncated" in result.output
    assert "Warning: 2 of 2 simulation(s) stopped early" in result.output
    failed = CliRunner().invoke(main, [*arguments, "--on-truncation", "raise"])
    assert failed.exit_code == 1
    assert "Error: 2 of 2 simulation(s) stopped early" in failed.output
