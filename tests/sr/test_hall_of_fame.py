"""Hall of fame, Pareto front, scores, model selection and the CSV file."""

import math

import numpy as np
import pytest

from symdistill.sr.hall_of_fame import HallOfFame, pareto_scores, read_trees, select_index, write_csv
from symdistill.sr.operators import CONST, FEATURE, build_operator_set

OPERATORS = build_operator_set(binary=["+", "*"])


def test_pareto_front_drops_dominated():
    hof = HallOfFame()
    hof.update(((CONST, 1.0),), 10.0, 1)
    hof.update(((FEATURE, 0.0),), 12.0, 3)
    hof.update(((FEATURE, 1.0),), 5.0, 5)
    hof.update(((FEATURE, 1.0),), 7.0, 5)
    assert [(c, loss) for c, loss, _ in hof.pareto_front()] == [(1, 10.0), (5, 5.0)]


def test_non_finite_loss_not_stored():
    hof = HallOfFame()
    assert not hof.update(((CONST, 1.0),), math.inf, 1)
    assert hof.entries == {}


def test_scores_formula():
    scores = pareto_scores([1, 3, 4], [1.0, 0.1, 0.05])
    np.testing.assert_allclose(scores, [0.0, math.log(10) / 2, math.log(2)])


def test_zero_loss_gets_finite_score():
    scores = pareto_scores([1, 2], [1.0, 0.0])
    assert np.all(np.isfinite(scores))
    assert scores[1] == pytest.approx(-math.log(1e-20))


def test_selection_strategies_on_table():
    # accuracy -> the last row; score -> the largest drop; best -> largest score among
    # rows within 1.5x of the minimum loss.
    losses = [10.0, 1.0, 0.11, 0.1, 0.09]
    complexities = [1, 3, 5, 6, 20]
    scores = pareto_scores(complexities, losses)
    assert select_index(losses, scores, "accuracy") == 4
    assert select_index(losses, scores, "score") == 1
    assert select_index(losses, scores, "best") == 2


def test_unknown_selection_rejected():
    with pytest.raises(ValueError, match="'median'"):
        select_index([1.0], [0.0], "median")


def test_csv_round_trip(tmp_path):
    hof = HallOfFame()
    hof.update(((CONST, 1.25),), 2.0, 1)
    tree = ((FEATURE, 0.0), (FEATURE, 1.0), (OPERATORS.by_name()["*"].code, 0.0))
    hof.update(tree, 0.5, 3)
    path = tmp_path / "hof.csv"
    write_csv(path, hof.pareto_front(), OPERATORS.by_code(), ["a", "b c"])
    text = path.read_text().splitlines()
    assert text[0] == "complexity,loss,score,equation,tree"
    assert "a * b c" in text[2]
    assert read_trees(path, OPERATORS.by_name(), 2) == [((CONST, 1.25),), tree]
    assert [p.name for p in tmp_path.iterdir()] == ["hof.csv"]


def test_read_trees_rejects_foreign_csv(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("Complexity,Loss,Equation\n1,2.0,x0\n")
    with pytest.raises(ValueError, match="no 'tree' column"):
        read_trees(path, OPERATORS.by_name(), 1)


def test_best_ignores_rounding_among_exact_fits():
    # Three exact fits whose losses differ only by rounding: the simplest one wins.
    losses = [0.25, 1.4e-31, 1.7e-32, 2.2e-34]
    complexities = [3, 13, 15, 21]
    scores = pareto_scores(complexities, losses)
    assert select_index(losses, scores, "best") == 1
    assert scores[2] == 0.0
