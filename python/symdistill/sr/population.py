"""One island: a population under regularised (age-based) evolution.

Each event picks parents by tournament (ranked by loss adjusted for how common their
complexity is), makes a child by mutation or crossover, and the child replaces the
oldest member. After the cycles, a fraction of members get their constants fitted and
every member is constant-folded. An island carries its own random generator, so an
iteration's outcome depends only on the island state and the inputs, not on which
process runs it.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time

import numpy as np

from symdistill.sr.constants import optimize_constants, snap_exponents
from symdistill.sr.constraints import Constraints
from symdistill.sr.evaluator import Evaluator
from symdistill.sr.mutations import MUTATIONS, MutationContext, crossover, random_tree, simplify
from symdistill.sr.operators import CONST, POW
from symdistill.sr.options import MUTATION_NAMES, SearchOptions
from symdistill.sr.tree import Tree


USE_COMPILED_CYCLES = True
"""Whether eligible searches run their cycles in the Numba loop; False forces the
Python loop (for benchmarks and debugging)."""


@dataclasses.dataclass
class Island:
    """Population state: trees, their losses and complexities, birth order, RNG."""

    trees: list[Tree]
    losses: list[float]
    complexities: list[int]
    births: list[int]
    rng: random.Random
    next_birth: int = 0

    def oldest(self) -> int:
        births = self.births
        return min(range(len(births)), key=births.__getitem__)

    def replace(self, index: int, tree: Tree, loss: float, complexity: int) -> None:
        self.trees[index] = tree
        self.losses[index] = loss
        self.complexities[index] = complexity
        self.births[index] = self.next_birth
        self.next_birth += 1


@dataclasses.dataclass
class SearchContext:
    """Everything an island iteration needs besides the island itself."""

    evaluator: Evaluator
    constraints: Constraints
    options: SearchOptions
    mutation_context: MutationContext
    baseline: float

    def __post_init__(self) -> None:
        weights = self.options.mutation_weights
        self.mutation_names = list(MUTATION_NAMES)
        self.mutation_index = {name: i for i, name in enumerate(self.mutation_names)}
        self.base_weights = [float(weights[name]) for name in self.mutation_names]
        self.compiled_cycles = self._compiled_cycles_apply()
        self.compiled_tables = self._compiled_tables() if self.compiled_cycles else {}
        # simplify() is a pure function of the tree, and most members survive an
        # iteration unchanged, so folded forms are remembered (per process).
        self.simplified: dict[Tree, Tree] = {}

    def _compiled_cycles_apply(self) -> bool:
        # The Numba loop covers built-in operators and losses, no operator constraints,
        # and complexity weights >= 1 (so a tree never has more nodes than maxsize).
        operator_set = self.mutation_context.operator_set
        return (
            USE_COMPILED_CYCLES
            and not operator_set.has_custom
            and self.evaluator._fused
            and not self.constraints.active
            and min(self.constraints.weights.values()) >= 1.0
        )

    def _compiled_tables(self) -> dict[str, np.ndarray]:
        operator_set = self.mutation_context.operator_set
        arity = np.array([self.mutation_context.arity(code) for code in range(256)], dtype=np.int64)
        weight = np.full(256, 1e9)
        for code, value in self.constraints.weights.items():
            weight[code] = value
        return {
            "arity": arity,
            "weight": weight,
            "unary": np.array([op.code for op in operator_set.unary], dtype=np.int64),
            "binary": np.array([op.code for op in operator_set.binary], dtype=np.int64),
            "ternary": np.array([op.code for op in operator_set.ternary], dtype=np.int64),
            "cumulative_weights": np.cumsum(self.base_weights),
        }

    def cost(self, loss: float, complexity: int) -> float:
        """Return the normalised loss plus the parsimony term."""
        return loss / self.baseline + self.options.parsimony * complexity


def new_island(ctx: SearchContext, rng: random.Random, seeds: list[Tree], deadline: float | None = None) -> Island:
    """Return an island of random trees (3 appended operators at most) and ``seeds``.

    Members not evaluated by ``deadline`` get an infinite loss, so they are the
    first to be replaced.
    """
    size = ctx.options.population_size
    trees: list[Tree] = list(seeds[:size])
    mctx = dataclasses.replace(ctx.mutation_context, rng=rng)
    while len(trees) < size:
        tree = random_tree(mctx, rng.randrange(1, 4))
        if ctx.constraints.admissible(tree):
            trees.append(tree)
    losses = [math.inf] * size
    for index, tree in enumerate(trees):
        if deadline is not None and index > 0 and time.monotonic() > deadline:
            break
        losses[index] = ctx.evaluator(tree)
    complexities = [ctx.constraints.complexity(tree) for tree in trees]
    return Island(trees, losses, complexities, list(range(size)), rng, next_birth=size)


def _tournament(island: Island, ctx: SearchContext, frequencies: list[float]) -> int:
    # Plain Python on purpose: for a dozen members it is several times faster than NumPy.
    options = ctx.options
    rng = island.rng
    size = len(island.trees)
    n = options.tournament_selection_n
    # Partial Fisher-Yates shuffle: the first n entries are a sample without replacement.
    pool = list(range(size))
    for k in range(n):
        j = k + int(rng.random() * (size - k))
        pool[k], pool[j] = pool[j], pool[k]
    losses = island.losses
    complexities = island.complexities
    baseline = ctx.baseline
    parsimony = options.parsimony
    scaling = options.adaptive_parsimony_scaling / sum(frequencies) if options.adaptive_parsimony_scaling > 0 else 0.0
    ranked = []
    for index in pool[:n]:
        complexity = complexities[index]
        cost = losses[index] / baseline + parsimony * complexity
        if scaling:
            cost *= math.exp(scaling * frequencies[complexity])
        ranked.append((cost, index))
    p = options.tournament_selection_p
    # Rank k is chosen with probability p * (1 - p)^k (a geometric distribution).
    rank = 0 if p >= 1.0 else min(int(math.log(1.0 - rng.random()) / math.log(1.0 - p)), n - 1)
    if rank == 0:
        return min(ranked)[1]
    ranked.sort()
    return ranked[rank][1]


def _mutation_weights(ctx: SearchContext, tree: Tree, complexity: int) -> list[float]:
    weights = list(ctx.base_weights)
    index = ctx.mutation_index
    n_constants = sum(1 for code, _ in tree if code == CONST)
    weights[index["mutate_constant"]] *= min(8, n_constants) / 8.0
    if len(tree) == 1:
        for name in ("mutate_operator", "swap_operands", "delete_node", "simplify", "rotate_tree"):
            weights[index[name]] = 0.0
    if complexity >= ctx.constraints.maxsize:
        weights[index["add_node"]] = 0.0
        weights[index["insert_node"]] = 0.0
    if not ctx.options.should_optimize_constants or n_constants == 0:
        weights[index["optimize"]] = 0.0
    return weights


def run_iteration(
    island: Island,
    ctx: SearchContext,
    frequencies: np.ndarray,
    deadline: float | None,
    batch_rows: np.ndarray | None = None,
) -> tuple[Island, dict[int, tuple[float, Tree]], int, np.ndarray]:
    """Run ``ncycles_per_iteration`` cycles of regularised evolution on ``island``.

    Parameters
    ----------
    frequencies : [maxsize + 1]
        Count of each complexity among recent members (all > 0), for adaptive parsimony.
    deadline : float or None
        ``time.monotonic()`` value after which the iteration stops early.
    batch_rows : [batch] int or None
        Targets (rows, or nodes of a graph loss) to evaluate on during this
        iteration (batching).

    Returns
    -------
    (island, best_seen, n_evaluations, complexity_counts)
        ``best_seen`` maps complexity to the best (loss, tree) met in this iteration,
        on the evaluation rows; ``complexity_counts`` counts accepted children.
    """
    options = ctx.options
    rng = island.rng
    evaluator = ctx.evaluator if batch_rows is None else ctx.evaluator.subset(batch_rows)
    if batch_rows is not None:
        island.losses = [evaluator(tree) for tree in island.trees]
    frequencies = [float(f) for f in frequencies]
    counts = np.zeros(len(frequencies))
    mctx = dataclasses.replace(ctx.mutation_context, rng=rng)
    cache: dict[Tree, float] = {}
    best_seen: dict[int, tuple[float, Tree]] = {}
    n_evaluations = 0
    events = max(1, math.ceil(options.population_size / options.tournament_selection_n))

    def record(tree: Tree, loss: float, complexity: int) -> None:
        current = best_seen.get(complexity)
        if math.isfinite(loss) and (current is None or loss < current[0]):
            best_seen[complexity] = (loss, tree)

    def loss_of(tree: Tree) -> float:
        nonlocal n_evaluations
        loss = cache.get(tree)
        if loss is None:
            loss = evaluator(tree)
            n_evaluations += 1
            cache[tree] = loss
        return loss

    for index, tree in enumerate(island.trees):
        record(tree, island.losses[index], int(island.complexities[index]))

    if ctx.compiled_cycles:
        n_evaluations += _compiled_cycles(island, ctx, evaluator, frequencies, counts, deadline, record)
    for cycle in range(0 if ctx.compiled_cycles else options.ncycles_per_iteration):
        if deadline is not None and time.monotonic() > deadline:
            break
        mctx.temperature = 1.0 - cycle / options.ncycles_per_iteration
        for _ in range(events):
            if rng.random() < options.crossover_probability:
                n_evaluations += _crossover_event(island, ctx, mctx, frequencies, loss_of, record)
                continue
            parent_index = _tournament(island, ctx, frequencies)
            child = _mutate(island, parent_index, ctx, mctx, evaluator)
            if child is None:
                continue
            tree, loss, complexity, extra_evaluations = child
            n_evaluations += extra_evaluations
            if loss is None:
                loss = loss_of(tree)
            if not math.isfinite(loss):
                # A non-integer exponent on a negative base is NaN; try integer exponents.
                if any(code == POW for code, _ in tree):
                    snapped = snap_exponents(tree)
                    if snapped != tree:
                        tree, loss = snapped, loss_of(snapped)
                if not math.isfinite(loss):
                    continue
            old_complexity = int(island.complexities[parent_index])
            if options.use_frequency:
                ratio = frequencies[old_complexity] / frequencies[complexity]
                if ratio < rng.random():
                    continue
            oldest = island.oldest()
            island.replace(oldest, tree, loss, complexity)
            counts[complexity] += 1
            frequencies[complexity] += 1.0
            record(tree, loss, complexity)

    if options.should_optimize_constants and options.optimize_probability > 0:
        for index in range(len(island.trees)):
            if deadline is not None and time.monotonic() > deadline:
                break
            if rng.random() >= options.optimize_probability:
                continue
            tree, loss, calls = optimize_constants(
                island.trees[index],
                island.losses[index],
                evaluator,
                rng,
                algorithm=options.optimizer_algorithm,
                iterations=options.optimizer_iterations,
                nrestarts=options.optimizer_nrestarts,
                deadline=deadline,
            )
            n_evaluations += calls
            island.trees[index] = tree
            island.losses[index] = loss
            record(tree, loss, int(island.complexities[index]))

    if options.should_simplify:
        for index, tree in enumerate(island.trees):
            folded = _simplified(tree, ctx, mctx)
            if folded != tree:
                complexity = ctx.constraints.complexity(folded)
                loss = loss_of(folded)
                if math.isfinite(loss):
                    island.trees[index] = folded
                    island.losses[index] = loss
                    island.complexities[index] = complexity
                    record(folded, loss, complexity)
    return island, best_seen, n_evaluations, counts


SIMPLIFY_CACHE_SIZE = 50_000
"""Folded trees remembered per process before the cache is cleared."""


def _simplified(tree: Tree, ctx: SearchContext, mctx: MutationContext) -> Tree:
    folded = ctx.simplified.get(tree)
    if folded is None:
        if len(ctx.simplified) >= SIMPLIFY_CACHE_SIZE:
            ctx.simplified.clear()
        folded = simplify(tree, mctx)
        ctx.simplified[tree] = folded
    return folded


def warm_up_compiled(island: Island, ctx: SearchContext) -> None:
    """Compile or load the Numba loop in this process by running zero cycles on a copy."""
    copy = dataclasses.replace(island, trees=list(island.trees), losses=list(island.losses),
                               complexities=list(island.complexities), births=list(island.births),
                               rng=random.Random(0))  # fmt: skip
    frequencies = [1.0] * (ctx.options.maxsize + 1)
    _compiled_cycles(copy, ctx, ctx.evaluator, frequencies, np.zeros(len(frequencies)), None, lambda *args: None, 0)


def _compiled_cycles(
    island: Island, ctx: SearchContext, evaluator: Evaluator, frequencies, counts, deadline, record, n_total=None
) -> int:
    # Run the cycles in the Numba loop, a few at a time so the deadline is checked.
    from symdistill.sr import _evolve

    options = ctx.options
    n_total = options.ncycles_per_iteration if n_total is None else n_total
    tables = ctx.compiled_tables
    size = len(island.trees)
    width = options.maxsize
    codes = np.zeros((size, width), dtype=np.int64)
    values = np.zeros((size, width))
    for index, tree in enumerate(island.trees):
        for position, (code, value) in enumerate(tree):
            codes[index, position] = code
            values[index, position] = value
    lengths = np.array([len(tree) for tree in island.trees], dtype=np.int64)
    losses = np.array(island.losses, dtype=np.float64)
    complexities = np.array(island.complexities, dtype=np.int64)
    births = np.array(island.births, dtype=np.int64)
    frequency_array = np.array(frequencies, dtype=np.float64)
    best_loss = np.full(options.maxsize + 1, np.inf)
    best_codes = np.zeros((options.maxsize + 1, width), dtype=np.int64)
    best_values = np.zeros((options.maxsize + 1, width))
    best_lengths = np.zeros(options.maxsize + 1, dtype=np.int64)
    events = max(1, math.ceil(options.population_size / options.tournament_selection_n))
    _evolve.seed(island.rng.getrandbits(31))
    next_birth = island.next_birth
    n_evaluations = 0
    done = 0
    chunk = 10
    first = True
    while first or done < n_total:
        first = False
        if deadline is not None and time.monotonic() > deadline:
            break
        n_cycles = min(chunk, n_total - done)
        next_birth, evaluations = _evolve.evolve(
            codes, values, lengths, losses, complexities, births, next_birth,
            n_cycles, done, max(1, n_total), events,
            options.crossover_probability, options.tournament_selection_n, options.tournament_selection_p,
            options.parsimony, options.adaptive_parsimony_scaling, ctx.baseline, options.use_frequency,
            tables["cumulative_weights"], options.perturbation_factor, options.probability_negate_constant,
            options.maxsize, ctx.constraints.maxdepth, evaluator.problem.n_features,
            tables["arity"], tables["weight"], tables["unary"], tables["binary"], tables["ternary"],
            evaluator.Xt, evaluator.y, evaluator._weights_arg, evaluator._kind, evaluator._delta,
            evaluator._receivers_arg, evaluator._divisor_arg,
            frequency_array, counts, best_loss, best_codes, best_values, best_lengths,
            options.fit_root_constants and options.should_optimize_constants,
            options.child_optimize_probability if options.should_optimize_constants else 0.0,
            options.optimizer_iterations,
        )  # fmt: skip
        n_evaluations += evaluations
        done += n_cycles
    for index in range(size):
        n = int(lengths[index])
        island.trees[index] = tuple(zip(codes[index, :n].tolist(), values[index, :n].tolist()))
    island.losses = losses.tolist()
    island.complexities = complexities.tolist()
    island.births = births.tolist()
    island.next_birth = int(next_birth)
    frequencies[:] = frequency_array.tolist()
    for complexity in range(options.maxsize + 1):
        if np.isfinite(best_loss[complexity]):
            n = int(best_lengths[complexity])
            tree = tuple(zip(best_codes[complexity, :n].tolist(), best_values[complexity, :n].tolist()))
            record(tree, float(best_loss[complexity]), complexity)
    return n_evaluations


def _mutate(island: Island, parent_index: int, ctx: SearchContext, mctx: MutationContext, evaluator: Evaluator):
    # Returns (tree, loss or None, complexity, evaluations spent) or None on failure.
    rng = island.rng
    parent = island.trees[parent_index]
    parent_complexity = int(island.complexities[parent_index])
    weights = _mutation_weights(ctx, parent, parent_complexity)
    if sum(weights) <= 0:
        return None
    name = rng.choices(ctx.mutation_names, weights)[0]
    if name == "do_nothing":
        return parent, island.losses[parent_index], parent_complexity, 0
    if name == "optimize":
        tree, loss, calls = optimize_constants(
            parent,
            island.losses[parent_index],
            evaluator,
            rng,
            algorithm=ctx.options.optimizer_algorithm,
            iterations=ctx.options.optimizer_iterations,
            nrestarts=ctx.options.optimizer_nrestarts,
        )
        return tree, loss, parent_complexity, calls
    if name == "simplify":
        tree = simplify(parent, mctx)
        return tree, None, ctx.constraints.complexity(tree), 0
    for _ in range(10):
        if name == "randomize":
            child = random_tree(mctx, rng.randrange(0, max(1, ctx.constraints.maxsize // 2)))
        else:
            child = MUTATIONS[name](parent, mctx)
        if child is None:
            return None
        complexity = ctx.constraints.complexity(child)
        if ctx.constraints.admissible(child, complexity):
            return child, None, complexity, 0
    return None


def _crossover_event(island: Island, ctx: SearchContext, mctx: MutationContext, frequencies, loss_of, record) -> int:
    first = _tournament(island, ctx, frequencies)
    second = _tournament(island, ctx, frequencies)
    for _ in range(10):
        child_a, child_b = crossover(island.trees[first], island.trees[second], mctx)
        complexity_a = ctx.constraints.complexity(child_a)
        complexity_b = ctx.constraints.complexity(child_b)
        if ctx.constraints.admissible(child_a, complexity_a) and ctx.constraints.admissible(child_b, complexity_b):
            break
    else:
        return 0
    for child, complexity in ((child_a, complexity_a), (child_b, complexity_b)):
        loss = loss_of(child)
        if math.isfinite(loss):
            island.replace(island.oldest(), child, loss, complexity)
            record(child, loss, complexity)
    return 0
