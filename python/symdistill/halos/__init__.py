"""Dark-matter halo catalogues: readers, simulation, radius graphs, baselines, datasets.

Start with :func:`load_catalog` (Quijote FoF ``group_tab`` files, Rockstar ``out_*.list``,
npz/CSV/HDF5 tables) or :func:`simulate_catalog` (pysco particle-mesh run, FoF halos and
the overdensity delta at each halo), then :func:`build_dataset` for the graph a network
trains on and :func:`fit_baselines` for the hand-made estimators. Units: Mpc/h, km/s,
Msun/h. Nothing here imports torch; Numba loads when a graph is first built.
"""

from symdistill.halos.baselines import BASELINES, BaselineFit, fit_baseline, fit_baselines, summed_neighbour_mass
from symdistill.halos.catalog import HaloCatalog, load_catalog
from symdistill.halos.dataset import HaloGraphDataset, HaloSplit, build_dataset, split_halos
from symdistill.halos.fof import FoFGroups, friends_of_friends
from symdistill.halos.fof_format import read_fof_group_tab, write_fof_group_tab
from symdistill.halos.graph import EDGE_FEATURE_NAMES, RadiusGraph, edge_features, radius_graph
from symdistill.halos.linear_power import Cosmology, linear_power
from symdistill.halos.overdensity import overdensity
from symdistill.halos.rockstar import read_rockstar, write_rockstar
from symdistill.halos.simulate import HaloSimulationConfig, catalog_from_particles, simulate_catalog
from symdistill.halos.tables import read_table, write_table

__all__ = [
    "BASELINES",
    "BaselineFit",
    "Cosmology",
    "EDGE_FEATURE_NAMES",
    "FoFGroups",
    "HaloCatalog",
    "HaloGraphDataset",
    "HaloSimulationConfig",
    "HaloSplit",
    "RadiusGraph",
    "build_dataset",
    "catalog_from_particles",
    "edge_features",
    "fit_baseline",
    "fit_baselines",
    "friends_of_friends",
    "linear_power",
    "load_catalog",
    "overdensity",
    "radius_graph",
    "read_fof_group_tab",
    "read_rockstar",
    "read_table",
    "shipped_catalog_path",
    "simulate_catalog",
    "split_halos",
    "summed_neighbour_mass",
    "write_fof_group_tab",
    "write_rockstar",
    "write_table",
]

SHIPPED_CATALOG = "halos_128_250.npz"


def shipped_catalog_path() -> str:
    """Return the path of the small simulated catalogue shipped in ``symdistill/data``."""
    from importlib.resources import files

    path = files("symdistill").joinpath("data", SHIPPED_CATALOG)
    if not path.is_file():
        raise FileNotFoundError(f"the shipped halo catalogue {SHIPPED_CATALOG} is missing from symdistill/data")
    return str(path)
