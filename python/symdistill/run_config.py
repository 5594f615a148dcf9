"""The resolved configuration of one discovery run: presets, TOML files, overrides.

A run is configured in layers, each overriding the one before: a preset
(``default`` or ``paper``), an optional TOML (or JSON) file, then keyword or
command-line overrides. Sections reuse each stage's own frozen config:

============  ===================================================================
``[simulation]``  ``symdistill.nbody.SimulationConfig`` (training data)
``[data]``        ``DataConfig``: snapshot spacing, test and out-of-distribution data
``[train]``       ``symdistill.gn.TrainConfig``
``[analysis]``    ``AnalysisConfig``: message recording
``[regression]``  ``symdistill.distill.regress.RegressionConfig``
``[refit]``       ``symdistill.symbolic.RefitConfig``
``[evaluation]``  ``EvaluationConfig``
============  ===================================================================

Top-level keys are ``model`` and ``seed``. Devices and paths of the run folder are
runtime settings and stay out of the config.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from symdistill import config as config_io
from symdistill.distill.regress import RegressionConfig
from symdistill.gn import TrainConfig
from symdistill.nbody import SimulationConfig
from symdistill.symbolic import RefitConfig

PRESETS = ("default", "paper")
MODELS = ("standard", "bottleneck", "l1", "kl", "flathgn")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Data beyond the simulated training set.

    Attributes
    ----------
    snapshot_every : int
        Store every this many default time steps of the system (the simulation's ``dt``
        defaults to ``snapshot_every`` times the system's default step).
    path : str or None
        A saved training dataset to load instead of simulating.
    test_path : str or None
        A saved test dataset; by default test data are simulated with ``test_seed``.
    test_seed, test_sims : int
        Seed and number of simulations of the test data (same system and size).
    ood_n_bodies : int
        Bodies per simulation of the out-of-distribution data.
    ood_position_scale : float
        Factor on the initial positions of the out-of-distribution data (1 keeps the
        training spread).
    ood_sims : int
        Simulations of the out-of-distribution data (seed ``test_seed + 1``).
    """

    snapshot_every: int = 5
    path: str | None = None
    test_path: str | None = None
    test_seed: int = 1
    test_sims: int = 100
    ood_n_bodies: int = 8
    ood_position_scale: float = 1.0
    ood_sims: int = 50

    def __post_init__(self) -> None:
        for name in ("snapshot_every", "test_sims", "ood_sims"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"data {name} must be a positive integer, got {value!r}")
        if isinstance(self.ood_n_bodies, bool) or not isinstance(self.ood_n_bodies, int) or self.ood_n_bodies < 2:
            raise ValueError(f"data ood_n_bodies must be an integer >= 2, got {self.ood_n_bodies!r}")
        if not (self.ood_position_scale > 0 and math.isfinite(self.ood_position_scale)):
            raise ValueError(f"data ood_position_scale must be positive, got {self.ood_position_scale!r}")

    def ood_description(self, n_bodies: int) -> str:
        """Return how the out-of-distribution data differ from the training data, in words."""
        parts = []
        if self.ood_n_bodies != n_bodies:
            parts.append(f"{self.ood_n_bodies} bodies instead of {n_bodies}")
        if self.ood_position_scale != 1.0:
            parts.append(f"initial positions spread {self.ood_position_scale:g}x wider")
        return ", ".join(parts) or "same distribution as training (new seed)"


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """Message recording: graphs drawn with replacement for the message R^2 (test data) and for SR samples (training data)."""

    n_graphs: int = 1000

    def __post_init__(self) -> None:
        if isinstance(self.n_graphs, bool) or not isinstance(self.n_graphs, int) or self.n_graphs < 1:
            raise ValueError(f"analysis n_graphs must be a positive integer, got {self.n_graphs!r}")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """Evaluation sizes: graphs per data set for the losses, fresh edges for the formula checks."""

    max_graphs: int = 5000
    n_check_edges: int = 5000

    def __post_init__(self) -> None:
        for name in ("max_graphs", "n_check_edges"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"evaluation {name} must be a positive integer, got {value!r}")


