"""Complexity and structural constraints of trees.

Complexity is the sum of per-node weights (operators: ``complexity_of_operators`` or
the operator's default; constants and variables: their own weights), rounded to an
integer. A tree is admissible when its complexity is at most ``maxsize``, its depth
at most ``maxdepth``, every constrained operator's arguments are within their size
limits, and no nested-operator limit is exceeded.
"""

from __future__ import annotations

from typing import Mapping

from symdistill.sr.operators import CONST, FEATURE, OperatorSet, lookup
from symdistill.sr.tree import arity_lookup, Tree, children, subtree_starts


class Constraints:
    """Complexity and admissibility rules for one search.

    Parameters
    ----------
    operator_set : OperatorSet
    maxsize, maxdepth : int
    complexity_of_operators : mapping of operator name to weight
    complexity_of_constants, complexity_of_variables : float
    constraints : mapping of operator name to the max complexity of each argument
        (an int for unary operators, a tuple with one entry per argument otherwise;
        -1 means no limit), e.g. ``{"^": (-1, 1)}``.
    nested_constraints : mapping of outer name to {inner name: max nesting}
        e.g. ``{"sin": {"sin": 0, "cos": 0}}`` forbids sin or cos inside sin.

    Raises
    ------
    ValueError
        If a constraint names an operator not in the set or has the wrong length.
    """

    def __init__(
        self,
        operator_set: OperatorSet,
        maxsize: int,
        maxdepth: int,
        complexity_of_operators: Mapping[str, float] | None = None,
        complexity_of_constants: float = 1.0,
        complexity_of_variables: float = 1.0,
        constraints: Mapping[str, object] | None = None,
        nested_constraints: Mapping[str, Mapping[str, int]] | None = None,
    ):
        self.maxsize = maxsize
        self.maxdepth = maxdepth
        self.arity = arity_lookup(operator_set.operators)
        by_name = operator_set.by_name()
        weights = {op.code: op.complexity for op in operator_set.operators}
        for name, weight in (complexity_of_operators or {}).items():
            op = lookup(by_name.get(name, name))
            if op.name not in by_name:
                raise ValueError(f"complexity_of_operators names {name!r}, which is not among the chosen operators")
            weights[by_name[op.name].code] = float(weight)
        weights[CONST] = float(complexity_of_constants)
        weights[FEATURE] = float(complexity_of_variables)
        self.weights = weights
        self.uniform = all(w == 1.0 for w in weights.values())
        self.argument_limits: dict[int, tuple[int, ...]] = {}
        for name, limit in (constraints or {}).items():
            code, arity = self._resolve(name, by_name, "constraints")
            limits = (limit,) * arity if isinstance(limit, int) and arity == 1 else tuple(limit)  # type: ignore[arg-type]
            if len(limits) != arity:
                raise ValueError(
                    f"constraints[{name!r}]={limit!r} must give one limit per argument ({arity} for {name!r})"
                )
            self.argument_limits[code] = tuple(int(x) for x in limits)
        self.nested: dict[int, dict[int, int]] = {}
        for outer, inner_limits in (nested_constraints or {}).items():
            outer_code, _ = self._resolve(outer, by_name, "nested_constraints")
            self.nested[outer_code] = {
                self._resolve(inner, by_name, "nested_constraints")[0]: int(count)
                for inner, count in inner_limits.items()
            }
        self.active = bool(self.argument_limits or self.nested)

    @staticmethod
    def _resolve(name: str, by_name, option: str) -> tuple[int, int]:
        op = lookup(by_name.get(name, name))
        if op.name not in by_name:
            raise ValueError(f"{option} names operator {name!r}, which is not among the chosen operators")
        chosen = by_name[op.name]
        return chosen.code, chosen.arity

    def complexity(self, tree: Tree) -> int:
        """Return the rounded sum of node weights (the node count by default)."""
        if self.uniform:
            return len(tree)
        weights = self.weights
        return int(round(sum(weights[code] for code, _ in tree)))

    def admissible(self, tree: Tree, complexity: int | None = None) -> bool:
        """Return True when ``tree`` satisfies size, depth and operator constraints."""
        if (complexity if complexity is not None else self.complexity(tree)) > self.maxsize:
            return False
        # A tree's depth never exceeds its node count, so small trees skip the walk.
        if len(tree) > self.maxdepth and self._depth(tree) > self.maxdepth:
            return False
        if self.active:
            return self._operator_constraints_hold(tree)
        return True

    def _depth(self, tree: Tree) -> int:
        stack: list[int] = []
        arity = self.arity
        for code, _ in tree:
            n_children = arity(code)
            if n_children == 0:
                stack.append(1)
            else:
                deepest = max(stack[-n_children:])
                del stack[-n_children:]
                stack.append(deepest + 1)
        return stack[-1]

    def _operator_constraints_hold(self, tree: Tree) -> bool:
        starts = subtree_starts(tree, self.arity)
        for i, (code, _) in enumerate(tree):
            limits = self.argument_limits.get(code)
            if limits is not None:
                for limit, (s, e) in zip(limits, children(tree, i, starts, self.arity)):
                    if limit >= 0 and self.complexity(tree[s:e]) > limit:
                        return False
            inner_limits = self.nested.get(code)
            if inner_limits is not None:
                subtree = tree[starts[i] : i]
                for inner_code, max_nesting in inner_limits.items():
                    if _max_nesting(subtree, inner_code, self.arity) > max_nesting:
                        return False
        return True


def _max_nesting(tree: Tree, code: int, arity) -> int:
    # Largest number of `code` nodes on any root-to-leaf path of a postfix forest.
    stack: list[int] = []
    for node_code, _ in tree:
        n_children = arity(node_code)
        below = 0
        if n_children:
            below = max(stack[-n_children:])
            del stack[-n_children:]
        stack.append(below + (node_code == code))
    return max(stack) if stack else 0
