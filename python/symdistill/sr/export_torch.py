"""Export sympy expressions as torch modules with trainable constants.

``SympyModule`` compiles a sympy expression into a short program of torch operations.
Every ``sympy.Float`` in the expression becomes one entry of the parameter vector
``constants`` (each occurrence gets its own entry), so gradient descent can refit the
constants of a formula that sits inside a larger network. Integers, rationals and
named numbers (``pi``, ``E``) stay fixed, so ``x**2`` or ``x**(1/3)`` keep their exact
exponents. ``SympyModule.sympy()`` rebuilds the expression with the current constants.

Numerical semantics follow ``sympy.lambdify(..., "numpy")`` on float64 data: no
protected operators, so ``log`` and ``sqrt`` of a negative number and a negative base
raised to a non-integer power give NaN, and sympy's real cube root
``sign(x)*Abs(x)**(1/3)`` is real for negative ``x``. ``sign`` and ``Heaviside``
propagate NaN like ``numpy.sign`` and ``numpy.heaviside``.

This module imports torch at import time. ``symdistill.sr`` must import it lazily.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import sympy
import torch
from torch import nn

__all__ = ["SympyModule", "SUPPORTED_FUNCTIONS"]


def _sign(x: torch.Tensor) -> torch.Tensor:
    # torch.sign maps NaN to 0; numpy.sign keeps NaN.
    return torch.where(torch.isnan(x), x, torch.sign(x))


def _heaviside(x: torch.Tensor, h0: float) -> torch.Tensor:
    ones = torch.ones_like(x)
    step = torch.where(x > 0, ones, torch.where(x < 0, torch.zeros_like(x), ones * h0))
    return torch.where(torch.isnan(x), x, step)


# sympy function class -> elementwise torch function (one argument each).
_UNARY: dict[type, Callable[[torch.Tensor], torch.Tensor]] = {
    sympy.exp: torch.exp,
    sympy.log: torch.log,
    sympy.sin: torch.sin,
    sympy.cos: torch.cos,
    sympy.tan: torch.tan,
    sympy.tanh: torch.tanh,
    sympy.sinh: torch.sinh,
    sympy.cosh: torch.cosh,
    sympy.asin: torch.asin,
    sympy.acos: torch.acos,
    sympy.atan: torch.atan,
    sympy.asinh: torch.asinh,
    sympy.acosh: torch.acosh,
    sympy.atanh: torch.atanh,
    sympy.Abs: torch.abs,
    sympy.sign: _sign,
    sympy.erf: torch.erf,
    sympy.erfc: torch.erfc,
    sympy.floor: torch.floor,
    sympy.ceiling: torch.ceil,
}
_UNARY_BY_NAME = {cls.__name__: fn for cls, fn in _UNARY.items()}

_RELATIONAL: dict[type, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    sympy.StrictGreaterThan: torch.gt,
    sympy.StrictLessThan: torch.lt,
    sympy.GreaterThan: torch.ge,
    sympy.LessThan: torch.le,
    sympy.Equality: torch.eq,
    sympy.Unequality: torch.ne,
}
_RELATIONAL_BY_NAME = {cls.__name__: fn for cls, fn in _RELATIONAL.items()}

# Boolean functions of masks besides And/Or/Not; ITE(c, a, b) is "a if c else b".
_BOOLEAN_FUNCTIONS: dict[type, Callable[[list[torch.Tensor]], torch.Tensor]] = {
    sympy.ITE: lambda m: torch.where(m[0], m[1], m[2]),
    sympy.Xor: lambda m: _fold(m, torch.logical_xor),
    sympy.Nand: lambda m: torch.logical_not(_fold(m, torch.logical_and)),
    sympy.Nor: lambda m: torch.logical_not(_fold(m, torch.logical_or)),
    sympy.Implies: lambda m: torch.logical_or(torch.logical_not(m[0]), m[1]),
    sympy.Equivalent: lambda m: _fold([m[0] == other for other in m[1:]] or [torch.ones_like(m[0])], torch.logical_and),
}
_BOOLEAN_FUNCTIONS_BY_NAME = {cls.__name__: fn for cls, fn in _BOOLEAN_FUNCTIONS.items()}

#: Names of the sympy functions that ``SympyModule`` translates, besides Add, Mul,
#: Pow, Piecewise, Heaviside, Min, Max, relationals, And/Or/Not, ITE, Xor, Nand, Nor,
#: Implies and Equivalent.
SUPPORTED_FUNCTIONS = tuple(sorted(_UNARY_BY_NAME))


class SympyModule(nn.Module):
    """Evaluate a sympy expression with torch, with its float constants as parameters.

    Parameters
    ----------
    expr : sympy.Expr or str
        The expression. A string is parsed with ``sympy.sympify`` using explicit
        Symbols for ``variables``, so names such as ``N``, ``S`` or ``beta`` stay plain
        variables.
    variables : sequence of str or sympy.Symbol
        Input variables in column order. Symbols are matched by name, so a Symbol with
        assumptions (``real=True``) matches the plain name. Variables that the
        expression does not use are allowed.
    trainable : bool, default True
        Register the constants as an ``nn.Parameter``; otherwise as a buffer.
    dtype : torch.dtype, default torch.float64
        Dtype of the stored constants. Each constant is cast to the input's dtype in
        ``forward``, so a float64 copy keeps full precision for ``sympy()`` while the
        module runs on float32 inputs.

    Shapes
    ------
    - input: ``[..., len(variables)]``
    - output: ``[...]`` (a constant expression is broadcast to the batch shape)

    Raises
    ------
    ValueError
        When the expression contains a symbol that is not in ``variables``, duplicate
        variable names, or complex numbers.
    NotImplementedError
        When the expression contains a function that has no torch translation.
    """

    def __init__(
        self,
        expr: sympy.Expr | str,
        variables: Sequence[str | sympy.Symbol],
        trainable: bool = True,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        names = [str(v) for v in variables]
        if len(set(names)) != len(names):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"variable names must be unique, but {duplicates} appear more than once")
        if isinstance(expr, str):
            expr = sympy.sympify(expr, locals={n: sympy.Symbol(n) for n in names})
        expr = sympy.sympify(expr)
        unknown = sorted(s.name for s in expr.free_symbols if s.name not in names)
        if unknown:
            raise ValueError(
                f"expression {expr} uses symbols {unknown} that are not in variables {names}. "
                "Pass every input variable in column order"
            )

        self.variable_names: tuple[str, ...] = tuple(names)
        self.n_variables = len(names)
        values: list[float] = []
        placeholders: list[sympy.Dummy] = []
        self._template = _replace_floats(expr, values, placeholders)
        self._placeholders = tuple(placeholders)
        self._program = _compile(self._template, {n: i for i, n in enumerate(names)}, placeholders)

        constants = torch.tensor(values, dtype=dtype)
        if trainable:
            self.constants = nn.Parameter(constants)
        else:
            self.register_buffer("constants", constants)

    @property
    def n_constants(self) -> int:
        """Number of float constants in the expression."""
        return len(self._placeholders)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate the expression on the rows of ``x``.

        Shapes
        ------
        - x: ``[..., n_variables]``
        - returns: ``[...]``
        """
        if x.ndim == 0 or x.shape[-1] != self.n_variables:
            raise ValueError(
                f"input has shape {tuple(x.shape)}; expected [..., {self.n_variables}] "
                f"with columns {list(self.variable_names)}"
            )
        if not torch.is_floating_point(x):
            x = x.to(self.constants.dtype)
        values: list = []
        for op, args, payload in self._program:
            values.append(_execute(op, args, payload, values, x, self.constants))
        return _tensor(values[-1], x).expand(x.shape[:-1])

    def sympy(self) -> sympy.Expr:
        """Return the expression with the current constant values as sympy Floats."""
        current = self.constants.detach().cpu().double().tolist()
        mapping = {p: sympy.Float(v) for p, v in zip(self._placeholders, current)}
        return self._template.xreplace(mapping)

    def extra_repr(self) -> str:
        return f"{self.sympy()}, variables={list(self.variable_names)}"


