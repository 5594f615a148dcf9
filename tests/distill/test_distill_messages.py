"""Message recording, component ranking and the linear fit of messages to true forces."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from symdistill import distill, gn


def _model(name="l1"):
    torch.manual_seed(0)
    return gn.build_model(name, 6, 2, hidden=16, n_hidden_layers=2).eval()


def test_record_messages_columns_and_values(spring_data):
    model = _model()
    table = distill.record_messages(model, spring_data, n_graphs=7, seed=3)
    expected = ["x1", "y1", "vx1", "vy1", "q1", "m1", "x2", "y2", "vx2", "vy2", "q2", "m2", "dx", "dy", "r"]
    assert list(table.columns[:15]) == expected
    assert list(table.columns[15:115]) == [f"e{k}" for k in range(100)]
    assert len(table) == 7 * 12
    np.testing.assert_allclose(table["dx"], table["x1"] - table["x2"])
    np.testing.assert_allclose(table["r"], np.hypot(table["dx"], table["dy"]))
    receiver = torch.tensor(table[expected[:6]].to_numpy(), dtype=torch.float32)
    sender = torch.tensor(table[expected[6:12]].to_numpy(), dtype=torch.float32)
    with torch.no_grad():
        messages = model.edge_model(receiver, sender).double().numpy()
    np.testing.assert_allclose(table[[f"e{k}" for k in range(100)]].to_numpy(), messages, rtol=1e-6, atol=1e-6)


def test_record_messages_is_seeded(spring_data):
    model = _model()
    first = distill.record_messages(model, spring_data, n_graphs=5, seed=1)
    second = distill.record_messages(model, spring_data, n_graphs=5, seed=1)
    pd.testing.assert_frame_equal(first, second)


def test_record_messages_kl_adds_log_variances(spring_data):
    table = distill.record_messages(_model("kl"), spring_data, n_graphs=2)
    assert "logvar99" in table.columns
    assert "e99" in table.columns
    assert "e100" not in table.columns


def test_record_messages_rejects_wrong_features(spring_data):
    states, accelerations = spring_data
    model = gn.build_model("l1", 8, 3, hidden=8, n_hidden_layers=1)
    with pytest.raises(ValueError, match="takes 8 node features but the data have 6"):
        distill.record_messages(model, (states, accelerations), n_graphs=2)


def _synthetic_table(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    receiver = rng.normal(size=(n, 6))
    sender = rng.normal(size=(n, 6))
    names = ["x", "y", "vx", "vy", "q", "m"]
    columns = {f"{c}1": receiver[:, k] for k, c in enumerate(names)}
    columns.update({f"{c}2": sender[:, k] for k, c in enumerate(names)})
    columns["dx"], columns["dy"] = receiver[:, 0] - sender[:, 0], receiver[:, 1] - sender[:, 1]
    columns["r"] = np.hypot(columns["dx"], columns["dy"])
    return pd.DataFrame(columns), receiver, sender


def test_force_fit_recovers_linear_transform(spring_system):
    table, receiver, sender = _synthetic_table()
    force = spring_system.pair_force(receiver, sender)
    rng = np.random.default_rng(1)
    table["e0"] = 0.1 * rng.normal(size=len(table))
    table["e1"] = 2.0 * force[:, 0] - 0.5 * force[:, 1] + 0.3
    table["e2"] = 0.7 * force[:, 1] + 0.01 * rng.normal(size=len(table))
    fit = distill.fit_messages_to_forces(table, [1, 2], spring_system)
    assert fit["r2_per_component"][0] == pytest.approx(1.0, abs=1e-12)
    assert fit["r2_per_component"][1] > 0.99
    np.testing.assert_allclose(fit["coefficients"][0], [2.0, -0.5], atol=1e-9)
    assert fit["intercepts"][0] == pytest.approx(0.3)
    assert fit["fitted"].shape == (len(table), 2)
    assert fit["r2_trimmed_per_component"][0] == pytest.approx(1.0, abs=1e-12)
    noise = distill.fit_messages_to_forces(table, [0], spring_system)
    assert noise["r2"] < 0.01
    assert noise["r2_trimmed"] < 0.45


def test_trimmed_r_squared_drops_worst_tenth():
    target = np.arange(100.0)[:, None]
    fitted = target.copy()
    fitted[:10] += 1000.0
    assert distill.trimmed_r_squared(target, fitted)[0] == pytest.approx(1.0)
    assert distill.r_squared(target, fitted)[0] < 0


def test_top_components_rank_by_std_and_kl():
    table, _, _ = _synthetic_table(200)
    rng = np.random.default_rng(2)
    for k, scale in enumerate([0.1, 3.0, 1.0, 0.01]):
        table[f"e{k}"] = scale * rng.normal(size=len(table))
    assert distill.top_components("std", table, 2) == [1, 2]
    # Mean KL per component: 0.005, 4.5, 2.0 and 3.5.
    for k, logvar in enumerate([0.0, 0.0, -4.0, -8.0]):
        table[f"logvar{k}"] = logvar
    assert distill.top_components("kl", table, 2) == [1, 3]
    assert distill.top_components(_model("kl"), table, 2) == [1, 3]


def test_top_components_kl_needs_log_variances():
    table, _, _ = _synthetic_table(50)
    table["e0"] = 1.0
    with pytest.raises(ValueError, match="log-variance"):
        distill.top_components("kl", table, 1)


def test_force_fit_rejects_missing_component(spring_system):
    table, _, _ = _synthetic_table(50)
    table["e0"] = 1.0
    with pytest.raises(ValueError, match="no columns \\['e5'\\]"):
        distill.fit_messages_to_forces(table, [5], spring_system)


@pytest.mark.parametrize("name", ["l1", "flathgn"])
def test_analyse_writes_metrics_and_plot(name, tmp_path, spring_data, spring_test_data, spring_system):
    gn.train(spring_data, name, out=tmp_path, steps=10, hidden=16, n_hidden_layers=1, device="cpu", threads=1)
    metrics = distill.analyse(tmp_path, spring_test_data, system=spring_system, n_graphs=50)
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert stored["model"] == name
    assert stored["test_loss"] == pytest.approx(metrics["test_loss"])
    assert (tmp_path / stored["plot"]).stat().st_size > 0
    if name == "l1":
        assert len(stored["top_components"]) == 2
        assert len(stored["message_r2_per_component"]) == 2
        assert stored["message_r2"] == pytest.approx(np.mean(stored["message_r2_per_component"]))
    else:
        assert stored["message_r2"] is None
        assert -1.0 <= stored["energy_r2"] <= 1.0
