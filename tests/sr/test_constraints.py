"""Complexity with per-operator weights, maxsize, maxdepth and operator constraints."""

import pytest

from symdistill.sr.constraints import Constraints
from symdistill.sr.operators import ADD, CONST, FEATURE, build_operator_set

OPERATORS = build_operator_set(binary=["+", "*", "^"], unary=["sin", "cos"])
NAMES = OPERATORS.by_name()
POW, SIN, COS, MUL = (NAMES[n].code for n in ("^", "sin", "cos", "*"))

# sin((x0 + x1 + x2) ^ 2.3): 8 nodes.
TREE = (
    (FEATURE, 0.0),
    (FEATURE, 1.0),
    (ADD, 0.0),
    (FEATURE, 2.0),
    (ADD, 0.0),
    (CONST, 2.3),
    (POW, 0.0),
    (SIN, 0.0),
)


def test_complexity_counts_nodes():
    assert Constraints(OPERATORS, 30, 30).complexity(TREE) == 8


def test_complexity_with_operator_weight():
    assert Constraints(OPERATORS, 30, 30, {"sin": 3}).complexity(TREE) == 10


def test_complexity_with_leaf_weights():
    rules = Constraints(OPERATORS, 30, 30, complexity_of_constants=2, complexity_of_variables=0.5)
    assert rules.complexity(TREE) == round(3 * 1 + 2 + 1.5 + 1 + 1)


def test_maxsize_and_maxdepth():
    assert not Constraints(OPERATORS, 7, 30).admissible(TREE)
    assert Constraints(OPERATORS, 8, 30).admissible(TREE)
    assert not Constraints(OPERATORS, 30, 4).admissible(TREE)
    assert Constraints(OPERATORS, 30, 5).admissible(TREE)


def test_argument_constraint():
    assert Constraints(OPERATORS, 30, 30, constraints={"^": (-1, 1)}).admissible(TREE)
    assert not Constraints(OPERATORS, 30, 30, constraints={"^": (-1, 0)}).admissible(TREE)
    assert Constraints(OPERATORS, 30, 30, constraints={"^": (5, 1)}).admissible(TREE)
    assert not Constraints(OPERATORS, 30, 30, constraints={"^": (4, 1)}).admissible(TREE)
    assert not Constraints(OPERATORS, 30, 30, constraints={"sin": 6}).admissible(TREE)


def test_nested_constraint():
    nested = ((FEATURE, 0.0), (COS, 0.0), (SIN, 0.0))
    rules = Constraints(OPERATORS, 30, 30, nested_constraints={"sin": {"cos": 0}})
    assert not rules.admissible(nested)
    assert rules.admissible(TREE)
    double = ((FEATURE, 0.0), (SIN, 0.0), (SIN, 0.0), (SIN, 0.0))
    assert Constraints(OPERATORS, 30, 30, nested_constraints={"sin": {"sin": 1}}).admissible(double[:3])
    assert not Constraints(OPERATORS, 30, 30, nested_constraints={"sin": {"sin": 1}}).admissible(double)


def test_constraint_on_unchosen_operator_rejected():
    with pytest.raises(ValueError, match="'exp'"):
        Constraints(OPERATORS, 30, 30, constraints={"exp": 3})


def test_constraint_length_checked():
    with pytest.raises(ValueError, match="one limit per argument"):
        Constraints(OPERATORS, 30, 30, constraints={"^": (1, 2, 3)})
