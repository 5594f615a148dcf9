"""Package-level behaviour: lazy imports, atomic writes, config merging, the CLI."""

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from symdistill import _io, config
from symdistill.cli import SUBCOMMANDS, main


def test_import_does_not_load_torch_or_numba():
    code = "import sys, symdistill; print('torch' in sys.modules, 'numba' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.split() == ["False", "False"]


def test_unknown_attribute_raises():
    import symdistill

    with pytest.raises(AttributeError, match="no_such_thing"):
        symdistill.no_such_thing  # noqa: B018


def test_atomic_write_json_round_trip(tmp_path):
    path = tmp_path / "sub" / "report.json"
    _io.atomic_write_json(path, {"a": 1, "b": [1.5, 2.5]})
    assert json.loads(path.read_text()) == {"a": 1, "b": [1.5, 2.5]}
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]


def test_atomic_path_keeps_old_file_on_error(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with _io.atomic_path(path) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.txt"]


@dataclass(frozen=True)
class _Example:
    steps: int = 10
    lr: float = 1e-3


def test_merge_ignores_none_overrides():
    merged = config.merge({"steps": 5, "nested": {"a": 1, "b": 2}}, {"steps": None, "nested": {"b": 3}})
    assert merged == {"steps": 5, "nested": {"a": 1, "b": 3}}


def test_from_dict_rejects_unknown_key():
    with pytest.raises(ValueError, match="stpes"):
        config.from_dict(_Example, {"stpes": 3}, section="train")


def test_load_toml_reports_invalid_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("steps = = 3\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        config.load_toml(path)


def test_cli_help_lists_every_subcommand():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in SUBCOMMANDS:
        assert name in result.output


def test_atomic_write_uses_default_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        path = tmp_path / "out.txt"
        _io.atomic_write_text(path, "x")
        assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)


def test_from_dict_rejects_text_for_number():
    with pytest.raises(ValueError, match=r"train.steps must be a number, got 'abc'"):
        config.from_dict(_Example, {"steps": "abc"}, section="train")
