"""Throughput of symdistill's SR engine: Numba kernel vs NumPy, and search scaling.

Part 1 evaluates the same random trees (arithmetic only, then with sin, cos, exp and
square; 1,000 rows) with the Numba kernel and with the pure NumPy reference evaluator and prints node evaluations per
second of each and the ratio. Part 2 runs the same short search (the force law
y = m1*m2*dx/r^3 on 1,000 rows) with the Python evolution loop, then with the
compiled loop on 1 process and on ``--procs`` processes, and prints candidate
evaluations per second and the ratios. Both compiled runs give the same hall of
fame, which the script checks.

``--force-law SECONDS`` instead fits y = m1*m2*dx/r^3 from 5,000 rows with 1% noise
(plus 3 noise columns), once from the per-edge target and once through the
graph-aggregated loss (node targets: sums over 4 incoming edges divided by mass),
with that wall-clock budget each, and prints the time, the median relative error
against the noise-free law and the selected formula.

Examples::

    python benchmarks/sr_engine.py --rows 1000 --trees 2000 --procs 2
    python benchmarks/sr_engine.py --force-law 20
"""

from __future__ import annotations

import argparse
import platform
import random
import time

import numpy as np


def kernel_versus_numpy(n_rows: int, n_trees: int, seed: int, unary: tuple[str, ...]) -> None:
    from symdistill.sr import _kernels
    from symdistill.sr._reference import evaluate_reference
    from symdistill.sr.mutations import MutationContext, random_tree
    from symdistill.sr.operators import build_operator_set
    from symdistill.sr.tree import to_program

    operator_set = build_operator_set(binary=["+", "-", "*", "/"], unary=list(unary))
    context = MutationContext(operator_set, 5, random.Random(seed))
    trees = [random_tree(context, context.rng.randrange(2, 12)) for _ in range(n_trees)]
    Xt = np.ascontiguousarray(np.random.default_rng(seed).uniform(-2, 2, (5, n_rows)))
    nodes = sum(len(tree) for tree in trees) * n_rows
    out = np.empty(n_rows)
    _kernels.evaluate_program(to_program(trees[0]), Xt, out)  # compile or load from cache

    started = time.perf_counter()
    for tree in trees:
        _kernels.evaluate_program(to_program(tree), Xt, out)
    kernel_seconds = time.perf_counter() - started

    operators = operator_set.by_code()
    started = time.perf_counter()
    for tree in trees:
        evaluate_reference(tree, Xt, operators)
    numpy_seconds = time.perf_counter() - started

    print(f"trees: {n_trees}, operators + - * / {' '.join(unary)}, mean {sum(map(len, trees)) / n_trees:.1f} nodes, {n_rows} rows per call")
    print(f"numba kernel: {nodes / kernel_seconds:.3g} node evaluations/s")
    print(f"numpy reference: {nodes / numpy_seconds:.3g} node evaluations/s")
    print(f"ratio kernel/numpy: {numpy_seconds / kernel_seconds:.2f}")


def search_scaling(n_rows: int, procs: int, seed: int) -> None:
    from symdistill.sr import population
    from symdistill.sr.backends.base import Problem
    from symdistill.sr.options import SearchOptions
    from symdistill.sr.search import run_search

    rng = np.random.default_rng(seed)
    dx, dy = rng.uniform(-1, 1, (2, n_rows))
    r = np.sqrt(dx**2 + dy**2) + 0.1
    m1, m2 = rng.uniform(0.5, 2, (2, n_rows))
    problem = Problem(np.stack([dx, dy, r, m1, m2], axis=1), m1 * m2 * dx / r**3, None, ("dx", "dy", "r", "m1", "m2"))
    run_search(problem, SearchOptions(niterations=1, populations=1, procs=1))  # warm the kernel cache

    options = SearchOptions(elementwise_loss="L1", niterations=5, populations=8, procs=1, random_state=seed)
    population.USE_COMPILED_CYCLES = False
    started = time.perf_counter()
    result = run_search(problem, options)
    python_rate = result.n_evaluations / (time.perf_counter() - started)
    population.USE_COMPILED_CYCLES = True
    print(f"search, Python loop, 1 process: {python_rate:.0f} evaluations/s")

    fronts = {}
    rates = {}
    for n_procs in (1, procs):
        options = SearchOptions(elementwise_loss="L1", niterations=5, populations=8, procs=n_procs, random_state=seed)
        started = time.perf_counter()
        result = run_search(problem, options)
        seconds = time.perf_counter() - started
        rates[n_procs] = result.n_evaluations / seconds
        fronts[n_procs] = [(c, loss) for c, loss, _ in result.hall_of_fame.pareto_front()]
        print(f"search, {n_procs} process(es): {result.n_evaluations} evaluations in {seconds:.1f} s = {rates[n_procs]:.0f}/s")
    print(f"ratio compiled loop / Python loop (1 process): {rates[1] / python_rate:.2f}")
    print(f"ratio {procs} processes / 1 process: {rates[procs] / rates[1]:.2f}")
    print(f"same hall of fame for both process counts: {fronts[1] == fronts[procs]}")


def force_law(budget: float, procs: int, seed: int) -> None:
    """Fit y = m1*m2*dx/r^3 (5,000 noisy rows) per edge and through the graph-aggregated loss."""
    from symdistill.sr import SymbolicRegressor

    rng = np.random.default_rng(seed)
    n = 5000
    dx, dy = rng.uniform(-1, 1, (2, n))
    r = np.sqrt(dx**2 + dy**2) + 0.1
    m1, m2 = rng.uniform(0.5, 2, (2, n))
    truth = m1 * m2 * dx / r**3
    noise_columns = rng.normal(size=(n, 3))
    X = np.column_stack([dx, dy, r, m1, m2, noise_columns])
    names = ["dx", "dy", "r", "m1", "m2", "a", "b", "c"]
    receivers = np.repeat(np.arange(n // 4), 4)
    mass = rng.uniform(0.5, 2, n // 4)
    node_targets = np.bincount(receivers, weights=truth) / mass
    variants = {
        "per-edge target": (truth * (1 + 0.01 * rng.standard_normal(n)), {}),
        "graph-aggregated loss": (
            node_targets * (1 + 0.01 * rng.standard_normal(n // 4)),
            {"receivers": receivers, "node_divisor": mass},
        ),
    }
    for label, (y, fit_arguments) in variants.items():
        model = SymbolicRegressor(
            elementwise_loss="L1", niterations=100_000, timeout_in_seconds=budget, random_state=seed, procs=procs
        )
        started = time.perf_counter()
        model.fit(X, y, variable_names=names, **fit_arguments)
        seconds = time.perf_counter() - started
        error = np.median(np.abs(model.predict(X) - truth) / np.abs(truth))
        print(f"force law, {label}: {seconds:.1f} s, median relative error {error:.3g}, selected {model.sympy()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows per evaluation")
    parser.add_argument("--trees", type=int, default=2000, help="random trees for the kernel comparison")
    parser.add_argument("--procs", type=int, default=2, help="processes for the scaling run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force-law", type=float, default=None, metavar="SECONDS",
                        help="instead, fit the force law with this time budget per variant")
    args = parser.parse_args()
    if args.force_law is not None:
        force_law(args.force_law, args.procs, args.seed)
        return
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    kernel_versus_numpy(args.rows, args.trees, args.seed, ())
    kernel_versus_numpy(args.rows, args.trees, args.seed, ("sin", "cos", "exp", "square"))
    search_scaling(args.rows, args.procs, args.seed)


if __name__ == "__main__":
    main()
