"""The compiled evolution loop: its mutations and the island invariants it keeps."""

import collections
import random

import numpy as np
import pytest

from symdistill.sr import _evolve
from symdistill.sr.backends.base import Problem
from symdistill.sr.mutations import MutationContext, random_tree
from symdistill.sr.operators import build_operator_set
from symdistill.sr.options import SearchOptions
from symdistill.sr.population import new_island, run_iteration
from symdistill.sr.search import build_context
from symdistill.sr.tree import depth

OPERATORS = build_operator_set(binary=["+", "-", "*", "/"], unary=["sin", "exp"], ternary=["IF"])


def _valid(tree, arity):
    height = 0
    for code, _ in tree:
        height -= arity(code) - 1
        if height < 1:
            return False
    return height == 1


def _tables(ctx):
    arity = np.array([ctx.arity(code) for code in range(256)], dtype=np.int64)
    unary = np.array([op.code for op in OPERATORS.unary], dtype=np.int64)
    binary = np.array([op.code for op in OPERATORS.binary], dtype=np.int64)
    ternary = np.array([op.code for op in OPERATORS.ternary], dtype=np.int64)
    return arity, unary, binary, ternary


@pytest.mark.parametrize("kind", list(range(12)))
def test_compiled_mutation_keeps_tree_valid(kind):
    ctx = MutationContext(OPERATORS, 3, random.Random(kind))
    arity, unary, binary, ternary = _tables(ctx)
    _evolve.seed(kind)
    width = 64
    scratch = [np.empty(width, dtype=np.int64) for _ in range(2)] + [np.empty(4, dtype=np.int64), np.empty(width, dtype=np.int64)]
    for _ in range(200):
        tree = random_tree(ctx, ctx.rng.randrange(0, 6))
        codes = np.array([c for c, _ in tree], dtype=np.int64)
        values = np.array([v for _, v in tree])
        out_c = np.empty(width, dtype=np.int64)
        out_v = np.empty(width)
        n = _evolve._mutate(
            kind, codes, values, len(tree), out_c, out_v, *scratch, np.empty(width), 1.0, 0.129, 0.01,
            unary, binary, ternary, arity, 3, width - 4,
        )
        if n < 0:
            continue
        child = tuple(zip(out_c[:n].tolist(), out_v[:n].tolist()))
        assert _valid(child, ctx.arity), (kind, tree, child)
        if kind in (_evolve.M_SWAP, _evolve.M_ROTATE, _evolve.M_NOTHING):
            assert collections.Counter(child) == collections.Counter(tree)


def test_compiled_iteration_keeps_invariants():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (200, 3))
    problem = Problem(X, X[:, 0] * X[:, 1] + np.sin(X[:, 2]), None, ("a", "b", "c"))
    options = SearchOptions(unary_operators=["sin"], maxsize=12, maxdepth=6, population_size=30, ncycles_per_iteration=100, procs=1)
    ctx = build_context(problem, options)
    assert ctx.compiled_cycles
    island = new_island(ctx, random.Random(0), [])
    frequencies = np.ones(options.maxsize + 1)
    island, best_seen, n_evaluations, counts = run_iteration(island, ctx, frequencies, None)
    assert n_evaluations > 100
    assert counts.sum() > 0
    assert len(set(island.births)) == len(island.births)
    for tree, loss, complexity in zip(island.trees, island.losses, island.complexities):
        assert _valid(tree, ctx.mutation_context.arity)
        assert complexity == ctx.constraints.complexity(tree) <= options.maxsize
        assert depth(tree, ctx.mutation_context.arity) <= options.maxdepth
        assert loss == pytest.approx(ctx.evaluator(tree), rel=1e-12)
    for complexity, (loss, tree) in best_seen.items():
        assert ctx.constraints.complexity(tree) == complexity
        assert loss == pytest.approx(ctx.evaluator(tree), rel=1e-12)


def test_python_loop_used_with_constraints():
    problem = Problem(np.ones((5, 1)), np.ones(5), None, ("x0",))
    ctx = build_context(problem, SearchOptions(binary_operators=["*", "+"], constraints={"*": (3, 3)}))
    assert not ctx.compiled_cycles


def test_simplify_cache_matches_simplify():
    import dataclasses

    from symdistill.sr.mutations import simplify
    from symdistill.sr.population import _simplified

    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, size=(50, 3))
    problem = Problem(X, X[:, 0] * X[:, 1], None, ("a", "b", "c"))
    ctx = build_context(problem, SearchOptions(binary_operators=("+", "-", "*", "/"), unary_operators=("sin",)))
    mctx = dataclasses.replace(ctx.mutation_context, rng=random.Random(1))
    for _ in range(200):
        tree = random_tree(mctx, 5)
        first = _simplified(tree, ctx, mctx)
        assert first == simplify(tree, mctx)
        assert _simplified(tree, ctx, mctx) is first
