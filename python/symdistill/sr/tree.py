"""Expression trees as postfix node tuples, and their structure, strings and sympy form.

A tree is a tuple of nodes in postfix order. Each node is ``(code, value)``: ``code``
is an operator code from :mod:`symdistill.sr.operators`, and ``value`` is the
constant (``CONST``), the feature index (``FEATURE``) or 0.0 (operators). Trees are
immutable and hashable, so loss caches can key on them. :func:`to_program` turns one
into the ``[n_nodes, 2]`` array that the Numba kernels evaluate.

The subtree rooted at postfix position ``i`` occupies ``tree[start[i]:i + 1]``, with
``start`` from :func:`subtree_starts`.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import sympy

from symdistill.sr.operators import CONST, FEATURE, Operator
from symdistill.sr.snapping import exact_value

Node = tuple[int, float]
Tree = tuple[Node, ...]


def _arity_table(operators: Sequence[Operator] = ()) -> list[int]:
    table = [0] * 10 + [1] * 30 + [2] * 30 + [3] * 30 + [-1] * 156
    for op in operators:
        table[op.code] = op.arity
    return table


arity_of = _arity_table().__getitem__
"""Return the number of children of a node with a built-in or leaf code."""


def arity_lookup(operators: Sequence[Operator]):
    """Return a fast ``code -> arity`` lookup that includes the custom operators."""
    return _arity_table(operators).__getitem__


def to_program(tree: Tree) -> np.ndarray:
    """Return the float64 ``[n_nodes, 2]`` program array the kernels evaluate."""
    return np.array(tree, dtype=np.float64).reshape(len(tree), 2)


def subtree_starts(tree: Tree, arity=arity_of) -> list[int]:
    """Return ``start`` such that the subtree at node ``i`` is ``tree[start[i]:i+1]``."""
    starts = [0] * len(tree)
    stack: list[int] = []
    for i, (code, _) in enumerate(tree):
        n_children = arity(code)
        start = i
        for _ in range(n_children):
            start = stack.pop()
        starts[i] = start
        stack.append(start)
    return starts


def children(tree: Tree, i: int, starts: Sequence[int], arity=arity_of) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` slice bounds of each child of node ``i``, in order."""
    spans = []
    end = i
    for _ in range(arity(tree[i][0])):
        child_root = end - 1
        spans.append((starts[child_root], end))
        end = starts[child_root]
    spans.reverse()
    return spans


def depth(tree: Tree, arity=arity_of) -> int:
    """Return the depth of the tree (a single leaf has depth 1)."""
    stack: list[int] = []
    for code, _ in tree:
        n_children = arity(code)
        if n_children == 0:
            stack.append(1)
        else:
            deepest = max(stack[-n_children:])
            del stack[-n_children:]
            stack.append(deepest + 1)
    return stack[-1]


def constant_positions(tree: Tree) -> list[int]:
    """Return the postfix positions of the constant nodes."""
    return [i for i, (code, _) in enumerate(tree) if code == CONST]


def with_constants(tree: Tree, values: Sequence[float]) -> Tree:
    """Return ``tree`` with its constants replaced by ``values`` in postfix order."""
    iterator = iter(values)
    return tuple((CONST, float(next(iterator))) if code == CONST else (code, value) for code, value in tree)


def constants_of(tree: Tree) -> np.ndarray:
    """Return the constants of ``tree`` in postfix order as a float64 array."""
    return np.array([value for code, value in tree if code == CONST], dtype=np.float64)


def _format_constant(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else repr(value)


def to_string(tree: Tree, operators: Mapping[int, Operator], variable_names: Sequence[str]) -> str:
    """Return a readable equation string such as ``((m1 * m2) * dx) / (r ^ 3)``."""
    stack: list[str] = []
    for code, value in tree:
        if code == CONST:
            text = _format_constant(value)
            stack.append(f"({text})" if value < 0 else text)
        elif code == FEATURE:
            stack.append(variable_names[int(value)])
        else:
            op = operators[code]
            args = stack[len(stack) - op.arity :]
            del stack[len(stack) - op.arity :]
            if op.infix:
                stack.append(f"({args[0]} {op.name} {args[1]})")
            else:
                stack.append(f"{op.name}({', '.join(args)})")
    text = stack[-1]
    if text.startswith("(") and _balanced_outer(text):
        text = text[1:-1]
    return text


def _balanced_outer(text: str) -> bool:
    # True when the first "(" closes at the last character.
    depth_count = 0
    for i, char in enumerate(text):
        depth_count += char == "("
        depth_count -= char == ")"
        if depth_count == 0 and i < len(text) - 1:
            return False
    return True


def to_sympy(tree: Tree, operators: Mapping[int, Operator], symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
    """Return the sympy expression of ``tree`` using each operator's sympy mapping.

    Constants become ``sympy.Float`` values, except those whose float is exactly an
    integer, a simple fraction or a simple multiple of pi
    (:func:`symdistill.sr.snapping.exact_value`): they become the exact number, so
    snapped exponents stay exact powers and a snapped phase ``pi/2`` stays ``pi/2``.
    """
    stack: list[sympy.Expr] = []
    for code, value in tree:
        if code == CONST:
            exact = exact_value(value)
            stack.append(sympy.Float(value, 17) if exact is None else exact)
        elif code == FEATURE:
            stack.append(symbols[int(value)])
        else:
            op = operators[code]
            args = stack[len(stack) - op.arity :]
            del stack[len(stack) - op.arity :]
            stack.append(op.sympy(*args))
    return stack[-1]


def serialize(tree: Tree, operators: Mapping[int, Operator]) -> str:
    """Return a lossless postfix string, e.g. ``f0 f1 * c2.5 /``, for files and warm starts."""
    tokens = []
    for code, value in tree:
        if code == CONST:
            tokens.append("c" + repr(float(value)))
        elif code == FEATURE:
            tokens.append(f"f{int(value)}")
        else:
            tokens.append(operators[code].name)
    return " ".join(tokens)


def parse(text: str, operators_by_name: Mapping[str, Operator], n_features: int) -> Tree:
    """Parse a string written by :func:`serialize` back into a tree.

    Raises
    ------
    ValueError
        If a token is unknown, a feature index is out of range, or the tokens do not
        form exactly one expression.
    """
    nodes: list[Node] = []
    height = 0
    for token in text.split():
        if token in operators_by_name:
            op = operators_by_name[token]
            if height < op.arity:
                raise ValueError(f"postfix expression {text!r} is invalid: {token!r} lacks arguments")
            nodes.append((op.code, 0.0))
            height -= op.arity - 1
        elif token.startswith("f") and token[1:].isdigit():
            index = int(token[1:])
            if index >= n_features:
                raise ValueError(f"postfix expression {text!r} uses feature {index} but the data has {n_features}")
            nodes.append((FEATURE, float(index)))
            height += 1
        elif token.startswith("c") and _is_float(token[1:]):
            nodes.append((CONST, float(token[1:])))
            height += 1
        else:
            raise ValueError(f"postfix expression {text!r} has an unknown token {token!r} for this operator set")
    if height != 1:
        raise ValueError(f"postfix expression {text!r} is invalid: it leaves {height} values instead of 1")
    return tuple(nodes)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
