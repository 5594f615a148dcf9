"""The simulated dataset: trajectories, accelerations, and how they were made.

``NBodyDataset.save`` writes a plain ``.npz`` file that NumPy reads without symdistill:
arrays ``states``, ``accelerations``, ``times``, ``truncated`` and ``metadata`` (a JSON
string, read it with ``json.loads(str(file["metadata"]))``).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symdistill._io import atomic_path

#: Value of ``metadata["format"]`` in files written by this version.
FORMAT = "symdistill.nbody.dataset/1"
_ARRAYS = ("states", "accelerations", "times", "truncated")


@dataclass
class NBodyDataset:
    """Trajectories of many simulations of one system on a shared time grid.

    Attributes
    ----------
    states : ndarray, float64, shape [S, T, N, 2*dim + 2]
        ``[position(dim), velocity(dim), charge, mass]`` of every body at every time.
        NaN after the point where a truncated simulation stopped.
    accelerations : ndarray, float64, shape [S, T, N, dim]
        Exact accelerations at every stored state, damping included.
    times : ndarray, float64, shape [T]
        Output times, starting at 0 with spacing ``dt``.
    truncated : ndarray, bool, shape [S]
        True where the integrator stopped early (see ``simulate``).
    metadata : dict
        ``system``, ``dim``, ``n_bodies``, ``dt``, ``softening``, ``damping``, ``rtol``,
        ``atol``, ``max_steps``, ``seed``, ``potential`` (custom systems), ``version``
        (of symdistill) and a few more; all JSON-serialisable.
    """

    states: np.ndarray
    accelerations: np.ndarray
    times: np.ndarray
    truncated: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.states = np.asarray(self.states, dtype=np.float64)
        self.accelerations = np.asarray(self.accelerations, dtype=np.float64)
        self.times = np.asarray(self.times, dtype=np.float64)
        self.truncated = np.asarray(self.truncated, dtype=bool)
        if self.states.ndim != 4:
            raise ValueError(f"states must have shape [sims, times, bodies, features], got {self.states.shape}")
        sims, times, bodies, width = self.states.shape
        if width % 2 or (width - 2) // 2 not in (2, 3):
            raise ValueError(f"states must have 6 (2D) or 8 (3D) feature columns, got {width}")
        dim = (width - 2) // 2
        if self.accelerations.shape != (sims, times, bodies, dim):
            raise ValueError(
                f"accelerations must have shape {(sims, times, bodies, dim)} to match states {self.states.shape}, "
                f"got {self.accelerations.shape}"
            )
        if self.times.shape != (times,):
            raise ValueError(f"times must have shape ({times},), got {self.times.shape}")
        if self.truncated.shape != (sims,):
            raise ValueError(f"truncated must have shape ({sims},), got {self.truncated.shape}")

    @property
    def system(self) -> str:
        """Name of the simulated system (``"custom"`` for a user potential)."""
        return str(self.metadata.get("system", "unknown"))

    @property
    def dim(self) -> int:
        """Spatial dimension."""
        return (self.states.shape[-1] - 2) // 2

    @property
    def n_bodies(self) -> int:
        """Number of bodies per simulation."""
        return self.states.shape[2]

    @property
    def n_sims(self) -> int:
        """Number of simulations."""
        return self.states.shape[0]

    @property
    def n_times(self) -> int:
        """Number of stored time points per simulation."""
        return self.states.shape[1]

    def __len__(self) -> int:
        return self.n_sims

    def __repr__(self) -> str:
        return (
            f"NBodyDataset(system={self.system!r}, dim={self.dim}, n_bodies={self.n_bodies}, "
            f"n_sims={self.n_sims}, n_times={self.n_times}, truncated={int(self.truncated.sum())})"
        )

    def get_system(self):
        """Return the ``System`` that produced this dataset, rebuilt from the metadata."""
        from symdistill.nbody.systems import get_system

        meta = self.metadata
        potential = meta.get("potential")
        return get_system(
            None if potential else meta["system"],
            potential=potential,
            dim=self.dim,
            softening=float(meta.get("softening", 0.01)),
            damping=meta.get("damping", "uniform"),
        )

    def select(self, sims: Any = slice(None), times: Any = slice(None)) -> "NBodyDataset":
        """Return a new dataset with the given simulations and time points (NumPy indices)."""
        sims_index = np.arange(self.n_sims)[sims]
        times_index = np.arange(self.n_times)[times]
        if sims_index.size == 0 or times_index.size == 0:
            raise ValueError(
                f"the selection keeps {sims_index.size} simulation(s) and {times_index.size} time point(s); "
                "a dataset needs at least one of each"
            )
        grid = np.ix_(sims_index, times_index)
        return NBodyDataset(
            states=self.states[grid],
            accelerations=self.accelerations[grid],
            times=self.times[times_index],
            truncated=self.truncated[sims_index],
            metadata=dict(self.metadata),
        )

    def drop_truncated(self) -> "NBodyDataset":
        """Return the dataset without the truncated simulations."""
        return self.select(sims=~self.truncated)

    def save(self, path: str | os.PathLike[str], *, compress: bool = False) -> None:
        """Write the dataset to an ``.npz`` file atomically (see the module docstring)."""
        metadata = dict(self.metadata, format=FORMAT)
        writer = np.savez_compressed if compress else np.savez
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as handle:
                writer(
                    handle,
                    states=self.states,
                    accelerations=self.accelerations,
                    times=self.times,
                    truncated=self.truncated,
                    metadata=np.array(json.dumps(metadata, sort_keys=True)),
                )


def load(path: str | os.PathLike[str]) -> NBodyDataset:
    """Read a dataset written by ``NBodyDataset.save``."""
    name = os.fspath(path)
    fix = "pass a file written by 'symdistill simulate' or NBodyDataset.save"
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"dataset file not found: {name!r}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        # numpy's own message for a text file suggests unpickling it, which is unsafe.
        raise ValueError(f"{name!r} is not an N-body dataset: it is not an .npz archive; {fix}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{name!r} contains a single array, not an N-body dataset; {fix}")
    with archive as data:
        missing = [key for key in (*_ARRAYS, "metadata") if key not in data.files]
        if missing:
            raise ValueError(f"{name!r} is not an N-body dataset: missing array(s) {', '.join(missing)}; {fix}")
        try:
            arrays = {key: data[key] for key in _ARRAYS}
            metadata = json.loads(str(data["metadata"]))
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"{name!r} is damaged and could not be read ({error}); simulate it again") from None
    return NBodyDataset(**arrays, metadata=metadata)


def split_by_time(dataset: NBodyDataset, test_fraction: float = 0.25) -> tuple[NBodyDataset, NBodyDataset]:
    """Split every trajectory in time: early points for training, late points for testing.

    This is how the authors' notebook splits its data (the last 25% of each trajectory
    is the test set). Cranmer et al. (2020) evaluate on simulations from a new seed
    instead, which ``simulate(..., seed=other)`` gives.

    Shapes
    ------
    returns : two datasets with T_train = T - ceil(test_fraction * T) and the rest of T.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction!r}")
    n_test = int(np.ceil(test_fraction * dataset.n_times))
    n_train = dataset.n_times - n_test
    if n_train < 1 or n_test < 1:
        raise ValueError(
            f"cannot split {dataset.n_times} time point(s) with test_fraction={test_fraction}; "
            "simulate more steps"
        )
    return dataset.select(times=slice(0, n_train)), dataset.select(times=slice(n_train, None))
