"""Postfix trees: structure, strings, sympy, serialization; mutations keep trees valid."""

import collections
import random

import numpy as np
import pytest
import sympy

from symdistill.sr.mutations import (
    MUTATIONS,
    MutationContext,
    crossover,
    random_tree,
    rotate_tree,
    simplify,
    swap_operands,
)
from symdistill.sr.operators import ADD, CONST, FEATURE, MUL, SIN, build_operator_set
from symdistill.sr.tree import depth, parse, serialize, subtree_starts, to_string, to_sympy

OPERATORS = build_operator_set(binary=["+", "-", "*", "/"], unary=["sin", "exp"], ternary=["IF"])
BY_CODE = OPERATORS.by_code()

# (x0 + 2.5) * sin(x1)
EXAMPLE = ((FEATURE, 0.0), (CONST, 2.5), (ADD, 0.0), (FEATURE, 1.0), (SIN, 0.0), (MUL, 0.0))


def _is_valid(tree, ctx):
    height = 0
    for code, _ in tree:
        height -= ctx.arity(code) - 1
        if height < 1:
            return False
    return height == 1


def test_subtree_starts_example():
    assert subtree_starts(EXAMPLE) == [0, 1, 0, 3, 3, 0]


def test_depth_example():
    assert depth(EXAMPLE) == 3


def test_to_string_example():
    assert to_string(EXAMPLE, BY_CODE, ["a", "b"]) == "(a + 2.5) * sin(b)"


def test_to_sympy_example():
    a, b = sympy.symbols("a b")
    # 2.5 is exactly 5/2, so it becomes a Rational; other constants stay Floats.
    assert to_sympy(EXAMPLE, BY_CODE, (a, b)) == (a + sympy.Rational(5, 2)) * sympy.sin(b)
    tree = EXAMPLE[:1] + ((CONST, 2.37),) + EXAMPLE[2:]
    assert to_sympy(tree, BY_CODE, (a, b)) == (a + sympy.Float(2.37, 17)) * sympy.sin(b)


def test_serialize_round_trip():
    text = serialize(EXAMPLE, BY_CODE)
    assert text == "f0 c2.5 + f1 sin *"
    assert parse(text, OPERATORS.by_name(), 2) == EXAMPLE


@pytest.mark.parametrize(
    "text, match",
    [("f0 +", "lacks arguments"), ("f0 f1", "leaves 2"), ("f5", "feature 5"), ("f0 cos", "unknown token")],
)
def test_parse_rejects_bad_input(text, match):
    with pytest.raises(ValueError, match=match):
        parse(text, OPERATORS.by_name(), 2)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_keeps_tree_valid(name):
    ctx = MutationContext(OPERATORS, 3, random.Random(0))
    for _ in range(300):
        tree = random_tree(ctx, ctx.rng.randrange(0, 6))
        child = MUTATIONS[name](tree, ctx)
        if child is not None:
            assert _is_valid(child, ctx), (name, tree, child)


def test_crossover_conserves_tokens():
    ctx = MutationContext(OPERATORS, 3, random.Random(1))
    for _ in range(500):
        a = random_tree(ctx, ctx.rng.randrange(0, 6))
        b = random_tree(ctx, ctx.rng.randrange(0, 6))
        child_a, child_b = crossover(a, b, ctx)
        assert collections.Counter(a + b) == collections.Counter(child_a + child_b)
        assert _is_valid(child_a, ctx)
        assert _is_valid(child_b, ctx)


def test_rotation_and_swap_conserve_tokens():
    ctx = MutationContext(OPERATORS, 3, random.Random(2))
    for _ in range(500):
        tree = random_tree(ctx, ctx.rng.randrange(1, 6))
        for mutation in (rotate_tree, swap_operands):
            child = mutation(tree, ctx)
            if child is not None:
                assert collections.Counter(child) == collections.Counter(tree)


def test_rotation_example():
    # (x0 + 2.5) * sin(x1) rotated at the root around its "+" child gives
    # x0 + (2.5 * sin(x1)) or (2.5 * sin(x1)) ... : the value changes but tokens stay.
    ctx = MutationContext(OPERATORS, 2, random.Random(0))
    results = {rotate_tree(EXAMPLE, ctx) for _ in range(50)}
    assert len(results) >= 2


def test_simplify_folds_constants():
    ctx = MutationContext(OPERATORS, 2, random.Random(0))
    tree = ((FEATURE, 0.0), (CONST, 2.0), (CONST, 3.0), (MUL, 0.0), (ADD, 0.0))
    assert simplify(tree, ctx) == ((FEATURE, 0.0), (CONST, 6.0), (ADD, 0.0))


def test_simplify_keeps_non_finite_subtree():
    ctx = MutationContext(OPERATORS, 2, random.Random(0))
    divide = OPERATORS.by_name()["/"].code
    tree = ((FEATURE, 0.0), (CONST, 1.0), (CONST, 0.0), (divide, 0.0), (ADD, 0.0))
    assert simplify(tree, ctx) == tree


def test_random_leaves_are_balanced():
    ctx = MutationContext(OPERATORS, 3, random.Random(5))
    kinds = collections.Counter(ctx.random_leaf()[0] for _ in range(2000))
    assert 800 < kinds[CONST] < 1200
    assert np.isclose(kinds[CONST] + kinds[FEATURE], 2000)


def test_simplify_combines_constants():
    ctx = MutationContext(OPERATORS, 2, random.Random(0))
    names = OPERATORS.by_name()
    sub, div = names["-"].code, names["/"].code
    tree = ((FEATURE, 0.0), (CONST, 0.75), (sub, 0.0), (CONST, 1.25), (ADD, 0.0))
    assert simplify(tree, ctx) == ((FEATURE, 0.0), (CONST, 0.5), (ADD, 0.0))
    tree = ((CONST, 2.0), (FEATURE, 0.0), (CONST, 4.0), (MUL, 0.0), (div, 0.0))
    assert simplify(tree, ctx) == ((CONST, 0.5), (FEATURE, 0.0), (div, 0.0))


def test_simplify_preserves_values():
    from symdistill.sr import _kernels
    from symdistill.sr.tree import to_program

    ctx = MutationContext(OPERATORS, 2, random.Random(4))
    Xt = np.ascontiguousarray(np.random.default_rng(0).uniform(0.5, 2.0, (2, 40)))
    checked = 0
    for _ in range(3000):
        tree = random_tree(ctx, ctx.rng.randrange(1, 8))
        simplified = simplify(tree, ctx)
        before, after = np.empty(40), np.empty(40)
        if not _kernels.evaluate_program(to_program(tree), Xt, before):
            continue
        assert _kernels.evaluate_program(to_program(simplified), Xt, after), (tree, simplified)
        np.testing.assert_allclose(after, before, rtol=1e-9, atol=1e-9)
        assert len(simplified) <= len(tree)
        checked += simplified != tree
    assert checked > 50