def _replace_floats(expr: sympy.Basic, values: list[float], placeholders: list[sympy.Dummy]) -> sympy.Basic:
    """Rebuild ``expr`` with one new Dummy per Float occurrence, recording the values."""
    if isinstance(expr, sympy.Float):
        dummy = sympy.Dummy(f"c{len(placeholders)}")
        placeholders.append(dummy)
        values.append(float(expr))
        return dummy
    if not expr.args or not expr.has(sympy.Float):
        return expr
    if isinstance(expr, sympy.Heaviside):
        # The value at zero is a convention, not a fitted constant.
        return expr.func(_replace_floats(expr.args[0], values, placeholders), *expr.args[1:])
    new_args = [_replace_floats(a, values, placeholders) for a in expr.args]
    return expr.func(*new_args)


def _compile(template: sympy.Basic, columns: dict[str, int], placeholders: Sequence[sympy.Dummy]):
    """Translate ``template`` into a post-order list of ``(op, argument slots, payload)``.

    Identical subtrees share one slot, so a repeated ``r`` is evaluated once. Every Float
    was replaced by a distinct Dummy before, so sharing never ties two constants.
    """
    program: list[tuple[str, tuple[int, ...], object]] = []
    slots: dict[sympy.Basic, int] = {}
    parameter_index = {p: i for i, p in enumerate(placeholders)}

    def emit(op: str, args: tuple[int, ...] = (), payload: object = None) -> int:
        program.append((op, args, payload))
        return len(program) - 1

    def visit(node: sympy.Basic) -> int:
        if node in slots:
            return slots[node]
        slot = translate(node)
        slots[node] = slot
        return slot

    def translate(node: sympy.Basic) -> int:
        if node in parameter_index:
            return emit("param", (), parameter_index[node])
        if isinstance(node, sympy.Symbol):
            return emit("var", (), columns[node.name])
        if node is sympy.true or node is sympy.false:
            return emit("bool", (), bool(node))
        if node.is_Number or isinstance(node, sympy.NumberSymbol):
            if node.is_real is False or node.has(sympy.I):
                raise ValueError(f"complex constant {node} cannot be evaluated on real tensors")
            return emit("const", (), float(node))
        if node.has(sympy.I):
            raise ValueError(f"complex subexpression {node} cannot be evaluated on real tensors")
        if isinstance(node, sympy.Add):
            return emit("add", tuple(visit(a) for a in node.args))
        if isinstance(node, sympy.Mul):
            return emit("mul", tuple(visit(a) for a in node.args))
        if isinstance(node, sympy.Pow):
            return translate_pow(node)
        if isinstance(node, sympy.Piecewise):
            args: list[int] = []
            for branch_expr, condition in node.args:
                args += [visit(branch_expr), visit(condition)]
            return emit("piecewise", tuple(args))
        if isinstance(node, sympy.Heaviside):
            h0 = node.args[1] if len(node.args) > 1 else sympy.Rational(1, 2)
            return emit("heaviside", (visit(node.args[0]),), float(h0))
        if isinstance(node, (sympy.Min, sympy.Max)):
            return emit(type(node).__name__.lower(), tuple(visit(a) for a in node.args))
        if type(node) in _RELATIONAL:
            return emit("rel", (visit(node.lhs), visit(node.rhs)), type(node).__name__)
        if isinstance(node, (sympy.And, sympy.Or)):
            return emit(type(node).__name__.lower(), tuple(visit(a) for a in node.args))
        if isinstance(node, sympy.Not):
            return emit("not", (visit(node.args[0]),))
        if type(node) in _BOOLEAN_FUNCTIONS:
            # Sympy writes nested Piecewise conditions as ITE, and may use the others.
            return emit("boolean", tuple(visit(a) for a in node.args), type(node).__name__)
        if type(node) in _UNARY and len(node.args) == 1:
            return emit("func", (visit(node.args[0]),), type(node).__name__)
        raise NotImplementedError(
            f"cannot export {type(node).__name__} in {node} to torch. Supported functions are "
            f"{list(SUPPORTED_FUNCTIONS)} plus Add, Mul, Pow, Piecewise, Heaviside, Min, Max, relationals "
            "and boolean functions"
        )

    def translate_pow(node: sympy.Pow) -> int:
        base, exponent = node.args
        if exponent in parameter_index or not exponent.is_Number:
            return emit("pow", (visit(base), visit(exponent)))
        if exponent == sympy.Rational(1, 2):
            return emit("sqrt", (visit(base),))
        if exponent.is_Integer:
            return emit("pow_int", (visit(base),), int(exponent))
        return emit("pow_const", (visit(base),), float(exponent))

    visit(template)
    return program


