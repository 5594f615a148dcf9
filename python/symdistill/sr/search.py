"""The outer search loop: islands, migration, hall of fame, stopping and parallelism.

Every iteration runs one island-iteration per island (in worker processes when
``procs > 1``), then merges the islands' best trees into the hall of fame in island
order, migrates, writes the hall-of-fame CSV and checks the stopping rules. Islands
carry their own random generators and the merge order is fixed, so with the same seed
the result is identical for any number of processes, unless a wall-clock timeout or
Ctrl-C ends the run at a time-dependent point.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing
import os
import random
import signal
import time
from typing import Sequence

import numpy as np

from symdistill._progress import progress
from symdistill.sr.backends.base import Problem
from symdistill.sr.constants import optimize_constants
from symdistill.sr.constraints import Constraints
from symdistill.sr.evaluator import Evaluator
from symdistill.sr.hall_of_fame import HallOfFame, write_csv
from symdistill.sr.mutations import MutationContext, simplify
from symdistill.sr.operators import CONST, OperatorSet
from symdistill.sr.options import SearchOptions
from symdistill.sr.population import Island, SearchContext, new_island, run_iteration, warm_up_compiled
from symdistill.sr.snapping import snap_constants
from symdistill.sr.tree import Tree, to_program

logger = logging.getLogger(__name__)

MERGE_PER_COMPLEXITY = 3
"""With batching, island bests re-scored on the full data per complexity and iteration."""

FREQUENCY_WINDOW = 100_000
"""Complexity histogram total above which it is scaled back down (adaptive parsimony)."""


@dataclasses.dataclass
class SearchResult:
    """Outcome of :func:`run_search`."""

    hall_of_fame: HallOfFame
    operator_set: OperatorSet
    constraints: Constraints
    evaluator: Evaluator
    islands: list[Island]
    n_evaluations: int
    n_iterations: int
    elapsed: float
    stop_reason: str


# Worker processes read the search context from here; fork copies it, so the data are
# never pickled.
_WORKER_CONTEXT: SearchContext | None = None


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_run(task):
    assert _WORKER_CONTEXT is not None
    return _guarded_iteration(_WORKER_CONTEXT, task)


def _guarded_iteration(ctx: SearchContext, task):
    island, frequencies, deadline, batch_rows = task
    try:
        return run_iteration(island, ctx, frequencies, deadline, batch_rows)
    except Exception as error:  # noqa: BLE001 - no exception may end the whole search
        logger.exception("island iteration failed: %r; the island keeps its previous state", error)
        return island, {}, 0, np.zeros_like(frequencies)


def build_context(problem: Problem, options: SearchOptions) -> SearchContext:
    """Resolve operators, constraints and the evaluator for ``problem``."""
    operator_set = options.operator_set
    constraints = Constraints(
        operator_set,
        options.maxsize,
        options.effective_maxdepth,
        options.complexity_of_operators,
        options.complexity_of_constants,
        options.complexity_of_variables,
        options.constraints,
        options.nested_constraints,
    )
    evaluator = Evaluator(problem, operator_set, options.elementwise_loss, options.loss_function)
    zero = ((CONST, 0.0),)
    baseline = evaluator(zero)
    if not math.isfinite(baseline) or baseline < 0.01:
        baseline = max(0.01, 0.0 if not math.isfinite(baseline) else baseline)
    mutation_context = MutationContext(
        operator_set,
        problem.n_features,
        random.Random(0),
        perturbation_factor=options.perturbation_factor,
        probability_negate_constant=options.probability_negate_constant,
    )
    return SearchContext(evaluator, constraints, options, mutation_context, baseline)


def run_search(problem: Problem, options: SearchOptions, seeds: Sequence[Tree] = ()) -> SearchResult:
    """Run the evolutionary search and return the hall of fame.

    ``seeds`` are trees (warm start or guesses) placed into the initial islands round
    robin. Stopping: ``niterations``, ``max_evals``, ``timeout_in_seconds`` (checked
    inside island iterations, so the run ends within about a second of it),
    ``early_stop_condition`` and Ctrl-C, which all keep the best trees found so far.
    The timeout clock starts after the Numba code is compiled or loaded.
    """
    global _WORKER_CONTEXT
    seed_sequence = np.random.SeedSequence(options.random_state)
    main_seed, *island_seeds = seed_sequence.spawn(options.populations + 1)
    main_rng = np.random.default_rng(main_seed)
    ctx = build_context(problem, options)
    # Compile or load every Numba function first: the timeout covers the search, not
    # the one-time compilation in a fresh environment.
    _warm_up(ctx)
    started = time.monotonic()
    deadline = None if options.timeout_in_seconds is None else started + options.timeout_in_seconds
    constraints = ctx.constraints
    admissible_seeds = [tree for tree in seeds if constraints.admissible(tree)]
    if len(admissible_seeds) < len(seeds):
        logger.warning("%d warm-start trees exceed maxsize or constraints and were skipped", len(seeds) - len(admissible_seeds))

    islands = []
    for index, island_seed in enumerate(island_seeds):
        island_seeds_trees = admissible_seeds[index :: options.populations]
        island_rng = random.Random(int.from_bytes(island_seed.generate_state(4).tobytes(), "little"))
        islands.append(new_island(ctx, island_rng, island_seeds_trees, deadline))
    hall_of_fame = HallOfFame()
    for island in islands:
        for tree, loss, complexity in zip(island.trees, island.losses, island.complexities):
            hall_of_fame.update(tree, float(loss), int(complexity))
    _add_best_constant(hall_of_fame, ctx, problem, constraints, deadline)
    frequencies = np.ones(options.maxsize + 1)
    n_evaluations = sum(len(island.trees) for island in islands)
    stop_reason = "niterations"
    iteration = 0

    procs = min(options.procs or os.cpu_count() or 1, options.populations)
    pool = None
    if procs > 1 and "fork" not in multiprocessing.get_all_start_methods():
        # NOTE: workers receive the data by fork; on platforms without fork the search runs serially.
        logger.warning("this platform cannot fork worker processes; running the search in one process")
        procs = 1
    if procs > 1:
        _WORKER_CONTEXT = ctx
        pool = multiprocessing.get_context("fork").Pool(procs, initializer=_worker_init)
    batching = _batching_active(options, ctx.evaluator.n_targets)
    bar = progress(total=options.niterations, desc="symbolic regression", unit="it")
    try:
        for iteration in range(1, options.niterations + 1):
            if _should_stop_before(deadline, options, n_evaluations, hall_of_fame):
                stop_reason = _stop_reason(deadline, options, n_evaluations, hall_of_fame)
                iteration -= 1
                break
            tasks = [(island, frequencies, deadline, _batch(island, ctx, batching)) for island in islands]
            if pool is None:
                results = [_guarded_iteration(ctx, task) for task in tasks]
            else:
                results = pool.map(_worker_run, tasks, chunksize=1)
            islands = []
            candidates: dict[int, list[tuple[float, Tree]]] = {}
            for island, best_seen, evaluations, counts in results:
                islands.append(island)
                n_evaluations += evaluations
                frequencies += counts
                for complexity, entry in best_seen.items():
                    candidates.setdefault(complexity, []).append(entry)
            for complexity in sorted(candidates):
                # With batching, losses come from different batches, so only the few best
                # per complexity are re-scored on the full data.
                entries = sorted(candidates[complexity], key=lambda entry: entry[0])
                for loss, tree in entries[:MERGE_PER_COMPLEXITY] if batching else entries:
                    size = complexity
                    folded = simplify(tree, ctx.mutation_context) if options.should_simplify else tree
                    if folded != tree or batching:
                        tree, size = folded, constraints.complexity(folded)
                        loss = ctx.evaluator(tree)
                        n_evaluations += 1
                    if hall_of_fame.update(tree, loss, size) and options.should_optimize_constants:
                        n_evaluations += _refine_entry(hall_of_fame, ctx, tree, loss, size, main_rng, deadline)
            if frequencies.sum() > FREQUENCY_WINDOW:
                frequencies *= FREQUENCY_WINDOW / frequencies.sum()
                np.maximum(frequencies, 1e-3, out=frequencies)
            _migrate(islands, hall_of_fame, ctx, main_rng)
            if options.equation_file is not None:
                write_csv(options.equation_file, hall_of_fame.pareto_front(), ctx.evaluator.operators, problem.variable_names)
            bar.update(1)
            bar.set_postfix(loss=f"{hall_of_fame.best_loss():.3g}", evals=n_evaluations)
        else:
            iteration = options.niterations
        if _should_stop_before(deadline, options, n_evaluations, hall_of_fame):
            stop_reason = _stop_reason(deadline, options, n_evaluations, hall_of_fame)
    except KeyboardInterrupt:
        stop_reason = "interrupted"
        logger.warning("search interrupted after %d iterations; returning the best equations so far", iteration)
        if pool is not None:
            pool.terminate()
            pool = None
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
        _WORKER_CONTEXT = None
    if options.snap_constants:
        n_evaluations += _snap_hall_of_fame(hall_of_fame, ctx)
    if options.equation_file is not None and hall_of_fame.entries:
        write_csv(options.equation_file, hall_of_fame.pareto_front(), ctx.evaluator.operators, problem.variable_names)
    elapsed = time.monotonic() - started
    logger.info("search stopped (%s) after %d iterations, %d evaluations, %.1f s", stop_reason, iteration, n_evaluations, elapsed)
    return SearchResult(
        hall_of_fame, options.operator_set, constraints, ctx.evaluator, islands, n_evaluations, iteration, elapsed, stop_reason
    )


def _warm_up(ctx: SearchContext) -> None:
    # Runs each kernel once on a one-node tree, so compilation (or loading from the
    # cache) happens here, in the parent, before worker processes fork.
    from symdistill.sr import _kernels, _least_squares

    tree = ((CONST, 1.0),)
    ctx.evaluator(tree)
    one_row = np.zeros((1, 1))
    _kernels.evaluate_program(to_program(tree), one_row, np.empty(1))
    _kernels.evaluate_with_jacobian(to_program(tree), one_row, np.empty(1), np.empty((1, 1)))
    _least_squares.levenberg_marquardt(to_program(tree), np.zeros(1, dtype=np.int64), one_row, np.ones(1), np.empty(0), 1)
    if ctx.compiled_cycles:
        size = ctx.options.population_size
        island = Island([tree] * size, [1.0] * size, [1] * size, list(range(size)), random.Random(0), size)
        warm_up_compiled(island, ctx)


def _refine_entry(hall_of_fame, ctx: SearchContext, tree: Tree, loss: float, complexity: int, rng, deadline) -> int:
    # A new hall-of-fame entry gets its constants fitted on the full data, so the
    # front never shows an expression whose constants are merely unfitted.
    options = ctx.options
    fitted, fitted_loss, calls = optimize_constants(
        tree,
        loss,
        ctx.evaluator,
        random.Random(int(rng.integers(2**63))),
        algorithm=options.optimizer_algorithm,
        iterations=max(options.optimizer_iterations, 20),
        nrestarts=options.optimizer_nrestarts,
        deadline=deadline,
    )
    if fitted_loss < loss:
        hall_of_fame.update(fitted, fitted_loss, complexity)
    return calls


def _snap_hall_of_fame(hall_of_fame: HallOfFame, ctx: SearchContext) -> int:
    # Snapped entries replace the fitted ones even at a loss larger by float noise, so
    # the front shows pi/2 rather than 1.5707963267948966.
    n_calls = 0
    for complexity, (loss, tree) in sorted(hall_of_fame.entries.items()):
        snapped, snapped_loss, calls = snap_constants(tree, loss, ctx.evaluator)
        n_calls += calls
        if snapped != tree:
            hall_of_fame.entries[complexity] = (snapped_loss, snapped)
    return n_calls


def _add_best_constant(
    hall_of_fame: HallOfFame, ctx: SearchContext, problem: Problem, constraints: Constraints, deadline: float | None
) -> None:
    # The best constant anchors the simple end of the front, so a constant target is
    # returned as the constant itself rather than as, say, x0 * 4.2 with x0 == 1.
    if problem.is_graph:
        starts = [1.0]
    else:
        starts = [float(np.average(problem.y, weights=problem.weights)), float(np.median(problem.y))]
    for start in starts:
        tree = ((CONST, start),)
        fitted, loss, _ = optimize_constants(
            tree, ctx.evaluator(tree), ctx.evaluator, random.Random(0), iterations=50, nrestarts=0, deadline=deadline
        )
        hall_of_fame.update(fitted, loss, constraints.complexity(fitted))


def _batching_active(options: SearchOptions, n_targets: int) -> bool:
    if options.batching == "auto":
        return n_targets > 2 * options.batch_size
    return bool(options.batching) and options.batch_size < n_targets


def _batch(island: Island, ctx: SearchContext, active: bool) -> np.ndarray | None:
    # Rows are drawn with replacement; graph nodes without, so each keeps all its edges.
    if not active:
        return None
    generator = np.random.default_rng(island.rng.getrandbits(64))
    size = ctx.options.batch_size
    if ctx.evaluator.receivers is not None:
        return np.sort(generator.choice(ctx.evaluator.n_targets, size=size, replace=False))
    return generator.integers(ctx.evaluator.n_targets, size=size)


def _early_stop_met(options: SearchOptions, hall_of_fame: HallOfFame) -> bool:
    condition = options.early_stop_condition
    if condition is None:
        return False
    for complexity, (loss, _) in hall_of_fame.entries.items():
        if callable(condition):
            if condition(loss, complexity):
                return True
        elif loss <= condition:
            return True
    return False


def _should_stop_before(deadline, options, n_evaluations, hall_of_fame) -> bool:
    return _stop_reason(deadline, options, n_evaluations, hall_of_fame) != ""


def _stop_reason(deadline, options, n_evaluations, hall_of_fame) -> str:
    if deadline is not None and time.monotonic() >= deadline:
        return "timeout"
    if options.max_evals is not None and n_evaluations >= options.max_evals:
        return "max_evals"
    if _early_stop_met(options, hall_of_fame):
        return "early_stop_condition"
    return ""


def _migrate(islands: list[Island], hall_of_fame: HallOfFame, ctx: SearchContext, rng: np.random.Generator) -> None:
    # Replace Poisson-distributed numbers of random members with copies of the pooled
    # best members of all islands and of the Pareto front; migrants count as newborn.
    options = ctx.options
    pooled: list[tuple[float, Tree, int]] = []
    for island in islands:
        order = np.argsort(island.losses, kind="stable")[: options.topn]
        pooled.extend((float(island.losses[i]), island.trees[i], int(island.complexities[i])) for i in order)
    front = [(loss, tree, complexity) for complexity, loss, tree in hall_of_fame.pareto_front()]
    for island in islands:
        size = len(island.trees)
        for source, fraction in ((pooled, options.fraction_replaced), (front, options.fraction_replaced_hof)):
            if not source or fraction <= 0:
                continue
            for _ in range(min(size, int(rng.poisson(size * fraction)))):
                loss, tree, complexity = source[int(rng.integers(len(source)))]
                island.replace(int(rng.integers(size)), tree, loss, complexity)
