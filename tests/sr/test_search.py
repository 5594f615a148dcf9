"""The search loop: stopping rules, interruption, migration, tournament, losses."""

import random

import numpy as np
import pytest

from symdistill.sr import SymbolicRegressor
from symdistill.sr.backends.base import Problem
from symdistill.sr.hall_of_fame import HallOfFame
from symdistill.sr.operators import CONST, FEATURE
from symdistill.sr.options import SearchOptions
from symdistill.sr.population import Island, _tournament
from symdistill.sr.search import _migrate, build_context, run_search

X = np.linspace(-2, 2, 120)[:, None]
Y = X[:, 0] ** 3 - X[:, 0]


def _problem(X=X, y=Y, **kwargs):
    return Problem(X, y, None, tuple(f"x{i}" for i in range(X.shape[1])), **kwargs)


def test_max_evals_stops(fast):
    options = SearchOptions(niterations=1000, max_evals=1000, **fast)
    result = run_search(_problem(), options)
    assert result.stop_reason == "max_evals"
    assert result.n_iterations < 1000


def test_early_stop_on_threshold(fast):
    options = SearchOptions(niterations=1000, early_stop_condition=1e-20, **fast)
    result = run_search(_problem(), options)
    assert result.stop_reason == "early_stop_condition"
    assert result.hall_of_fame.best_loss() <= 1e-20


def test_early_stop_callable(fast):
    options = SearchOptions(niterations=1000, early_stop_condition=lambda loss, complexity: complexity >= 3 and loss < 0.5 * np.var(Y), **fast)
    result = run_search(_problem(), options)
    assert result.stop_reason == "early_stop_condition"


def test_zero_iterations_returns_initial_front(fast):
    result = run_search(_problem(), SearchOptions(niterations=0, **fast))
    assert result.n_iterations == 0
    assert result.hall_of_fame.pareto_front()


def test_interrupt_returns_best_so_far(fast):
    # A loss that raises KeyboardInterrupt after many calls simulates Ctrl-C.
    calls = {"n": 0}

    def objective(prediction, dataset):
        calls["n"] += 1
        if calls["n"] == 3000:
            raise KeyboardInterrupt
        return float(np.mean((prediction - dataset.y) ** 2))

    result = run_search(_problem(), SearchOptions(niterations=1000, loss_function=objective, **fast))
    assert result.stop_reason == "interrupted"
    assert np.isfinite(result.hall_of_fame.best_loss())


def test_equation_file_written(tmp_path, fast):
    path = tmp_path / "run" / "hof.csv"
    run_search(_problem(), SearchOptions(niterations=2, equation_file=str(path), **fast))
    lines = path.read_text().splitlines()
    assert lines[0] == "complexity,loss,score,equation,tree"
    assert len(lines) >= 2


def test_migration_inserts_front_member(fast):
    options = SearchOptions(fraction_replaced_hof=1.0, fraction_replaced=0.0, **fast)
    ctx = build_context(_problem(), options)
    star = ((FEATURE, 0.0), (CONST, 7.0), (ctx.evaluator.operators[42].code, 0.0))
    hof = HallOfFame()
    hof.update(star, 0.0, 3)
    islands = [
        Island([((CONST, 1.0),)] * 20, [1.0] * 20, [1] * 20, list(range(20)), random.Random(0), 20)
    ]
    _migrate(islands, hof, ctx, np.random.default_rng(0))
    assert star in islands[0].trees


def test_tournament_prefers_low_loss(fast):
    options = SearchOptions(tournament_selection_p=0.999, adaptive_parsimony_scaling=0.0, **fast)
    ctx = build_context(_problem(), options)
    losses = list(np.linspace(1.0, 20.0, 20))
    island = Island([((CONST, float(i)),) for i in range(20)], losses, [1] * 20, list(range(20)), random.Random(1), 20)
    picks = [_tournament(island, ctx, [1.0] * (options.maxsize + 1)) for _ in range(2000)]
    # The winner is the best of a random sample of 8 out of 20: its mean rank is about 1.3.
    assert np.mean(picks) < 2.5


def test_custom_elementwise_loss_used(fast):
    quartic = lambda prediction, target: (prediction - target) ** 4  # noqa: E731
    model = SymbolicRegressor(elementwise_loss=quartic, niterations=3, **fast).fit(X, Y)
    index = int(np.argmin(model.equations_["loss"]))
    expected = np.mean((model.predict(X, index=index) - Y) ** 4)
    assert model.equations_["loss"][index] == pytest.approx(expected, rel=1e-9)


