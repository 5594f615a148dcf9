"""Mutations and crossover on postfix trees.

Every function takes a tree and a :class:`MutationContext` and returns a new tree,
or None when the mutation does not apply (for example ``mutate_feature`` on a tree
without features). Constraint checks happen in the caller, which retries.
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Callable

import numpy as np

from symdistill.sr.operators import ADD, CONST, DIV, FEATURE, MUL, SUB, OperatorSet
from symdistill.sr.tree import arity_lookup, Tree, children, subtree_starts, to_program


@dataclasses.dataclass
class MutationContext:
    """Inputs of the mutations: operators by arity, the feature count and an RNG."""

    operator_set: OperatorSet
    n_features: int
    rng: random.Random
    perturbation_factor: float = 0.129
    probability_negate_constant: float = 0.01
    temperature: float = 1.0

    def __post_init__(self) -> None:
        self.arity = arity_lookup(self.operator_set.operators)
        self.by_arity = {
            1: [op.code for op in self.operator_set.unary],
            2: [op.code for op in self.operator_set.binary],
            3: [op.code for op in self.operator_set.ternary],
        }
        self.arities_available = [a for a in (1, 2, 3) if self.by_arity[a]]
        self.has_custom = self.operator_set.has_custom

    def random_leaf(self) -> tuple[int, float]:
        """Return a constant ~N(0, 1) or a random feature, 50/50."""
        if self.rng.random() < 0.5:
            return (CONST, self.rng.gauss(0.0, 1.0))
        return (FEATURE, float(self.rng.randrange(self.n_features)))

    def random_operator(self, arity: int | None = None) -> int:
        if arity is None:
            arity = self.arities_available[self.rng.randrange(len(self.arities_available))]
        codes = self.by_arity[arity]
        return codes[self.rng.randrange(len(codes))]


def random_tree(ctx: MutationContext, n_operators: int) -> Tree:
    """Build a random tree by appending ``n_operators`` operators at random leaves."""
    tree: Tree = (ctx.random_leaf(),)
    for _ in range(n_operators):
        tree = _append_at_leaf(tree, ctx)
    return tree


def _operator_around(ctx: MutationContext, subtree: Tree) -> Tree:
    # A new operator node with `subtree` as one argument and fresh leaves elsewhere.
    code = ctx.random_operator()
    n_args = ctx.arity(code)
    position = ctx.rng.randrange(n_args)
    nodes: list = []
    for k in range(n_args):
        nodes.extend(subtree if k == position else (ctx.random_leaf(),))
    nodes.append((code, 0.0))
    return tuple(nodes)


def _append_at_leaf(tree: Tree, ctx: MutationContext) -> Tree:
    leaves = [i for i, (code, _) in enumerate(tree) if ctx.arity(code) == 0]
    i = leaves[ctx.rng.randrange(len(leaves))]
    return tree[:i] + _operator_around(ctx, (tree[i],)) + tree[i + 1 :]


def add_node(tree: Tree, ctx: MutationContext) -> Tree:
    """Append an operator at a random leaf, or prepend one at the root (50/50)."""
    if ctx.rng.random() < 0.5:
        return _append_at_leaf(tree, ctx)
    return _operator_around(ctx, tree)


def insert_node(tree: Tree, ctx: MutationContext) -> Tree:
    """Insert an operator above a random node."""
    starts = subtree_starts(tree, ctx.arity)
    i = ctx.rng.randrange(len(tree))
    return tree[: starts[i]] + _operator_around(ctx, tree[starts[i] : i + 1]) + tree[i + 1 :]


def delete_node(tree: Tree, ctx: MutationContext) -> Tree | None:
    """Replace a random operator node by one of its children."""
    operators = [i for i, (code, _) in enumerate(tree) if ctx.arity(code) > 0]
    if not operators:
        return None
    i = operators[ctx.rng.randrange(len(operators))]
    starts = subtree_starts(tree, ctx.arity)
    spans = children(tree, i, starts, ctx.arity)
    start, end = spans[ctx.rng.randrange(len(spans))]
    return tree[: starts[i]] + tree[start:end] + tree[i + 1 :]


def mutate_constant(tree: Tree, ctx: MutationContext) -> Tree | None:
    """Scale one constant by ``(perturbation_factor*T + 1.1)^U(0,1)`` up or down, rarely negate it."""
    positions = [i for i, (code, _) in enumerate(tree) if code == CONST]
    if not positions:
        return None
    i = positions[ctx.rng.randrange(len(positions))]
    factor = (ctx.perturbation_factor * ctx.temperature + 1.1) ** ctx.rng.random()
    value = tree[i][1]
    value = value * factor if ctx.rng.random() < 0.5 else value / factor
    if ctx.rng.random() < ctx.probability_negate_constant:
        value = -value
    return tree[:i] + ((CONST, value),) + tree[i + 1 :]


def mutate_operator(tree: Tree, ctx: MutationContext) -> Tree | None:
    """Replace a random operator by another of the same arity."""
    operators = [i for i, (code, _) in enumerate(tree) if ctx.arity(code) > 0]
    if not operators:
        return None
    i = operators[ctx.rng.randrange(len(operators))]
    code = ctx.random_operator(ctx.arity(tree[i][0]))
    return tree[:i] + ((code, 0.0),) + tree[i + 1 :]


def mutate_feature(tree: Tree, ctx: MutationContext) -> Tree | None:
    """Point a random feature node at another feature."""
    features = [i for i, (code, _) in enumerate(tree) if code == FEATURE]
    if not features or ctx.n_features < 2:
        return None
    i = features[ctx.rng.randrange(len(features))]
    current = int(tree[i][1])
    new = ctx.rng.randrange(ctx.n_features - 1)
    new = new + 1 if new >= current else new
    return tree[:i] + ((FEATURE, float(new)),) + tree[i + 1 :]


def swap_operands(tree: Tree, ctx: MutationContext) -> Tree | None:
    """Swap two arguments of a random operator with two or more arguments."""
    candidates = [i for i, (code, _) in enumerate(tree) if ctx.arity(code) >= 2]
    if not candidates:
        return None
    i = candidates[ctx.rng.randrange(len(candidates))]
    starts = subtree_starts(tree, ctx.arity)
    spans = children(tree, i, starts, ctx.arity)
    a, b = ctx.rng.sample(range(len(spans)), 2)
    pieces = [tree[s:e] for s, e in spans]
    pieces[a], pieces[b] = pieces[b], pieces[a]
    return tree[: starts[i]] + sum(pieces, ()) + (tree[i],) + tree[i + 1 :]


def rotate_tree(tree: Tree, ctx: MutationContext) -> Tree | None:
    """Rotate at a random node: one of its operator children moves up into its place.

    With parent ``N`` whose argument ``k`` is operator ``C``, and ``G`` argument ``j``
    of ``C``: ``C`` replaces ``N``, ``N`` becomes argument ``j`` of ``C``, and ``G``
    becomes argument ``k`` of ``N``.
    """
    starts, kids = _structure(tree, ctx.arity)
    pivots = [(i, k) for i, children_of_i in enumerate(kids) for k, c in enumerate(children_of_i) if kids[c]]
    if not pivots:
        return None
    i, k = pivots[ctx.rng.randrange(len(pivots))]
    c_root = kids[i][k]
    parent_children = [tree[starts[c] : c + 1] for c in kids[i]]
    c_children = [tree[starts[g] : g + 1] for g in kids[c_root]]
    j = ctx.rng.randrange(len(c_children))
    parent_children[k] = c_children[j]
    c_children[j] = sum(parent_children, ()) + (tree[i],)
    new_c = sum(c_children, ()) + (tree[c_root],)
    return tree[: starts[i]] + new_c + tree[i + 1 :]


def _structure(tree: Tree, arity) -> tuple[list[int], list[list[int]]]:
    # Subtree starts and, per node, the postfix indices of its children in order.
    starts = [0] * len(tree)
    kids: list[list[int]] = [[] for _ in tree]
    stack: list[int] = []
    for i, (code, _) in enumerate(tree):
        n_children = arity(code)
        if n_children:
            kids[i] = stack[-n_children:]
            del stack[-n_children:]
            starts[i] = starts[kids[i][0]]
        else:
            starts[i] = i
        stack.append(i)
    return starts, kids


def crossover(tree_a: Tree, tree_b: Tree, ctx: MutationContext) -> tuple[Tree, Tree]:
    """Swap a random subtree of ``tree_a`` with a random subtree of ``tree_b``."""
    starts_a = subtree_starts(tree_a, ctx.arity)
    starts_b = subtree_starts(tree_b, ctx.arity)
    i = ctx.rng.randrange(len(tree_a))
    j = ctx.rng.randrange(len(tree_b))
    piece_a = tree_a[starts_a[i] : i + 1]
    piece_b = tree_b[starts_b[j] : j + 1]
    child_a = tree_a[: starts_a[i]] + piece_b + tree_a[i + 1 :]
    child_b = tree_b[: starts_b[j]] + piece_a + tree_b[j + 1 :]
    return child_a, child_b


def simplify(tree: Tree, ctx: MutationContext, fold: Callable[[Tree], float | None] | None = None) -> Tree:
    """Fold constant subtrees and combine constants through nested ``+ -`` and ``* /``.

    Folding uses the same semantics as evaluation, and a subtree whose value is not
    finite is left alone. Combining rewrites, e.g., ``(x - 0.75) + 1.21`` as
    ``x + 0.46`` and ``2 / (x * 4)`` as ``0.5 / x``.
    """
    from symdistill.sr import _kernels

    if fold is None:

        def fold(subtree: Tree) -> float | None:
            if ctx.has_custom:
                return None
            out = np.empty(1)
            ok = _kernels.evaluate_program(to_program(subtree), _ONE_ROW, out)
            return float(out[0]) if ok else None

    changed = True
    while changed:
        changed = False
        starts = subtree_starts(tree, ctx.arity)
        for i, (code, _) in enumerate(tree):
            if ctx.arity(code) == 0 or code >= 100:
                continue
            subtree = tree[starts[i] : i + 1]
            if all(node_code == CONST for node_code, _ in subtree[:-1]):
                value = fold(subtree)
                if value is not None and math.isfinite(value):
                    tree = tree[: starts[i]] + ((CONST, value),) + tree[i + 1 :]
                    changed = True
                    break
    return _combine_constants(tree, ctx)


# Combining constants through nested + - and * /: an inner node op(X, c1) or
# op(c1, X) is written as s*X + k (additive) or X^e * k (multiplicative), the outer
# constant is applied, and the result is rebuilt as one operator with one constant.
_ADDITIVE = {ADD, SUB}
_MULTIPLICATIVE = {MUL, DIV}


def _as_affine(code: int, constant: float, constant_first: bool) -> tuple[float, float] | None:
    # (sign of X, constant) such that op(...) == sign*X + constant, or for * and /,
    # (exponent of X, factor) such that op(...) == X**exponent * factor.
    if code == ADD:
        return 1.0, constant
    if code == SUB:
        return (-1.0, constant) if constant_first else (1.0, -constant)
    if code == MUL:
        return 1.0, constant
    if code == DIV:
        if constant_first:
            return -1.0, constant
        return (1.0, 1.0 / constant) if constant != 0 else None
    return None


def _apply_outer(code: int, inner: tuple[float, float], constant: float, constant_first: bool):
    sign, k = inner
    if code == ADD:
        return sign, k + constant
    if code == SUB:
        return (-sign, constant - k) if constant_first else (sign, k - constant)
    if code == MUL:
        return sign, k * constant
    if code == DIV:
        if constant_first:
            return (-sign, constant / k) if k != 0 else None
        return (sign, k / constant) if constant != 0 else None
    return None


def _combine_constants(tree: Tree, ctx: MutationContext) -> Tree:
    available = set(ctx.by_arity[2])
    changed = True
    while changed:
        changed = False
        starts = subtree_starts(tree, ctx.arity)
        for i, (code, _) in enumerate(tree):
            if code not in _ADDITIVE and code not in _MULTIPLICATIVE:
                continue
            family = _ADDITIVE if code in _ADDITIVE else _MULTIPLICATIVE
            (a_start, a_end), (b_start, b_end) = children(tree, i, starts, ctx.arity)
            if b_end - b_start == 1 and tree[b_start][0] == CONST:
                outer_constant, outer_first, inner_root = tree[b_start][1], False, a_end - 1
            elif a_end - a_start == 1 and tree[a_start][0] == CONST:
                outer_constant, outer_first, inner_root = tree[a_start][1], True, b_end - 1
            else:
                continue
            inner_code = tree[inner_root][0]
            if inner_code not in family:
                continue
            (x_start, x_end), (y_start, y_end) = children(tree, inner_root, starts, ctx.arity)
            if y_end - y_start == 1 and tree[y_start][0] == CONST:
                inner_constant, inner_first, x_span = tree[y_start][1], False, (x_start, x_end)
            elif x_end - x_start == 1 and tree[x_start][0] == CONST:
                inner_constant, inner_first, x_span = tree[x_start][1], True, (y_start, y_end)
            else:
                continue
            inner = _as_affine(inner_code, inner_constant, inner_first)
            combined = None if inner is None else _apply_outer(code, inner, outer_constant, outer_first)
            if combined is None or not math.isfinite(combined[1]):
                continue
            rebuilt = _rebuild(tree[x_span[0] : x_span[1]], combined, family, available)
            if rebuilt is None:
                continue
            tree = tree[: starts[i]] + rebuilt + tree[i + 1 :]
            changed = True
            break
    return tree


def _rebuild(x: Tree, combined: tuple[float, float], family: set[int], available: set[int]) -> Tree | None:
    sign, k = combined
    if family is _ADDITIVE:
        if sign > 0:
            if ADD in available:
                return x + ((CONST, k), (ADD, 0.0))
            return x + ((CONST, -k), (SUB, 0.0)) if SUB in available else None
        return ((CONST, k),) + x + ((SUB, 0.0),) if SUB in available else None
    if sign > 0:
        if MUL in available:
            return x + ((CONST, k), (MUL, 0.0))
        return x + ((CONST, 1.0 / k), (DIV, 0.0)) if DIV in available and k != 0 else None
    return ((CONST, k),) + x + ((DIV, 0.0),) if DIV in available else None


_ONE_ROW = np.zeros((1, 1))


MUTATIONS: dict[str, Callable[[Tree, MutationContext], Tree | None]] = {
    "mutate_constant": mutate_constant,
    "mutate_operator": mutate_operator,
    "mutate_feature": mutate_feature,
    "swap_operands": swap_operands,
    "rotate_tree": rotate_tree,
    "add_node": add_node,
    "insert_node": insert_node,
    "delete_node": delete_node,
}
"""Structural mutations by name; ``simplify``, ``randomize``, ``do_nothing`` and
``optimize`` are handled by the search because they need more than the tree."""
