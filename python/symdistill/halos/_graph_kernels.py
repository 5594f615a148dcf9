"""Numba kernels for the radius graph: cell-pair neighbour counts, fills and edge features.

The kernels work on halos sorted by cell: ``cell_start`` gives the first sorted index of
each cell in row-major (x, y, z) order, with one extra entry at the end, and ``order``
maps a sorted index back to the caller's halo index. Work is split by receiving cell, so
each thread owns its receivers' counts and edge slots. Neighbour cells are visited as
contiguous runs along z, a cell is skipped when its nearest point lies beyond ``r_max``
from every point of the receiving cell, and the periodic image shift is applied once per
run rather than per halo pair.
NumPy references for the same results live in :mod:`symdistill.halos.graph`.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _neighbour_cell(cell, offset, n, periodic, box):
    """Return the wrapped neighbour cell index (-1 if outside) and its image shift."""
    unwrapped = cell + offset
    if periodic:
        if unwrapped < 0:
            return unwrapped + n, -box
        if unwrapped >= n:
            return unwrapped - n, box
        return unwrapped, 0.0
    if unwrapped < 0 or unwrapped >= n:
        return -1, 0.0
    return unwrapped, 0.0


@nb.njit(cache=True, inline="always")
def _cell_gap(offset, cell_size):
    """Smallest distance along one axis between points of cells ``offset`` apart."""
    steps = abs(offset) - 1
    if steps <= 0:
        return 0.0
    return steps * cell_size


@nb.njit(cache=True)
def _row_segments(cx, cy, cz, n_cells, cell_size, reach, periodic, box, r2, rows, lows, highs, shifts):
    """List the neighbour cells of cell (cx, cy, cz) within ``r_max`` as runs along z.

    Cells along z are adjacent in the sorted order, so each (x, y) neighbour row is at
    most three contiguous runs: below the lower face (wrapped), inside, and above the upper
    face (wrapped). Fills ``rows`` (flat index of the row's z = 0 cell), the z range
    ``lows``..``highs`` (inclusive) and ``shifts`` (m, 3), the periodic image shift to add
    to the neighbours' positions; returns the number of runs m.
    """
    count = 0
    n_z = n_cells[2]
    for a in range(-reach, reach + 1):
        gx = _cell_gap(a, cell_size[0])
        nx, sx = _neighbour_cell(cx, a, n_cells[0], periodic, box[0])
        if nx < 0 or gx * gx > r2:
            continue
        for b in range(-reach, reach + 1):
            gy = _cell_gap(b, cell_size[1])
            ny, sy = _neighbour_cell(cy, b, n_cells[1], periodic, box[1])
            remaining = r2 - gx * gx - gy * gy
            if ny < 0 or remaining < 0:
                continue
            # Widest z offset whose nearest face is still within r_max.
            c_max = reach
            while c_max > 1 and ((c_max - 1) * cell_size[2]) ** 2 > remaining:
                c_max -= 1
            row = (nx * n_cells[1] + ny) * n_z
            low, high = cz - c_max, cz + c_max
            if periodic:
                if low < 0:
                    rows[count], lows[count], highs[count] = row, low + n_z, n_z - 1
                    shifts[count, 0], shifts[count, 1], shifts[count, 2] = sx, sy, -box[2]
                    count += 1
                if high >= n_z:
                    rows[count], lows[count], highs[count] = row, 0, high - n_z
                    shifts[count, 0], shifts[count, 1], shifts[count, 2] = sx, sy, box[2]
                    count += 1
            rows[count], lows[count], highs[count] = row, max(low, 0), min(high, n_z - 1)
            shifts[count, 0], shifts[count, 1], shifts[count, 2] = sx, sy, 0.0
            count += 1
    return count


@nb.njit(cache=True, parallel=True)
def count_neighbours(xs, ys, zs, cell_start, n_cells, cell_size, reach, box, periodic, r_max):
    """Return the number of halos within ``r_max`` of each sorted halo (itself excluded).

    Shapes: xs, ys, zs (n,) float64, the sorted positions per axis, in
    ``[0, n_cells * cell_size)``; cell_start (prod(n_cells) + 1,) int64; n_cells (3,)
    int64; cell_size (3,) float64; box (3,) float64. ``reach`` is the stencil half-width in
    cells and must not exceed any ``n_cells`` entry. Returns (n,) int64.
    """
    n = xs.shape[0]
    r2 = r_max * r_max
    width = 2 * reach + 1
    total_cells = cell_start.shape[0] - 1
    counts = np.zeros(n, dtype=np.int64)
    for cell in nb.prange(total_cells):
        first = cell_start[cell]
        last = cell_start[cell + 1]
        if first == last:
            continue
        rows = np.empty(3 * width * width, dtype=np.int64)
        lows = np.empty(3 * width * width, dtype=np.int64)
        highs = np.empty(3 * width * width, dtype=np.int64)
        shifts = np.empty((3 * width * width, 3), dtype=np.float64)
        cz = cell % n_cells[2]
        cy = (cell // n_cells[2]) % n_cells[1]
        cx = cell // (n_cells[2] * n_cells[1])
        # Pad r2 slightly so rounding in the cell bounds never drops a pair at r_max.
        m = _row_segments(cx, cy, cz, n_cells, cell_size, reach, periodic, box, r2 * (1.0 + 1e-9),
                          rows, lows, highs, shifts)
        for k in range(m):
            begin = cell_start[rows[k] + lows[k]]
            end = cell_start[rows[k] + highs[k] + 1]
            for i in range(first, last):
                xi = xs[i] - shifts[k, 0]
                yi = ys[i] - shifts[k, 1]
                zi = zs[i] - shifts[k, 2]
                found = 0
                for j in range(begin, end):
                    dx = xi - xs[j]
                    dy = yi - ys[j]
                    dz = zi - zs[j]
                    if dx * dx + dy * dy + dz * dz <= r2:
                        found += 1
                counts[i] += found
    # Each halo found itself once, in its own cell at zero shift.
    for i in nb.prange(n):
        counts[i] -= 1
    return counts


@nb.njit(cache=True, parallel=True)
def fill_neighbours(xs, ys, zs, cell_start, n_cells, cell_size, reach, box, periodic, r_max, order, row_start):
    """Return the sender of every edge, grouped by receiver in the caller's numbering.

    Takes the arguments of :func:`count_neighbours` plus ``order`` (n,) int64 and
    ``row_start`` (n + 1,) int64, where the incoming edges of caller halo ``h`` begin.
    Within a receiver, senders come in cell order. Returns (row_start[-1],) int32.
    """
    # The loop repeats count_neighbours' loop on purpose: one shared helper with a
    # count-or-write flag compiled to a kernel about twice as slow.
    n = xs.shape[0]
    r2 = r_max * r_max
    width = 2 * reach + 1
    total_cells = cell_start.shape[0] - 1
    senders = np.empty(row_start[n], dtype=np.int32)
    for cell in nb.prange(total_cells):
        first = cell_start[cell]
        last = cell_start[cell + 1]
        if first == last:
            continue
        rows = np.empty(3 * width * width, dtype=np.int64)
        lows = np.empty(3 * width * width, dtype=np.int64)
        highs = np.empty(3 * width * width, dtype=np.int64)
        shifts = np.empty((3 * width * width, 3), dtype=np.float64)
        cursor = np.empty(last - first, dtype=np.int64)
        for i in range(first, last):
            cursor[i - first] = row_start[order[i]]
        cz = cell % n_cells[2]
        cy = (cell // n_cells[2]) % n_cells[1]
        cx = cell // (n_cells[2] * n_cells[1])
        m = _row_segments(cx, cy, cz, n_cells, cell_size, reach, periodic, box, r2 * (1.0 + 1e-9),
                          rows, lows, highs, shifts)
        for k in range(m):
            begin = cell_start[rows[k] + lows[k]]
            end = cell_start[rows[k] + highs[k] + 1]
            for i in range(first, last):
                xi = xs[i] - shifts[k, 0]
                yi = ys[i] - shifts[k, 1]
                zi = zs[i] - shifts[k, 2]
                slot = cursor[i - first]
                for j in range(begin, end):
                    dx = xi - xs[j]
                    dy = yi - ys[j]
                    dz = zi - zs[j]
                    if dx * dx + dy * dy + dz * dz <= r2 and j != i:
                        senders[slot] = order[j]
                        slot += 1
                cursor[i - first] = slot
    return senders


@nb.njit(cache=True, parallel=True)
def edge_features(positions, velocities, senders, receivers, box, periodic, out):
    """Fill ``out`` (n_edges, 8) with dx dy dz r dvx dvy dvz |dv|, receiver minus sender."""
    for e in nb.prange(senders.shape[0]):
        i = receivers[e]
        j = senders[e]
        r2 = 0.0
        v2 = 0.0
        for d in range(3):
            dx = positions[i, d] - positions[j, d]
            if periodic:
                if dx > 0.5 * box[d]:
                    dx -= box[d]
                elif dx < -0.5 * box[d]:
                    dx += box[d]
            dv = velocities[i, d] - velocities[j, d]
            out[e, d] = dx
            out[e, 4 + d] = dv
            r2 += dx * dx
            v2 += dv * dv
        out[e, 3] = np.sqrt(r2)
        out[e, 7] = np.sqrt(v2)
