"""Numba version of the regularised-evolution cycles of one island.

The search runs this compiled loop when every operator is built in and the loss is a
built-in elementwise loss. It also requires that no per-operator argument or nesting
constraint is set and that every complexity weight is at least 1, so a tree has at
most ``maxsize`` nodes.
Otherwise it runs the Python loop in :mod:`symdistill.sr.population`, which is also
the reference for this module: the same mutations with the same probabilities,
tournament selection, acceptance rule and replacement of the oldest member.

Trees are stored as rows of ``codes`` (int64) and ``values`` (float64) arrays with a
``lengths`` entry each, in the postfix layout of :mod:`symdistill.sr.tree`. The
``simplify`` and ``optimize`` mutations need Python (constant folding and the
optimizer), so here they leave the parent unchanged; the Python side folds and
optimizes members after the cycles anyway.
Only this loop fits root scale and offset constants in closed form at each
evaluation (``SearchOptions.fit_root_constants``) and fits all constants of a
fraction of mutated children by Levenberg-Marquardt
(``SearchOptions.child_optimize_probability``); the Python loop leaves both to the
optimizer.
"""

from __future__ import annotations

import numba
import numpy as np

from symdistill.sr._kernels import LOSS_L2, program_loss
from symdistill.sr._least_squares import levenberg_marquardt
from symdistill.sr._root_fit import fit_root_constants
from symdistill.sr.operators import CONST, FEATURE, POW

_JIT = dict(cache=True, nogil=True, error_model="numpy")

# Mutation ids, in the order of symdistill.sr.options.MUTATION_NAMES.
M_CONSTANT, M_OPERATOR, M_FEATURE, M_SWAP, M_ROTATE, M_ADD, M_INSERT, M_DELETE = 0, 1, 2, 3, 4, 5, 6, 7
M_SIMPLIFY, M_RANDOMIZE, M_NOTHING, M_OPTIMIZE = 8, 9, 10, 11


@numba.njit(**_JIT)
def seed(value):
    """Seed Numba's random generator of the calling thread."""
    np.random.seed(value)


@numba.njit(**_JIT)
def _starts(codes, n, arity, starts, stack):
    sp = 0
    for i in range(n):
        k = arity[codes[i]]
        start = i
        for _ in range(k):
            sp -= 1
            start = stack[sp]
        starts[i] = start
        stack[sp] = start
        sp += 1


@numba.njit(**_JIT)
def _child_roots(codes, i, starts, arity, out):
    # Postfix indices of the children of node i, in argument order; returns the count.
    k = arity[codes[i]]
    end = i
    for c in range(k - 1, -1, -1):
        root = end - 1
        out[c] = root
        end = starts[root]
    return k


@numba.njit(**_JIT)
def _copy(src_c, src_v, start, stop, dst_c, dst_v, at):
    for i in range(start, stop):
        dst_c[at] = src_c[i]
        dst_v[at] = src_v[i]
        at += 1
    return at


@numba.njit(**_JIT)
def _random_leaf(dst_c, dst_v, at, n_features):
    if np.random.random() < 0.5:
        dst_c[at] = CONST
        dst_v[at] = np.random.normal()
    else:
        dst_c[at] = FEATURE
        dst_v[at] = float(np.random.randint(0, n_features))
    return at + 1


@numba.njit(**_JIT)
def _random_operator(unary, binary, ternary, requested_arity):
    if requested_arity == 0:
        n_groups = (len(unary) > 0) + (len(binary) > 0) + (len(ternary) > 0)
        pick = np.random.randint(0, n_groups)
        for group in range(3):
            size = (len(unary), len(binary), len(ternary))[group]
            if size > 0:
                if pick == 0:
                    requested_arity = group + 1
                    break
                pick -= 1
    if requested_arity == 1:
        return unary[np.random.randint(0, len(unary))]
    if requested_arity == 2:
        return binary[np.random.randint(0, len(binary))]
    return ternary[np.random.randint(0, len(ternary))]


