"""A fitted formula: one sympy expression over named variables, with its role."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Sequence

import sympy


@dataclasses.dataclass(frozen=True)
class Formula:
    """One distilled function of a graph network.

    Attributes
    ----------
    component : str
        Role of the formula, for example ``"e3"`` (message component 3), ``"ax"`` (the
        node function's x output), ``"pair_energy"`` or ``"self_energy"``.
    expr : sympy.Expr
        The expression over Symbols named by ``variables``.
    variables : tuple of str
        Input columns in the order the torch module expects them. Every free symbol of
        ``expr`` is one of them; some may be unused.
    """

    component: str
    expr: sympy.Expr
    variables: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", tuple(self.variables))
        unknown = sorted(str(s) for s in self.expr.free_symbols if str(s) not in self.variables)
        if unknown:
            raise ValueError(
                f"formula for {self.component!r} uses {', '.join(unknown)}, which are not among its "
                f"variables ({', '.join(self.variables)})"
            )

    @classmethod
    def parse(cls, component: str, text: str, variables: Sequence[str]) -> "Formula":
        """Build a formula from a sympy string over ``variables`` (as written in report.json)."""
        local = {name: sympy.Symbol(name) for name in variables}
        try:
            expr = sympy.sympify(text, locals=local)
        except (sympy.SympifyError, SyntaxError, TypeError) as error:
            raise ValueError(f"cannot parse formula for {component!r}: {text!r} ({error})") from None
        return cls(component, expr, tuple(variables))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: ``component``, ``sympy`` string and ``variables``."""
        return {"component": self.component, "sympy": str(self.expr), "variables": list(self.variables)}


def drop_offsets(expr: sympy.Expr, dynamic: Iterable[str]) -> sympy.Expr:
    """Remove the additive terms of ``expr`` that depend on no variable in ``dynamic``.

    An energy is defined up to terms that do not change with positions or momenta: a
    constant, or a function of charges and masses only. They do not change the
    dynamics, so they are dropped before a recovered energy is reported.
    """
    dynamic = set(dynamic)
    # Distribute top-level products only, so c * (q1*q2/r + b) exposes its offset c*b.
    expanded = expr.expand(deep=False, mul=True, multinomial=False, power_exp=False, power_base=False, log=False)
    terms = sympy.Add.make_args(expanded)
    kept = [term for term in terms if any(str(s) in dynamic for s in term.free_symbols)]
    return sympy.Add(*kept) if kept else sympy.Integer(0)
