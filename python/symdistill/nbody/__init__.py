"""N-body simulators: the systems of Cranmer et al. (2020) and user pair potentials.

>>> from symdistill import nbody
>>> data = nbody.simulate("spring", dim=2, n_bodies=4, n_sims=100, n_steps=500)
>>> data.states.shape, data.accelerations.shape
((100, 500, 4, 6), (100, 500, 4, 2))
>>> system = data.get_system()
>>> force = system.pair_force(data.states[0, 0, [0]], data.states[0, 0, [1]])

The node state layout is ``[position(dim), velocity(dim), charge, mass]``. Systems and
their forces are in ``systems``. ``codegen`` generates the Numba kernels per pair
potential from ``kernel_source``. ``simulation`` drives the integrator, and ``dataset``
stores, saves and splits the results.
"""

from symdistill.nbody.dataset import NBodyDataset, load, split_by_time
from symdistill.nbody.initial import initial_states
from symdistill.nbody.simulation import SimulationConfig, TruncationError, simulate, simulate_config
from symdistill.nbody.systems import DEFAULT_DT, SYSTEMS, System, get_system

__all__ = [
    "DEFAULT_DT",
    "NBodyDataset",
    "SYSTEMS",
    "SimulationConfig",
    "System",
    "TruncationError",
    "get_system",
    "initial_states",
    "load",
    "simulate",
    "simulate_config",
    "split_by_time",
]