@numba.njit(**_JIT)
def _operator_around(src_c, src_v, start, stop, dst_c, dst_v, at, unary, binary, ternary, arity, n_features):
    # Write op(..., src[start:stop], ...) with fresh leaves in the other arguments.
    code = _random_operator(unary, binary, ternary, 0)
    k = arity[code]
    position = np.random.randint(0, k)
    for a in range(k):
        if a == position:
            at = _copy(src_c, src_v, start, stop, dst_c, dst_v, at)
        else:
            at = _random_leaf(dst_c, dst_v, at, n_features)
    dst_c[at] = code
    dst_v[at] = 0.0
    return at + 1


@numba.njit(**_JIT)
def _random_tree(n_ops, dst_c, dst_v, tmp_c, tmp_v, starts, stack, unary, binary, ternary, arity, n_features, limit):
    n = _random_leaf(dst_c, dst_v, 0, n_features)
    for _ in range(n_ops):
        if n + 3 > limit:
            break
        n = _append_at_leaf(dst_c, dst_v, n, tmp_c, tmp_v, unary, binary, ternary, arity, n_features)
        for i in range(n):
            dst_c[i] = tmp_c[i]
            dst_v[i] = tmp_v[i]
    return n


@numba.njit(**_JIT)
def _append_at_leaf(c, v, n, out_c, out_v, unary, binary, ternary, arity, n_features):
    n_leaves = 0
    for i in range(n):
        if arity[c[i]] == 0:
            n_leaves += 1
    target = np.random.randint(0, n_leaves)
    for i in range(n):
        if arity[c[i]] == 0:
            if target == 0:
                at = _copy(c, v, 0, i, out_c, out_v, 0)
                at = _operator_around(c, v, i, i + 1, out_c, out_v, at, unary, binary, ternary, arity, n_features)
                return _copy(c, v, i + 1, n, out_c, out_v, at)
            target -= 1
    return -1


@numba.njit(**_JIT)
def _pick_node(c, n, arity, min_arity, max_arity, exact_code):
    # Uniform random node whose arity lies in [min_arity, max_arity] (or whose code
    # equals exact_code when it is >= 0); -1 when there is none.
    count = 0
    for i in range(n):
        if (exact_code >= 0 and c[i] == exact_code) or (exact_code < 0 and min_arity <= arity[c[i]] <= max_arity):
            count += 1
    if count == 0:
        return -1
    target = np.random.randint(0, count)
    for i in range(n):
        if (exact_code >= 0 and c[i] == exact_code) or (exact_code < 0 and min_arity <= arity[c[i]] <= max_arity):
            if target == 0:
                return i
            target -= 1
    return -1