def test_graph_loss_equals_hand_computation(fast):
    rng = np.random.default_rng(0)
    edges = rng.uniform(0.5, 2, (90, 2))
    receivers = np.repeat(np.arange(30), 3)
    mass = rng.uniform(1, 2, 30)
    y = np.bincount(receivers, weights=edges[:, 0] * edges[:, 1], minlength=30) / mass
    model = SymbolicRegressor(binary_operators=["+", "*"], niterations=3, elementwise_loss="L1", **fast)
    model.fit(edges, y, receivers=receivers, node_divisor=mass)
    for index in range(len(model.equations_)):
        nodes = model.predict(edges, index=index, receivers=receivers, node_divisor=mass)
        assert np.mean(np.abs(nodes - y)) == pytest.approx(model.equations_["loss"][index], rel=1e-9, abs=1e-15)


def test_graph_loss_recovers_product(fast):
    rng = np.random.default_rng(1)
    edges = rng.uniform(0.5, 2, (300, 3))
    receivers = np.repeat(np.arange(100), 3)
    mass = rng.uniform(1, 2, 100)
    y = np.bincount(receivers, weights=2.0 * edges[:, 0] * edges[:, 1], minlength=100) / mass
    model = SymbolicRegressor(
        binary_operators=["+", "*"], niterations=30, early_stop_condition=1e-12, elementwise_loss="L2", **fast
    )
    model.fit(edges, y, receivers=receivers, node_divisor=mass)
    np.testing.assert_allclose(model.predict(edges, index=int(np.argmin(model.equations_["loss"]))), 2.0 * edges[:, 0] * edges[:, 1], rtol=1e-5)


def test_graph_batching_scores_on_full_data(fast):
    rng = np.random.default_rng(3)
    edges = rng.uniform(0.5, 2, (600, 2))
    receivers = np.repeat(np.arange(200), 3)
    y = np.bincount(receivers, weights=edges[:, 0] * edges[:, 1], minlength=200)
    model = SymbolicRegressor(batching=True, batch_size=50, niterations=3, **fast)
    model.fit(edges, y, receivers=receivers)
    for index in range(len(model.equations_)):
        nodes = model.predict(edges, index=index, receivers=receivers)
        assert np.mean((nodes - y) ** 2) == pytest.approx(model.equations_["loss"][index], rel=1e-9, abs=1e-15)


def test_graph_subset_keeps_whole_nodes():
    from symdistill.sr.evaluator import Evaluator
    from symdistill.sr.operators import build_operator_set

    X = np.arange(6, dtype=float)[:, None]
    receivers = np.array([0, 1, 1, 2, 2, 2])
    problem = Problem(X, np.array([0.0, 3.0, 12.0]), None, ("x0",), receivers=receivers, node_divisor=np.array([1.0, 1.0, 2.0]))
    subset = Evaluator(problem, build_operator_set()).subset(np.array([2, 1]))
    np.testing.assert_array_equal(subset.Xt[0], [1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(subset.receivers, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(subset.y, [3.0, 12.0])
    np.testing.assert_array_equal(subset.divisor, [1.0, 2.0])
    # x0 summed per node: 3 and 12 / 2 = 6, so the L2 loss is (0 + 36) / 2.
    assert subset(((1, 0.0),)) == pytest.approx(18.0)


def test_batching_search_scores_on_full_data(fast):
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, (3000, 2))
    y = X[:, 0] * X[:, 1]
    model = SymbolicRegressor(batching=True, batch_size=100, niterations=3, **fast).fit(X, y)
    for index in range(len(model.equations_)):
        expected = np.mean((model.predict(X, index=index) - y) ** 2)
        assert model.equations_["loss"][index] == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_extra_payload_reaches_loss_function(fast):
    received = []

    def objective(prediction, dataset):
        received.append(dataset.extra)
        return float(np.mean(np.abs(prediction - dataset.y)) * dataset.extra["scale"])

    model = SymbolicRegressor(loss_function=objective, niterations=1, **fast)
    model.fit(X, Y, extra={"scale": 2.0})
    assert received
    assert all(payload == {"scale": 2.0} for payload in received)
    index = int(np.argmin(model.equations_["loss"]))
    expected = 2.0 * np.mean(np.abs(model.predict(X, index=index) - Y))
    assert model.equations_["loss"][index] == pytest.approx(expected, rel=1e-9)