_SECTIONS: dict[str, type] = {
    "simulation": SimulationConfig,
    "data": DataConfig,
    "train": TrainConfig,
    "analysis": AnalysisConfig,
    "regression": RegressionConfig,
    "refit": RefitConfig,
    "evaluation": EvaluationConfig,
}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of one discovery run (see the module docstring for the sections)."""

    model: str = "l1"
    seed: int = 0
    simulation: SimulationConfig = dataclasses.field(default_factory=lambda: SimulationConfig(system="spring"))
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    analysis: AnalysisConfig = dataclasses.field(default_factory=AnalysisConfig)
    regression: RegressionConfig = dataclasses.field(default_factory=RegressionConfig)
    refit: RefitConfig = dataclasses.field(default_factory=RefitConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.data.test_seed == self.simulation.seed:
            raise ValueError(
                f"data.test_seed equals the training simulation seed ({self.simulation.seed}); "
                "test data must come from a new seed"
            )

    @property
    def system_label(self) -> str:
        """The system name, or ``custom`` for a user pair potential."""
        return self.simulation.system or "custom"

    def to_dict(self) -> dict[str, Any]:
        """Return the config as nested plain dictionaries."""
        return dataclasses.asdict(self)


def preset_values(preset: str, n_bodies: int = 4) -> dict[str, Any]:
    """Return the nested overrides of a preset.

    ``default`` is sized to finish spring 2D with 4 bodies end to end in about 10
    minutes on an otherwise idle 2-core CPU with one torch thread. It trains a smaller
    network (hidden layers of 64) for more steps than the paper's (300), because on a
    CPU that reaches a lower test loss and cleaner messages in the same time. On 2-D
    springs, 60,000 steps of the 64-unit ``l1`` network took 200 s of CPU time and
    reached a message R^2 of 0.86. 10,000 steps of the 300-unit one took 205 s and
    reached 0.73. The node MLP is 128 units wide: it has to divide the summed force by
    the receiver's mass, and at 64 units part of that division moved into the messages.
    Over three seeds (70,000 steps, 1,000 springs), the ``l1`` message R^2 rose from
    0.88-0.91 to 0.94-0.97, at about a fifth more time per step. Its searches use the
    squared error, under which the engine fits each
    candidate's outer scale and offset in closed form; in 45 s that puts force laws
    such as ``(a - b/r)(dx - dy)`` on the Pareto front of imperfect messages, where the
    absolute error does not. Every front candidate is then screened by a short joint
    refit (``regression.screen_steps``), because the ``score`` rule on messages that
    carry part of the receiver's mass picks linear formulas.
    ``paper`` uses the budget of the authors' published notebook
    (MilesCranmer/symbolic_deep_learning): 10,000 simulations of 100 snapshots, 200
    "epochs" of ``10000 / (batch / 32)`` steps at batch ``64 * (4 / n)**2``, the
    300-unit network, and the operators of Cranmer et al. (2020): + - * / ^ > < exp log IF.
    """
    if preset == "default":
        return {
            "simulation": {"system": "spring", "n_sims": 1000, "n_steps": 100},
            "train": {"steps": 70_000, "hidden": 64, "node_hidden": 128},
            # A fixed iteration count keeps the formulas independent of machine load. The
            # timeout only caps a search on a much slower machine.
            "regression": {"timeout_in_seconds": 120.0, "niterations": 100, "n_edges": 3000, "n_nodes": 2000,
                           "elementwise_loss": "L2", "screen_steps": 100},
            "refit": {"steps": 1000},
        }
    if preset == "paper":
        batch = max(1, int(64 * (4 / n_bodies) ** 2))
        return {
            "simulation": {"system": "spring", "n_sims": 10_000, "n_steps": 100},
            "data": {"test_sims": 1000, "ood_sims": 500},
            "train": {"steps": 200 * int(10_000 / (batch / 32)), "batch_size": batch, "hidden": 300},
            "regression": {
                "binary_operators": ["+", "-", "*", "/", "^", ">", "<"],
                "unary_operators": ["exp", "log"],
                "ternary_operators": ["IF"],
                "timeout_in_seconds": None,
                "niterations": 400,
                "populations": 30,
                "maxsize": 30,
                "n_edges": 5000,
                "n_nodes": 5000,
            },
            "refit": {"steps": 10_000, "max_graphs": 100_000},
            "evaluation": {"max_graphs": 100_000},
        }
    raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run config from TOML, or from JSON (the ``config.json`` a run saves)."""
    if os.fspath(path).endswith(".json"):
        try:
            return json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"config file not found: {os.fspath(path)!r}") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"config file {os.fspath(path)!r} is not valid JSON: {error}") from None
    return config_io.load_toml(path)


def resolve_config(
    preset: str = "default", file: str | os.PathLike[str] | None = None, overrides: Mapping[str, Any] | None = None
) -> RunConfig:
    """Build a RunConfig from a preset, an optional config file and nested overrides.

    ``overrides`` has the file's shape (``{"model": "kl", "train": {"steps": 500}}``);
    ``None`` values leave the layer below unchanged. Unknown sections and keys raise
    ``ValueError`` naming them.
    """
    layers: list[Mapping[str, Any]] = []
    if file is not None:
        layers.append(load_config_file(file))
    layers.append(overrides or {})
    layers = [_drop_none(layer) for layer in layers]
    n_bodies = dataclasses.fields(SimulationConfig)[[f.name for f in dataclasses.fields(SimulationConfig)].index("n_bodies")].default
    for layer in layers:
        n_bodies = layer.get("simulation", {}).get("n_bodies", n_bodies)
    merged = preset_values(preset, int(n_bodies))
    for layer in layers:
        merged = config_io.merge(merged, layer)
    return build_config(merged)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    # None means "not given" in every layer, also inside sections.
    return {k: _drop_none(v) if isinstance(v, Mapping) else v for k, v in values.items() if v is not None}


def build_config(values: Mapping[str, Any]) -> RunConfig:
    """Build a RunConfig from nested dictionaries, rejecting unknown keys by name."""
    known_top = {"model", "seed", *_SECTIONS}
    unknown = sorted(set(values) - known_top)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; valid top-level keys are {sorted(known_top)}")
    sections = {}
    for name, cls in _SECTIONS.items():
        section = values.get(name, {})
        if not isinstance(section, Mapping):
            raise ValueError(f"config section [{name}] must be a table of options, got {section!r}")
        sections[name] = config_io.from_dict(cls, _lists_to_tuples(section), section=name)
    top = {key: values[key] for key in ("model", "seed") if key in values}
    return RunConfig(**top, **sections)


def _lists_to_tuples(section: Mapping[str, Any]) -> dict[str, Any]:
    return {key: tuple(value) if isinstance(value, list) else value for key, value in section.items()}


def to_toml(config: RunConfig) -> str:
    """Return the config as TOML; unset (None) options are left out as TOML has no null."""
    values = config.to_dict()
    lines = ["# Resolved symdistill run config. Options left out were None (unset)."]
    for key in ("model", "seed"):
        lines.append(f"{key} = {_toml_value(values[key])}")
    for name in _SECTIONS:
        lines.append("")
        lines.append(f"[{name}]")
        for key, value in values[name].items():
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            return repr(value)
        if math.isnan(value):
            return "nan"
        return "inf" if value > 0 else "-inf"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML: {value!r}")
