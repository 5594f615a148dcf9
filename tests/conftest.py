import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("test_springs", Path(__file__).with_name("springs.py"))
springs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(springs)


@pytest.fixture(scope="session")
def spring_data():
    return springs.spring_graphs(2000, seed=0)


@pytest.fixture(scope="session")
def spring_test_data():
    return springs.spring_graphs(200, seed=1)


@pytest.fixture(scope="session")
def spring_system():
    return springs.SpringSystem()
