"""The ``symdistill regress`` command on CSV and .npz tables."""

import numpy as np
import pandas as pd
from click.testing import CliRunner

from symdistill.cli import main


def _table(tmp_path):
    x = np.linspace(1, 3, 60)
    frame = pd.DataFrame({"a": x, "b": np.cos(x), "y": 2.0 * x * x})
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_regress_csv_prints_front(tmp_path):
    path = _table(tmp_path)
    output = tmp_path / "hof.csv"
    result = CliRunner().invoke(
        main,
        ["regress", str(path), "--target", "y", "--niterations", "5", "--populations", "2", "--procs", "1", "-o", str(output)],
    )
    assert result.exit_code == 0, result.output
    assert "complexity" in result.output
    assert "selected (best):" in result.output
    assert output.read_text().startswith("complexity,loss,score,equation,tree")


def test_regress_npz_arrays(tmp_path):
    x = np.linspace(1, 3, 40)[:, None]
    path = tmp_path / "data.npz"
    np.savez(path, X=x, y=3.0 * x[:, 0], variable_names=np.array(["speed"]))
    result = CliRunner().invoke(main, ["regress", str(path), "--niterations", "3", "--populations", "2", "--procs", "1"])
    assert result.exit_code == 0, result.output
    assert "speed" in result.output


def test_regress_missing_target_named(tmp_path):
    path = _table(tmp_path)
    result = CliRunner().invoke(main, ["regress", str(path), "--target", "z"])
    assert result.exit_code != 0
    assert "'z' not found" in result.output


def test_regress_unknown_operator_named(tmp_path):
    path = _table(tmp_path)
    result = CliRunner().invoke(main, ["regress", str(path), "--unary-operators", "sinh", "--niterations", "1"])
    assert result.exit_code != 0
    assert "unknown operator 'sinh'" in result.output


def test_regress_nan_rejected(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"a": [1.0, np.nan, 3.0], "y": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    result = CliRunner().invoke(main, ["regress", str(path), "--niterations", "1"])
    assert result.exit_code != 0
    assert "NaN" in result.output


def test_regress_non_numeric_cell_named(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("x1,y\n1,2\nabc,3\n")
    result = CliRunner().invoke(main, ["regress", str(path), "--niterations", "1"])
    assert result.exit_code == 2
    assert "non-numeric value 'abc' in data row 2" in result.output


def test_regress_empty_file_rejected(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = CliRunner().invoke(main, ["regress", str(path)])
    assert result.exit_code == 2
    assert "has no columns" in result.output
