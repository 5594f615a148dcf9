import numpy as np
import pytest

from symdistill.halos import HaloCatalog


def random_catalog(n=300, box=200.0, seed=0, with_delta=True):
    rng = np.random.default_rng(seed)
    return HaloCatalog(
        positions=rng.uniform(0, box, (n, 3)),
        velocities=rng.normal(0, 300, (n, 3)),
        masses=10 ** rng.uniform(13, 15, n),
        box_size=box,
        delta=rng.normal(0.3, 0.5, n) if with_delta else None,
        redshift=0.0,
        metadata={"origin": "test"},
    )


@pytest.fixture
def catalog():
    return random_catalog()


@pytest.fixture
def make_catalog():
    return random_catalog
