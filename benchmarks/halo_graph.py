"""Benchmark the periodic halo radius graph against scipy's cKDTree on a Quijote-size catalogue.

The catalogue has Quijote's size and density (215,854 halos in a 1 Gpc/h box) with mild
clustering: 70% of the halos are uniform and 30% sit within a Gaussian 10 Mpc/h of
another halo, which gives about 114 neighbours within 50 Mpc/h. Each method runs
``--repeats`` times, interleaved, and the best time of each is reported:

- ``symdistill``: ``symdistill.halos.radius_graph``, the directed int32 edge list grouped
  by receiver (Numba compilation excluded by a warm-up call);
- ``scipy query_pairs``: ``cKDTree(boxsize=...).query_pairs(r, output_type="ndarray")``,
  tree construction included, which returns each unordered pair once (half the edges);
- ``scipy, same output``: the same pairs turned into the directed int32 edge list
  grouped by receiver (both directions, stable sort by receiver).

Usage: ``python benchmarks/halo_graph.py [--halos 215854] [--box 1000] [--r-max 50] [--repeats 3]
[--threads N]``; ``--threads 1`` compares single cores, since scipy's query_pairs is serial.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def clustered_catalogue(n: int, box: float, seed: int = 0) -> np.ndarray:
    """Return positions (n, 3): 70% uniform, 30% near a random earlier halo."""
    rng = np.random.default_rng(seed)
    n_uniform = int(0.7 * n)
    uniform = rng.uniform(0, box, (n_uniform, 3))
    anchors = uniform[rng.integers(0, n_uniform, n - n_uniform)]
    satellites = np.mod(anchors + rng.normal(0, 10.0, (n - n_uniform, 3)), box)
    positions = np.vstack([uniform, satellites])
    positions[positions >= box] = 0.0
    return positions[rng.permutation(n)]


def scipy_pairs(positions: np.ndarray, r_max: float, box: float) -> np.ndarray:
    from scipy.spatial import cKDTree

    return cKDTree(positions, boxsize=box).query_pairs(r_max, output_type="ndarray")


def scipy_edge_list(positions: np.ndarray, r_max: float, box: float) -> np.ndarray:
    pairs = scipy_pairs(positions, r_max, box)
    senders = np.concatenate([pairs[:, 0], pairs[:, 1]]).astype(np.int32)
    receivers = np.concatenate([pairs[:, 1], pairs[:, 0]]).astype(np.int32)
    order = np.argsort(receivers, kind="stable")
    return np.stack([senders[order], receivers[order]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halos", type=int, default=215_854, help="number of halos (Quijote: 215,854)")
    parser.add_argument("--box", type=float, default=1000.0, help="box edge in Mpc/h")
    parser.add_argument("--r-max", type=float, default=50.0, help="edge radius in Mpc/h")
    parser.add_argument("--repeats", type=int, default=3, help="runs per method; the best is reported")
    parser.add_argument("--threads", type=int, default=None, help="Numba threads (default: all CPUs)")
    args = parser.parse_args()

    import numba

    if args.threads is not None:
        numba.set_num_threads(args.threads)

    from symdistill.halos import radius_graph

    positions = clustered_catalogue(args.halos, args.box)
    radius_graph(positions[:2000], args.r_max, args.box)  # compile the kernels

    methods = {
        "symdistill": lambda: radius_graph(positions, args.r_max, args.box).edge_index,
        "scipy query_pairs": lambda: scipy_pairs(positions, args.r_max, args.box),
        "scipy, same output": lambda: scipy_edge_list(positions, args.r_max, args.box),
    }
    best = {name: np.inf for name in methods}
    sizes = {}
    for _ in range(args.repeats):
        for name, method in methods.items():
            start = time.perf_counter()
            result = method()
            best[name] = min(best[name], time.perf_counter() - start)
            sizes[name] = result.shape
            del result

    reference = scipy_edge_list(positions, args.r_max, args.box)
    ours = radius_graph(positions, args.r_max, args.box).edge_index
    if ours.shape != reference.shape or not np.array_equal(ours[1], reference[1]):
        raise SystemExit("symdistill and scipy disagree on the edges; the benchmark is invalid")

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}")
    print(f"{args.halos} halos in a {args.box:g} Mpc/h box, r_max {args.r_max:g} Mpc/h: "
          f"{ours.shape[1]} directed edges ({ours.shape[1] / args.halos:.1f} per halo)")
    for name in methods:
        print(f"  {name:20s} {best[name]:8.3f} s  output {sizes[name]}")
    print(f"speed-up over scipy query_pairs: {best['scipy query_pairs'] / best['symdistill']:.2f}x")
    print(f"speed-up over scipy, same output: {best['scipy, same output'] / best['symdistill']:.2f}x")


if __name__ == "__main__":
    main()
