"""Paper-style tables over several discovery reports."""

import csv
import io

from symdistill.report.table import table_row, to_csv, to_markdown, write_tables

SPRING = {
    "system": "spring", "dim": 2, "model": "l1", "message_r2": 0.998, "edge_formula_force_r2": 0.995,
    "edge_formulas": [{"component": "e3", "sympy_refit": "dx*(r - 1)/r"}],
    "test_loss": {"gn": 0.05, "symbolic": 0.04}, "ood_loss": {"gn": 0.5, "symbolic": 0.06},
    "wall_time_s": {"train": 200.0, "regress": 100.0, "total_this_invocation": 1.0},
}
CHARGE = {"system": "charge", "dim": 2, "model": "flathgn", "message_r2": None, "pair_energy_r2": 0.9,
          "edge_formulas": [], "test_loss": {"gn": 0.2, "symbolic": 0.3}, "ood_loss": {}, "wall_time_s": {}}


def test_row_marks_recovery_by_threshold():
    assert table_row(SPRING)["recovered"] is True
    assert table_row(SPRING, recovered_r2=0.999)["recovered"] is False
    assert table_row(CHARGE)["formula_r2"] == 0.9


def test_row_sums_stage_times_only():
    assert table_row(SPRING)["wall_time_s"] == 300.0


def test_csv_has_one_line_per_run():
    rows = list(csv.DictReader(io.StringIO(to_csv([table_row(SPRING), table_row(CHARGE)]))))
    assert [r["system"] for r in rows] == ["spring", "charge"]
    assert rows[0]["recovered"] == "True"


def test_markdown_grid_has_models_as_columns():
    text = to_markdown([table_row(SPRING), table_row(CHARGE)])
    assert "| system | l1 | flathgn |" in text
    assert "| spring-2 | 0.998 |  |" in text
    assert "| charge-2 | flathgn | 0.9 | no |" in text


def test_write_tables_creates_both_files(tmp_path):
    csv_path, markdown_path = write_tables([table_row(SPRING)], tmp_path)
    assert csv_path.read_text().startswith("system,dim,model")
    assert markdown_path.read_text().startswith("## Message R²")


def test_markdown_grid_shows_trimmed_r2_in_brackets():
    text = to_markdown([table_row({**SPRING, "message_r2": 0.89, "message_r2_trimmed": 0.97})])
    assert "| spring-2 | 0.89 (0.97) |" in text
