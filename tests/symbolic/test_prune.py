"""Removal of negligible constants from refitted formulas."""

import sympy

from symdistill.symbolic import Formula, prune_constants

VARIABLES = ("x",)


def _loss_against(target):
    x = sympy.Symbol("x")
    points = [0.5, 1.0, 2.0, 3.0]

    def loss(edge, node):
        expr = edge[0].expr
        return sum(abs(float(expr.subs(x, p)) - target(p)) for p in points) / len(points)

    return loss


def test_negligible_term_is_removed():
    edge = [Formula.parse("e0", "2.0*x + 1e-9/x", VARIABLES)]
    node = [Formula.parse("ax", "E0", ("E0",))]
    pruned, _ = prune_constants(edge, node, _loss_against(lambda p: 2.0 * p), floor=1e-6)
    assert str(pruned[0].expr) == "2.0*x"


def test_needed_constant_is_kept():
    edge = [Formula.parse("e0", "2.0*x + 0.5", VARIABLES)]
    node = [Formula.parse("ax", "E0", ("E0",))]
    pruned, _ = prune_constants(edge, node, _loss_against(lambda p: 2.0 * p + 0.5), floor=1e-6)
    assert pruned[0].expr == edge[0].expr