def _execute(op: str, args: tuple[int, ...], payload, values: list, x: torch.Tensor, constants: torch.Tensor):
    """Run one instruction of a compiled program. ``values`` contains the earlier results."""
    if op == "var":
        return x[..., payload]
    if op == "param":
        return constants[payload].to(x.dtype) if constants.dtype != x.dtype else constants[payload]
    if op in ("const", "bool"):
        return payload
    a = [values[i] for i in args]
    if op == "add":
        return _fold(a, lambda u, v: u + v)
    if op == "mul":
        return _fold(a, lambda u, v: u * v)
    if op == "pow_int":
        return torch.pow(_tensor(a[0], x), payload)
    if op == "pow_const":
        return torch.pow(_tensor(a[0], x), payload)
    if op == "sqrt":
        return torch.sqrt(_tensor(a[0], x))
    if op == "pow":
        return torch.pow(_tensor(a[0], x), a[1])
    if op == "func":
        return _UNARY_BY_NAME[payload](_tensor(a[0], x))
    if op == "heaviside":
        return _heaviside(_tensor(a[0], x), payload)
    if op == "min":
        return _fold([_tensor(v, x) for v in a], torch.minimum)
    if op == "max":
        return _fold([_tensor(v, x) for v in a], torch.maximum)
    if op == "rel":
        return _RELATIONAL_BY_NAME[payload](_tensor(a[0], x), _tensor(a[1], x))
    if op == "and":
        return _fold([_mask(v, x) for v in a], torch.logical_and)
    if op == "or":
        return _fold([_mask(v, x) for v in a], torch.logical_or)
    if op == "not":
        return torch.logical_not(_mask(a[0], x))
    if op == "boolean":
        return _BOOLEAN_FUNCTIONS_BY_NAME[payload]([_mask(v, x) for v in a])
    if op == "piecewise":
        return _piecewise(a, x)
    raise AssertionError(f"unknown instruction {op!r}")


