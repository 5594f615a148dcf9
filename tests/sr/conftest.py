"""Shared settings for SR tests: small, single-process searches that finish in seconds."""

import pytest

FAST = dict(
    populations=4,
    population_size=20,
    tournament_selection_n=8,
    ncycles_per_iteration=60,
    procs=1,
)


@pytest.fixture
def fast():
    """Search options small enough for the default test suite."""
    return dict(FAST)
