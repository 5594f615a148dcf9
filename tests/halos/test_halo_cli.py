"""The ``symdistill halos`` command group."""

import json

import numpy as np
from click.testing import CliRunner

from symdistill.cli import main
from symdistill.halos import load_catalog, write_fof_group_tab, write_table


def run(*args):
    return CliRunner().invoke(main, ["halos", *args], catch_exceptions=False)


def test_info_and_graph(tmp_path, catalog):
    path = tmp_path / "c.npz"
    write_table(catalog, path)
    result = run("info", str(path))
    assert result.exit_code == 0
    assert json.loads(result.output)["n_halos"] == catalog.n_halos
    out = tmp_path / "graph.npz"
    result = run("graph", str(path), "--r-max", "30", "--out", str(out))
    assert result.exit_code == 0
    summary = json.loads(result.output)
    with np.load(out) as saved:
        assert saved["edge_index"].shape == (2, summary["n_edges"])
        assert saved["edge_attr"].shape == (summary["n_edges"], 8)


def test_graph_rejects_large_radius(tmp_path, catalog):
    path = tmp_path / "c.npz"
    write_table(catalog, path)
    result = run("graph", str(path), "--r-max", "150")
    assert result.exit_code != 0
    assert "half the periodic box" in result.output


def test_baselines_on_table(tmp_path, catalog):
    path = tmp_path / "c.csv"
    write_table(catalog, path)
    result = run("baselines", str(path), "--delta-max", "0.8")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert set(report["baselines"]) == {"constant", "simple"}
    assert "ood_mae" in report["baselines"]["simple"]


def test_convert_fof_to_npz(tmp_path, catalog):
    write_fof_group_tab(tmp_path, catalog, n_files=2)
    out = tmp_path / "c.npz"
    result = run("convert", str(tmp_path / "groups_004"), str(out), "--box", "200")
    assert result.exit_code == 0
    assert load_catalog(out).n_halos == catalog.n_halos


def test_missing_catalogue_is_a_clear_error(tmp_path):
    result = run("info", str(tmp_path))
    assert result.exit_code != 0
    assert "group_tab" in result.output
