"""Feynman symbolic-regression benchmark: symdistill's native engine against pyoperon.

The script takes each ``dev`` equation of the Feynman table (AI Feynman / SRBench) and
samples 1,000 points uniformly in the listed variable ranges. Each method then runs
with the same wall-clock budget and the same operators. Exact recovery of the selected
model is judged the SRBench way (:func:`symdistill.sr.recovery.check_recovery`). The
script prints each method's recovery rate, median time and throughput, and the ratios.

The ``eval`` rows are reserved for a final evaluation. The script rejects them unless
``--split eval --final`` is given, so that no setting is tuned on them by accident.

``--row12`` runs the graph-distillation check instead: recover y = m1*m2*dx/r^3 from
5,000 noisy edge rows, once from the per-edge target and once from node-level targets
that sum the edge function over incoming edges (graph-aggregated loss).

``--throughput`` times node evaluations per second of both engines on the same random
trees (one thread, 1,000 rows per call).

Results are appended to a JSON file (``--out``) after every problem, written
atomically; a rerun with the same file skips finished problems. To give both
methods the same machine load with one worker each, run ``--methods native`` and
``--methods operon`` as two concurrent processes with separate ``--out`` files and
print the comparison with ``--summarize`` over both files.

Examples::

    python benchmarks/sr_feynman.py --quick
    python benchmarks/sr_feynman.py --budget 60 --out runs/feynman60.json
    python benchmarks/sr_feynman.py --row12 --budget 60
    python benchmarks/sr_feynman.py --throughput
    python benchmarks/sr_feynman.py --budget 60 --summarize runs/native.json runs/operon.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import zlib
from pathlib import Path

import numpy as np
import sympy

from symdistill._io import atomic_write_json
from symdistill.sr.recovery import check_recovery, parse_formula

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "benchmarks" / "feynman"
BINARY_OPERATORS = ("+", "-", "*", "/")
UNARY_OPERATORS = ("square", "sqrt", "exp", "log", "sin", "cos")
QUICK_PROBLEMS = ("I.12.1", "I.14.4", "I.39.22", "II.3.24", "II.34.2")
METHODS = ("native", "operon")


# --- Data ---------------------------------------------------------------------------


def load_problems(data_dir: Path, split: str, only: list[str] | None) -> list[dict]:
    """Read the rows of ``split`` from ``feynman_equations.csv``."""
    import pandas as pd

    path = data_dir / "feynman_equations.csv"
    if not path.is_file():
        raise SystemExit(f"error: {path} not found; pass --data DIR with feynman_equations.csv")
    table = pd.read_csv(path)
    rows = table[table["split"] == split]
    if only:
        missing = sorted(set(only) - set(rows["eq_id"]))
        if missing:
            raise SystemExit(f"error: equations {missing} are not in the {split!r} split of {path}")
        rows = rows[rows["eq_id"].isin(only)]
    problems = []
    for _, row in rows.iterrows():
        names = row["variables"].split(";")
        ranges = {row[f"v{i}_name"]: (float(row[f"v{i}_low"]), float(row[f"v{i}_high"])) for i in range(1, len(names) + 1)}
        problems.append({"eq_id": row["eq_id"], "formula": row["formula"], "names": names, "ranges": ranges})
    return problems


def sample(problem: dict, n_points: int, seed: int) -> tuple[np.ndarray, np.ndarray, sympy.Expr]:
    """Sample ``n_points`` uniform points in the ranges and evaluate the true formula.

    Shapes
    ------
    returns X [n_points, n_vars], y [n_points]
    """
    names = problem["names"]
    truth = parse_formula(problem["formula"], names)
    rng = np.random.default_rng([seed, zlib.crc32(problem["eq_id"].encode())])
    X = np.column_stack([rng.uniform(*problem["ranges"][n], size=n_points) for n in names])
    function = sympy.lambdify([sympy.Symbol(n) for n in names], truth, "numpy")
    y = np.broadcast_to(np.asarray(function(*X.T), dtype=np.float64), (n_points,))
    keep = np.isfinite(y)
    return X[keep], y[keep].copy(), truth


# --- Methods --------------------------------------------------------------------------


def option_values(budget: float, seed: int, procs: int) -> dict:
    """Return the search settings both methods share."""
    return {
        "binary_operators": BINARY_OPERATORS,
        "unary_operators": UNARY_OPERATORS,
        "timeout_in_seconds": budget,
        "niterations": 1_000_000,
        "random_state": seed,
        "procs": procs,
        "deterministic": False,
    }


def run_native(X, y, names, budget, seed, procs, **fit_arguments) -> dict:
    from symdistill.sr import SymbolicRegressor

    model = SymbolicRegressor(**option_values(budget, seed, procs))
    start = time.perf_counter()
    model.fit(X, y, variable_names=names, **fit_arguments)
    seconds = time.perf_counter() - start
    return {
        "selected": model.sympy(),
        "front": list(model.equations_["sympy"]),
        "seconds": seconds,
        "evaluations": model.n_evaluations_,
        "loss": float(model.get_best()["loss"]),
    }


def run_operon(X, y, names, budget, seed, procs) -> dict:
    from symdistill.sr.backends.base import Problem
    from symdistill.sr.backends.operon import OperonBackend
    from symdistill.sr.hall_of_fame import pareto_scores, select_index
    from symdistill.sr.options import SearchOptions

    options = SearchOptions(**option_values(budget, seed, procs))
    problem = Problem(np.ascontiguousarray(X), y, None, tuple(names))
    backend = OperonBackend()
    start = time.perf_counter()
    candidates = backend.search(problem, options)
    seconds = time.perf_counter() - start
    # The estimator's model selection, applied to the Pareto front of the candidates.
    front, best = [], np.inf
    for candidate in sorted(candidates, key=lambda c: (c.complexity, c.loss)):
        if np.isfinite(candidate.loss) and candidate.loss < best:
            front.append(candidate)
            best = candidate.loss
    losses = [c.loss for c in front]
    index = select_index(losses, pareto_scores([c.complexity for c in front], losses), options.model_selection)
    return {
        "selected": front[index].expression,
        "front": [c.expression for c in front],
        "seconds": seconds,
        "evaluations": backend.last_run.get("evaluations_estimate"),
        "loss": float(losses[index]),
    }


def judge(result: dict, truth, names, ranges, simplify_timeout: float) -> dict:
    positive = all(low > 0 for low, _ in ranges.values())
    verdict = check_recovery(result["selected"], truth, names, ranges=ranges, positive=positive, timeout=simplify_timeout)
    front_recovered = bool(verdict) or any(
        check_recovery(e, truth, names, ranges=ranges, positive=positive, timeout=simplify_timeout)
        for e in result["front"]
    )
    return {"recovered": bool(verdict), "front_recovered": front_recovered, "reason": verdict.reason}


# --- Feynman --------------------------------------------------------------------------


def warm_up(procs: int) -> None:
    """Compile the Numba kernels before any timed run."""
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, size=(50, 2))
    run_native(X, X[:, 0] * X[:, 1], ["a", "b"], budget=2.0, seed=0, procs=procs)


def run_feynman(args) -> None:
    problems = load_problems(args.data, args.split, args.problems)
    results = _load_results(args.out)
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise SystemExit(f"error: unknown methods {unknown}; choose from {list(METHODS)}")
    print(f"# Feynman {args.split}: {len(problems)} problems, {args.budget:g} s per problem and method, "
          f"{args.n_points} points, procs={args.procs}, seed={args.seed}")
    print(f"# machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if "native" in methods:
        warm_up(args.procs)
    for problem in problems:
        X, y, truth = sample(problem, args.n_points, args.seed)
        for method in methods:
            key = f"{method}|{problem['eq_id']}|{args.budget:g}|{args.seed}"
            if key in results:
                continue
            runner = run_native if method == "native" else run_operon
            try:
                outcome = runner(X, y, problem["names"], args.budget, args.seed, args.procs)
                verdict = judge(outcome, truth, problem["names"], problem["ranges"], args.simplify_timeout)
                record = {
                    "method": method,
                    "eq_id": problem["eq_id"],
                    "seconds": outcome["seconds"],
                    "evaluations": outcome["evaluations"],
                    "rows": len(y),
                    "loss": outcome["loss"],
                    "model": str(outcome["selected"]),
                    **verdict,
                }
            except Exception as error:  # noqa: BLE001 - a failed run is a result, not a crash
                record = {"method": method, "eq_id": problem["eq_id"], "error": repr(error), "recovered": False,
                          "front_recovered": False, "seconds": float("nan"), "evaluations": None, "rows": len(y)}
            results[key] = record
            atomic_write_json(args.out, results)
            mark = "yes" if record["recovered"] else "no "
            print(f"{method:7s} {problem['eq_id']:10s} recovered={mark} front={record['front_recovered']!s:5s} "
                  f"{record['seconds']:6.1f} s  {record.get('model', record.get('error'))}", flush=True)
    summarize(results, [p["eq_id"] for p in problems], methods, args.budget, args.seed)


def summarize(results: dict, eq_ids: list[str], methods: list[str], budget: float, seed: int) -> None:
    summary = {}
    for method in methods:
        records = [results.get(f"{method}|{eq}|{budget:g}|{seed}") for eq in eq_ids]
        records = [r for r in records if r is not None]
        if not records:
            continue
        seconds = [r["seconds"] for r in records if np.isfinite(r["seconds"])]
        evaluations = [r["evaluations"] * r["rows"] / r["seconds"] for r in records
                       if r.get("evaluations") and np.isfinite(r["seconds"])]
        summary[method] = {
            "n": len(records),
            "recovered": sum(r["recovered"] for r in records),
            "front_recovered": sum(r["front_recovered"] for r in records),
            "median_seconds": float(np.median(seconds)) if seconds else float("nan"),
            "row_evaluations_per_second": float(np.median(evaluations)) if evaluations else float("nan"),
        }
    print("\nmethod   solved  rate    in front  median time  candidate-row evals/s (median)")
    for method, s in summary.items():
        print(f"{method:8s} {s['recovered']:3d}/{s['n']:<3d} {s['recovered'] / s['n']:6.1%}  {s['front_recovered']:3d}      "
              f"{s['median_seconds']:8.1f} s   {s['row_evaluations_per_second']:.3g}")
    if "native" in summary and "operon" in summary:
        native, operon = summary["native"], summary["operon"]
        rate_ratio = native["recovered"] / operon["recovered"] if operon["recovered"] else float("inf")
        print(f"ratio native/operon: recovery {rate_ratio:.2f}, median time "
              f"{native['median_seconds'] / operon['median_seconds']:.2f}, throughput "
              f"{native['row_evaluations_per_second'] / operon['row_evaluations_per_second']:.2f}")


def summarize_files(args) -> None:
    """Merge result files (e.g. native and Operon run as separate processes) and print the comparison."""
    results: dict = {}
    for path in args.summarize:
        if not path.is_file():
            raise SystemExit(f"error: result file {path} not found")
        results.update(_load_results(path))
    problems = load_problems(args.data, args.split, args.problems)
    methods = [m for m in args.methods.split(",") if m]
    print(f"# Feynman {args.split}: {len(problems)} problems, {args.budget:g} s per problem and method, "
          f"from {', '.join(str(p) for p in args.summarize)}")
    eq_ids = [p["eq_id"] for p in problems]
    for eq_id in eq_ids:
        marks = []
        for method in methods:
            record = results.get(f"{method}|{eq_id}|{args.budget:g}|{args.seed}")
            marks.append(f"{method}={'-' if record is None else 'yes' if record['recovered'] else 'no'}")
        print(f"{eq_id:10s} " + " ".join(marks))
    summarize(results, eq_ids, methods, args.budget, args.seed)


def _load_results(path: Path) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    return {}


# --- Row 12: graph distillation ----------------------------------------------------------


def row12_data(seed: int, n_edges: int = 5000, noise: float = 0.01, edges_per_node: int = 4):
    """Edge features and targets for y = m1*m2*dx/r^3 with r = sqrt(dx^2 + dy^2) + 0.1.

    Noise is Gaussian with standard deviation ``noise`` times the standard deviation of
    the clean target. Each receiver node gets ``edges_per_node`` incoming edges, and
    all edges into a node share its mass ``m1``.

    Shapes
    ------
    returns X [n_edges, 5] (dx, dy, r, m1, m2), y_edge [n_edges], receivers [n_edges],
    node_targets [n_nodes], node_mass [n_nodes]
    """
    rng = np.random.default_rng(seed)
    n_nodes = n_edges // edges_per_node
    receivers = np.repeat(np.arange(n_nodes), edges_per_node)
    node_mass = rng.uniform(0.5, 2.0, size=n_nodes)
    dx, dy = rng.uniform(-1, 1, size=(2, n_edges))
    r = np.sqrt(dx**2 + dy**2) + 0.1
    m1 = node_mass[receivers]
    m2 = rng.uniform(0.5, 2.0, size=n_edges)
    clean = m1 * m2 * dx / r**3
    y_edge = clean + noise * clean.std() * rng.standard_normal(n_edges)
    # Node targets are accelerations: the summed force divided by the receiver's mass.
    acceleration = np.bincount(receivers, weights=clean, minlength=n_nodes) / node_mass
    node_targets = acceleration + noise * acceleration.std() * rng.standard_normal(n_nodes)
    X = np.column_stack([dx, dy, r, m1, m2])
    return X, y_edge, receivers, node_targets, node_mass


def run_row12(args) -> None:
    names = ["dx", "dy", "r", "m1", "m2"]
    truth = parse_formula("m1*m2*dx/r**3", names)
    X, y_edge, receivers, node_targets, node_mass = row12_data(args.seed)
    print(f"# row 12: y = m1*m2*dx/r^3, {len(y_edge)} edges with 1% noise, budget {args.budget:g} s, procs={args.procs}")
    warm_up(args.procs)
    runs = [("native", "per-edge", run_native, {}),
            ("native", "graph", run_native, {"receivers": receivers, "node_divisor": node_mass})]
    if "operon" in args.methods.split(","):
        runs.append(("operon", "per-edge", run_operon, None))
    results = _load_results(args.out)
    for method, target, runner, graph in runs:
        key = f"row12|{method}|{target}|{args.budget:g}|{args.seed}"
        if key not in results:
            if target == "graph":
                outcome = runner(X, node_targets, names, args.budget, args.seed, args.procs, **graph)
            else:
                outcome = runner(X, y_edge, names, args.budget, args.seed, args.procs)
            verdict = check_recovery(outcome["selected"], truth, names, timeout=args.simplify_timeout)
            results[key] = {"method": method, "target": target, "seconds": outcome["seconds"],
                            "loss": outcome["loss"], "model": str(outcome["selected"]), "recovered": bool(verdict)}
            atomic_write_json(args.out, results)
        record = results[key]
        print(f"{method:7s} {target:9s} recovered={record['recovered']!s:5s} {record['seconds']:6.1f} s  "
              f"loss={record['loss']:.3g}  {record['model']}")


# --- Node-evaluation throughput ---------------------------------------------------------------


def random_expression(rng: np.random.Generator, n_features: int, depth: int) -> tuple[list[str], str]:
    """Return one random expression as native postfix tokens and as an Operon infix string.

    Operators are + - * sin cos and inputs lie in [0.5, 2], so every value stays finite
    and neither engine can stop an evaluation early.
    """
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.7:
            index = int(rng.integers(n_features))
            return [f"f{index}"], f"X{index + 1}"
        value = float(np.round(rng.uniform(-2, 2), 3))
        return [f"c{value!r}"], f"({value!r})"
    if rng.random() < 0.25:
        name = str(rng.choice(["sin", "cos"]))
        tokens, text = random_expression(rng, n_features, depth - 1)
        return tokens + [name], f"{name}({text})"
    name = str(rng.choice(["+", "-", "*"]))
    left_tokens, left = random_expression(rng, n_features, depth - 1)
    right_tokens, right = random_expression(rng, n_features, depth - 1)
    return left_tokens + right_tokens + [name], f"({left} {name} {right})"


def run_throughput(args) -> None:
    """Time native and Operon evaluation of the same random trees; print node-evaluations/s."""
    import pyoperon

    from symdistill.sr import _kernels
    from symdistill.sr.operators import build_operator_set
    from symdistill.sr.tree import parse, to_program

    rng = np.random.default_rng(args.seed)
    n_features, n_rows, n_trees, repeats = 5, args.n_points, 300, 5
    X = rng.uniform(0.5, 2.0, size=(n_rows, n_features))
    operators = build_operator_set(["+", "-", "*"], ["sin", "cos"]).by_name()
    expressions = [random_expression(rng, n_features, depth=5) for _ in range(n_trees)]
    native_trees = [to_program(parse(" ".join(tokens), operators, n_features)) for tokens, _ in expressions]

    dataset = pyoperon.Dataset(np.asfortranarray(X))
    hashes = {v.Name: v.Hash for v in dataset.Variables}
    operon_trees = [pyoperon.InfixParser.Parse(text, hashes) for _, text in expressions]
    rows = pyoperon.Range(0, n_rows)
    table = pyoperon.DispatchTable()

    native_nodes = sum(len(tree) for tree in native_trees)
    operon_nodes = sum(tree.Length for tree in operon_trees)
    Xt = np.ascontiguousarray(X.T)
    out = np.empty(n_rows)
    for tree in native_trees[:3]:  # compile before timing
        _kernels.evaluate_program(tree, Xt, out)
    check = [float(pyoperon.Evaluate(table, t, dataset, rows)[0]) for t in operon_trees[:20]]
    for tree, expected in zip(native_trees[:20], check):
        _kernels.evaluate_program(tree, Xt, out)
        assert abs(out[0] - expected) <= 1e-4 * max(1.0, abs(expected)), "the two engines disagree on a tree"

    start = time.perf_counter()
    for _ in range(repeats):
        for tree in native_trees:
            _kernels.evaluate_program(tree, Xt, out)
    native_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        for tree in operon_trees:
            pyoperon.Evaluate(table, tree, dataset, rows)
    operon_seconds = time.perf_counter() - start

    native_rate = native_nodes * n_rows * repeats / native_seconds
    operon_rate = operon_nodes * n_rows * repeats / operon_seconds
    print(f"# throughput: {n_trees} random trees (mean {native_nodes / n_trees:.1f} nodes), {n_rows} rows, "
          f"{repeats} repeats, one thread, one call per tree")
    print(f"native  {native_rate:.3g} node-evaluations/s")
    print(f"operon  {operon_rate:.3g} node-evaluations/s (Operon counts {operon_nodes / n_trees:.1f} nodes per tree)")
    print(f"ratio native/operon: {native_rate / operon_rate:.2f}")


# --- CLI ------------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with feynman_equations.csv")
    parser.add_argument("--split", choices=("dev", "eval"), default="dev", help="rows to run (default: dev)")
    parser.add_argument("--final", action="store_true", help="confirm a final evaluation on the eval split")
    parser.add_argument("--problems", nargs="*", help="eq_id values to run (default: the whole split)")
    parser.add_argument("--budget", type=float, default=None, help="wall-clock seconds per problem and method (default 60)")
    parser.add_argument("--n-points", type=int, default=1000, help="sampled points per problem")
    parser.add_argument("--methods", default="native,operon", help="comma-separated: native, operon")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1, help="worker processes / threads per method")
    parser.add_argument("--seed", type=int, default=0, help="sampling and search seed")
    parser.add_argument("--simplify-timeout", type=float, default=10.0, help="seconds per sympy.simplify call")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (resumable)")
    parser.add_argument("--quick", action="store_true", help=f"{len(QUICK_PROBLEMS)} problems, 10 s budget")
    parser.add_argument("--row12", action="store_true", help="run the graph-distillation check instead")
    parser.add_argument("--throughput", action="store_true", help="time node evaluations of random trees instead")
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="JSON",
                        help="print the comparison from these result files (e.g. one per method) without running")
    args = parser.parse_args(argv)
    if args.split == "eval" and not args.final:
        parser.error("the eval split is for final evaluation only; add --final to confirm")
    if args.quick:
        args.problems = args.problems or list(QUICK_PROBLEMS)
    if args.budget is None:
        args.budget = 10.0 if args.quick else 60.0
    if not args.budget > 0:
        parser.error(f"--budget must be positive, got {args.budget}")
    if args.out is None:
        name = "sr_row12" if args.row12 else f"sr_feynman_{args.split}"
        args.out = REPO_ROOT / "runs" / f"{name}_{args.budget:g}s.json"
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    if args.summarize:
        summarize_files(args)
    elif args.throughput:
        run_throughput(args)
    elif args.row12:
        run_row12(args)
    else:
        run_feynman(args)


if __name__ == "__main__":
    main()