def _piecewise(args: list, x: torch.Tensor) -> torch.Tensor:
    # The first branch whose condition is true wins. Rows that match no branch get NaN,
    # as numpy.select(..., default=nan) gives in sympy.lambdify.
    # NOTE: a NaN gradient in a branch that is not selected still leaks through
    # torch.where (0 * NaN), e.g. for Piecewise((sqrt(x), x > 0), (0, True)) at x < 0.
    result = torch.full(x.shape[:-1], math.nan, dtype=x.dtype, device=x.device)
    for k in range(len(args) - 2, -1, -2):
        branch, condition = args[k], args[k + 1]
        result = torch.where(_mask(condition, x), _tensor(branch, x), result)
    return result


def _fold(items: list, combine):
    out = items[0]
    for item in items[1:]:
        out = combine(out, item)
    return out


def _tensor(value, x: torch.Tensor) -> torch.Tensor:
    if torch.is_tensor(value):
        return value
    return torch.full(x.shape[:-1], float(value), dtype=x.dtype, device=x.device)


def _mask(value, x: torch.Tensor) -> torch.Tensor:
    if torch.is_tensor(value):
        return value.bool() if value.dtype != torch.bool else value
    return torch.full(x.shape[:-1], bool(value), dtype=torch.bool, device=x.device)