@numba.njit(**_JIT)
def _mutate(
    kind, c, v, n, out_c, out_v, starts, stack, kids, grand, tmp_v, temperature, perturbation, p_negate,
    unary, binary, ternary, arity, n_features, limit,
):
    # Apply mutation `kind` to tree (c, v, n), writing the child to (out_c, out_v).
    # Returns the child's length, or -1 when the mutation does not apply.
    if kind == M_CONSTANT:
        i = _pick_node(c, n, arity, 0, 0, CONST)
        if i < 0:
            return -1
        _copy(c, v, 0, n, out_c, out_v, 0)
        factor = (perturbation * temperature + 1.1) ** np.random.random()
        value = v[i] * factor if np.random.random() < 0.5 else v[i] / factor
        if np.random.random() < p_negate:
            value = -value
        out_v[i] = value
        return n
    if kind == M_OPERATOR:
        i = _pick_node(c, n, arity, 1, 3, -1)
        if i < 0:
            return -1
        _copy(c, v, 0, n, out_c, out_v, 0)
        out_c[i] = _random_operator(unary, binary, ternary, arity[c[i]])
        return n
    if kind == M_FEATURE:
        i = _pick_node(c, n, arity, 0, 0, FEATURE)
        if i < 0 or n_features < 2:
            return -1
        _copy(c, v, 0, n, out_c, out_v, 0)
        current = int(v[i])
        new = np.random.randint(0, n_features - 1)
        if new >= current:
            new += 1
        out_v[i] = float(new)
        return n
    if kind == M_SWAP:
        i = _pick_node(c, n, arity, 2, 3, -1)
        if i < 0:
            return -1
        _starts(c, n, arity, starts, stack)
        k = _child_roots(c, i, starts, arity, kids)
        a = np.random.randint(0, k)
        b = np.random.randint(0, k - 1)
        if b >= a:
            b += 1
        tmp = kids[a]
        kids[a] = kids[b]
        kids[b] = tmp
        at = _copy(c, v, 0, starts[i], out_c, out_v, 0)
        for j in range(k):
            at = _copy(c, v, starts[kids[j]], kids[j] + 1, out_c, out_v, at)
        at = _copy(c, v, i, n, out_c, out_v, at)
        return at
    if kind == M_ROTATE:
        _starts(c, n, arity, starts, stack)
        count = 0
        for i in range(n):
            if arity[c[i]] > 0:
                k = _child_roots(c, i, starts, arity, kids)
                for j in range(k):
                    if arity[c[kids[j]]] > 0:
                        count += 1
        if count == 0:
            return -1
        target = np.random.randint(0, count)
        pivot = -1
        position = -1
        for i in range(n):
            if pivot >= 0:
                break
            if arity[c[i]] > 0:
                k = _child_roots(c, i, starts, arity, kids)
                for j in range(k):
                    if arity[c[kids[j]]] > 0:
                        if target == 0:
                            pivot = i
                            position = j
                            break
                        target -= 1
        k = _child_roots(c, pivot, starts, arity, kids)
        c_root = kids[position]
        kc = _child_roots(c, c_root, starts, arity, grand)
        j = np.random.randint(0, kc)
        at = _copy(c, v, 0, starts[pivot], out_c, out_v, 0)
        for g in range(kc):
            if g == j:
                # The old parent, with grandchild j in place of c_root.
                for p in range(k):
                    if p == position:
                        at = _copy(c, v, starts[grand[j]], grand[j] + 1, out_c, out_v, at)
                    else:
                        at = _copy(c, v, starts[kids[p]], kids[p] + 1, out_c, out_v, at)
                at = _copy(c, v, pivot, pivot + 1, out_c, out_v, at)
            else:
                at = _copy(c, v, starts[grand[g]], grand[g] + 1, out_c, out_v, at)
        at = _copy(c, v, c_root, c_root + 1, out_c, out_v, at)
        at = _copy(c, v, pivot + 1, n, out_c, out_v, at)
        return at
    if kind == M_ADD:
        if n + 3 > limit:
            return -1
        if np.random.random() < 0.5:
            return _append_at_leaf(c, v, n, out_c, out_v, unary, binary, ternary, arity, n_features)
        return _operator_around(c, v, 0, n, out_c, out_v, 0, unary, binary, ternary, arity, n_features)
    if kind == M_INSERT:
        if n + 3 > limit:
            return -1
        _starts(c, n, arity, starts, stack)
        i = np.random.randint(0, n)
        at = _copy(c, v, 0, starts[i], out_c, out_v, 0)
        at = _operator_around(c, v, starts[i], i + 1, out_c, out_v, at, unary, binary, ternary, arity, n_features)
        return _copy(c, v, i + 1, n, out_c, out_v, at)
    if kind == M_DELETE:
        i = _pick_node(c, n, arity, 1, 3, -1)
        if i < 0:
            return -1
        _starts(c, n, arity, starts, stack)
        k = _child_roots(c, i, starts, arity, kids)
        keep = kids[np.random.randint(0, k)]
        at = _copy(c, v, 0, starts[i], out_c, out_v, 0)
        at = _copy(c, v, starts[keep], keep + 1, out_c, out_v, at)
        return _copy(c, v, i + 1, n, out_c, out_v, at)
    if kind == M_RANDOMIZE:
        n_ops = np.random.randint(0, max(1, limit // 6))
        return _random_tree(n_ops, out_c, out_v, grand, tmp_v, starts, stack, unary, binary, ternary, arity, n_features, limit)
    # do_nothing, simplify and optimize: the parent itself.
    return _copy(c, v, 0, n, out_c, out_v, 0)


@numba.njit(**_JIT)
def _complexity(c, n, weight):
    total = 0.0
    for i in range(n):
        total += weight[c[i]]
    return int(np.round(total))


@numba.njit(**_JIT)
def _depth(c, n, arity, stack):
    sp = 0
    for i in range(n):
        k = arity[c[i]]
        deepest = 0
        for _ in range(k):
            sp -= 1
            if stack[sp] > deepest:
                deepest = stack[sp]
        stack[sp] = deepest + 1
        sp += 1
    return stack[0]


@numba.njit(**_JIT)
def _admissible(c, n, weight, arity, maxsize, maxdepth, stack):
    if n > maxsize:
        return -1
    complexity = _complexity(c, n, weight)
    if complexity > maxsize:
        return -1
    if n > maxdepth and _depth(c, n, arity, stack) > maxdepth:
        return -1
    return complexity


@numba.njit(**_JIT)
def _loss(c, v, n, program, Xt, y, w, kind, delta, receivers, divisor, buffer, fit_root, arity, starts, stack):
    # With fit_root, root scale and offset constants get their L2 optimum first (in v).
    if fit_root and kind == LOSS_L2:
        fit_root_constants(c, v, n, arity, starts, stack, program, Xt, y, w, receivers, divisor, buffer)
    for i in range(n):
        program[i, 0] = c[i]
        program[i, 1] = v[i]
    return program_loss(program[:n], Xt, y, w, kind, delta, receivers, divisor, buffer)


@numba.njit(**_JIT)
def _fit_child(c, v, n, loss, program, positions, Xt, y, w, iterations):
    # Fit every constant of the child c[:n] by Levenberg-Marquardt, starting from the
    # nodes that _loss left in program[:n]. The fitted values go into v only when they
    # lower the loss.
    k = 0
    for i in range(n):
        if c[i] == CONST:
            positions[k] = i
            k += 1
    if k == 0:
        return loss, 0
    fitted, calls = levenberg_marquardt(program[:n], positions[:k], Xt, y, w, iterations)
    if fitted < loss:
        for j in range(k):
            v[positions[j]] = program[positions[j], 1]
        return fitted, calls
    return loss, calls


@numba.njit(**_JIT)
def _snap_exponents(c, v, n):
    changed = False
    for i in range(1, n):
        if c[i] == POW and c[i - 1] == CONST and v[i - 1] != np.round(v[i - 1]):
            v[i - 1] = np.round(v[i - 1])
            changed = True
    return changed


@numba.njit(**_JIT)
def _tournament(losses, complexities, pool, n_sample, baseline, parsimony, scaling, frequencies, frequency_sum, p):
    size = losses.shape[0]
    for k in range(size):
        pool[k] = k
    for k in range(n_sample):
        j = k + np.random.randint(0, size - k)
        tmp = pool[k]
        pool[k] = pool[j]
        pool[j] = tmp
    rank = 0
    if p < 1.0:
        rank = min(int(np.log(1.0 - np.random.random()) / np.log(1.0 - p)), n_sample - 1)
    costs = np.empty(n_sample)
    for k in range(n_sample):
        index = pool[k]
        cost = losses[index] / baseline + parsimony * complexities[index]
        if scaling > 0.0:
            cost *= np.exp(scaling * frequencies[complexities[index]] / frequency_sum)
        costs[k] = cost
    order = np.argsort(costs, kind="mergesort")
    return pool[order[rank]]


@numba.njit(**_JIT)
def _oldest(births):
    best = 0
    for i in range(1, births.shape[0]):
        if births[i] < births[best]:
            best = i
    return best


@numba.njit(**_JIT)
def _record(c, v, n, loss, complexity, best_loss, best_codes, best_values, best_lengths):
    if np.isfinite(loss) and loss < best_loss[complexity]:
        best_loss[complexity] = loss
        best_lengths[complexity] = n
        for i in range(n):
            best_codes[complexity, i] = c[i]
            best_values[complexity, i] = v[i]


@numba.njit(**_JIT)
def evolve(
    codes, values, lengths, losses, complexities, births, next_birth,
    n_cycles, cycle_offset, total_cycles, events,
    crossover_probability, tournament_n, tournament_p, parsimony, scaling, baseline, use_frequency,
    cumulative_weights, perturbation, p_negate, maxsize, maxdepth, n_features,
    arity, weight, unary, binary, ternary,
    Xt, y, w, loss_kind, delta, receivers, divisor,
    frequencies, counts, best_loss, best_codes, best_values, best_lengths, fit_root,
    child_optimize, optimizer_iterations,
):
    """Run ``n_cycles`` evolution cycles on one island in place.

    Returns ``(next_birth, n_evaluations)``. Arrays: population ``codes``/``values``
    ``[pop, width]``, ``lengths``/``losses``/``complexities``/``births`` ``[pop]``;
    ``frequencies``/``counts``/``best_*`` are indexed by complexity ``0..maxsize``.
    With ``fit_root`` and the L2 loss, every child's root
    scale and offset constants are set in closed form before its loss is taken
    (:func:`symdistill.sr._root_fit.fit_root_constants`). With probability
    ``child_optimize``, a child of a structural mutation (any but a constant
    perturbation), under the L2 loss without graph aggregation, also gets all its
    constants fitted by ``optimizer_iterations`` Levenberg-Marquardt steps, so a new
    structure is judged with fitted rather than inherited constants.
    """
    width = codes.shape[1]
    scratch = 2 * width + 8
    child_c = np.empty(scratch, dtype=np.int64)
    child_v = np.empty(scratch)
    other_c = np.empty(scratch, dtype=np.int64)
    other_v = np.empty(scratch)
    starts = np.empty(scratch, dtype=np.int64)
    stack = np.empty(scratch, dtype=np.int64)
    kids = np.empty(4, dtype=np.int64)
    grand = np.empty(scratch, dtype=np.int64)
    program = np.empty((scratch, 2))
    buffer = np.empty(Xt.shape[1])
    pool = np.empty(codes.shape[0], dtype=np.int64)
    positions = np.empty(scratch, dtype=np.int64)
    can_fit_children = child_optimize > 0.0 and loss_kind == LOSS_L2 and receivers.shape[0] == 0
    total_weight = cumulative_weights[-1]
    frequency_sum = 0.0
    for f in frequencies:
        frequency_sum += f
    n_evaluations = 0
    for cycle in range(n_cycles):
        temperature = 1.0 - (cycle_offset + cycle) / total_cycles
        for _ in range(events):
            if np.random.random() < crossover_probability:
                first = _tournament(losses, complexities, pool, tournament_n, baseline, parsimony, scaling, frequencies, frequency_sum, tournament_p)
                second = _tournament(losses, complexities, pool, tournament_n, baseline, parsimony, scaling, frequencies, frequency_sum, tournament_p)
                na = lengths[first]
                nb = lengths[second]
                ok = False
                for _attempt in range(10):
                    _starts(codes[first], na, arity, starts, stack)
                    i = np.random.randint(0, na)
                    start_i = starts[i]
                    _starts(codes[second], nb, arity, grand, stack)
                    j = np.random.randint(0, nb)
                    start_j = grand[j]
                    at = _copy(codes[first], values[first], 0, start_i, child_c, child_v, 0)
                    at = _copy(codes[second], values[second], start_j, j + 1, child_c, child_v, at)
                    len_a = _copy(codes[first], values[first], i + 1, na, child_c, child_v, at)
                    at = _copy(codes[second], values[second], 0, start_j, other_c, other_v, 0)
                    at = _copy(codes[first], values[first], start_i, i + 1, other_c, other_v, at)
                    len_b = _copy(codes[second], values[second], j + 1, nb, other_c, other_v, at)
                    complexity_a = _admissible(child_c, len_a, weight, arity, maxsize, maxdepth, stack)
                    complexity_b = _admissible(other_c, len_b, weight, arity, maxsize, maxdepth, stack)
                    if complexity_a >= 0 and complexity_b >= 0:
                        ok = True
                        break
                if not ok:
                    continue
                for which in range(2):
                    if which == 0:
                        cc, cv, cn, cx = child_c, child_v, len_a, complexity_a
                    else:
                        cc, cv, cn, cx = other_c, other_v, len_b, complexity_b
                    loss = _loss(cc, cv, cn, program, Xt, y, w, loss_kind, delta, receivers, divisor, buffer, fit_root, arity, starts, stack)
                    n_evaluations += 1
                    if np.isfinite(loss):
                        slot = _oldest(births)
                        lengths[slot] = cn
                        for k in range(cn):
                            codes[slot, k] = cc[k]
                            values[slot, k] = cv[k]
                        losses[slot] = loss
                        complexities[slot] = cx
                        births[slot] = next_birth
                        next_birth += 1
                        _record(cc, cv, cn, loss, cx, best_loss, best_codes, best_values, best_lengths)
                continue

            parent = _tournament(losses, complexities, pool, tournament_n, baseline, parsimony, scaling, frequencies, frequency_sum, tournament_p)
            n = lengths[parent]
            pc = codes[parent]
            pv = values[parent]
            # Condition the mutation weights on the parent, as the Python loop does.
            n_constants = 0
            for i in range(n):
                if pc[i] == CONST:
                    n_constants += 1
            weights = np.empty(12)
            previous = 0.0
            for m in range(12):
                weights[m] = cumulative_weights[m] - previous
                previous = cumulative_weights[m]
            weights[M_CONSTANT] *= min(8, n_constants) / 8.0
            if n == 1:
                weights[M_OPERATOR] = 0.0
                weights[M_SWAP] = 0.0
                weights[M_DELETE] = 0.0
                weights[M_SIMPLIFY] = 0.0
                weights[M_ROTATE] = 0.0
            if complexities[parent] >= maxsize:
                weights[M_ADD] = 0.0
                weights[M_INSERT] = 0.0
            weights[M_OPTIMIZE] = 0.0
            total = weights.sum()
            if total <= 0.0:
                continue
            draw = np.random.random() * total
            kind = 11
            running = 0.0
            for m in range(12):
                running += weights[m]
                if draw < running:
                    kind = m
                    break
            if kind == M_NOTHING or kind == M_SIMPLIFY or kind == M_OPTIMIZE:
                child_n = _copy(pc, pv, 0, n, child_c, child_v, 0)
                complexity = complexities[parent]
                loss = losses[parent]
            else:
                complexity = -1
                child_n = -1
                for _attempt in range(10):
                    child_n = _mutate(
                        kind, pc, pv, n, child_c, child_v, starts, stack, kids, grand, other_v, temperature, perturbation,
                        p_negate, unary, binary, ternary, arity, n_features, scratch - 4,
                    )
                    if child_n < 0:
                        break
                    complexity = _admissible(child_c, child_n, weight, arity, maxsize, maxdepth, stack)
                    if complexity >= 0:
                        break
                if child_n < 0 or complexity < 0:
                    continue
                loss = _loss(child_c, child_v, child_n, program, Xt, y, w, loss_kind, delta, receivers, divisor, buffer, fit_root, arity, starts, stack)
                n_evaluations += 1
                if not np.isfinite(loss) and _snap_exponents(child_c, child_v, child_n):
                    # A non-integer exponent on a negative base is NaN; try integer exponents.
                    loss = _loss(child_c, child_v, child_n, program, Xt, y, w, loss_kind, delta, receivers, divisor, buffer, fit_root, arity, starts, stack)
                    n_evaluations += 1
                if not np.isfinite(loss):
                    continue
                if can_fit_children and kind != M_CONSTANT and np.random.random() < child_optimize:
                    loss, calls = _fit_child(child_c, child_v, child_n, loss, program, positions, Xt, y, w, optimizer_iterations)
                    n_evaluations += calls
            if use_frequency:
                ratio = frequencies[complexities[parent]] / frequencies[complexity]
                if ratio < np.random.random():
                    continue
            slot = _oldest(births)
            lengths[slot] = child_n
            for k in range(child_n):
                codes[slot, k] = child_c[k]
                values[slot, k] = child_v[k]
            losses[slot] = loss
            complexities[slot] = complexity
            births[slot] = next_birth
            next_birth += 1
            counts[complexity] += 1.0
            frequencies[complexity] += 1.0
            frequency_sum += 1.0
            _record(child_c, child_v, child_n, loss, complexity, best_loss, best_codes, best_values, best_lengths)
    return next_birth, n_evaluations
