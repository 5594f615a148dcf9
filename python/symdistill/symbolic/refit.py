"""Joint refit of every constant of a symbolic graph model on the training data.

Fitting each formula separately to the network's internal functions accumulates
approximation error, so after substitution all constants are refitted together on the
original objective: the mean absolute error of the predicted accelerations.

Constants of very different magnitudes (``0.0019 q1 q2 / r`` next to ``1.4 dx``) share
one optimiser, so each constant ``c`` is optimised as ``c0 + s * u`` with ``u``
starting at 0 and ``s = max(|c0|, scale_floor)``: Adam's steps, which are about ``lr``
in size whatever the gradient scale, then move every constant by a similar fraction
of its own size.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from symdistill._progress import progress

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RefitConfig:
    """Settings of the joint constant refit.

    Attributes
    ----------
    steps : int
        Adam steps; 0 keeps the constants from symbolic regression.
    lr : float
        Adam learning rate, relative to each constant's own size.
    batch_size : int
        Graphs per step.
    max_graphs : int
        Training graphs drawn (without replacement) for the refit.
    eval_every : int
        Steps between evaluations on the whole refit set; the best constants seen
        are kept.
    scale_floor : float
        Smallest step scale, for constants that start at or near zero.
    seed : int
        Seed of the graph sampling and batch order.
    """

    steps: int = 1500
    lr: float = 3e-3
    batch_size: int = 256
    max_graphs: int = 20000
    eval_every: int = 100
    scale_floor: float = 1e-2
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_graphs", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"refit {name} must be at least 1, got {getattr(self, name)!r}")
        if self.steps < 0:
            raise ValueError(f"refit steps must be >= 0, got {self.steps!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"refit lr must be a positive finite number, got {self.lr!r}")
        if not self.scale_floor > 0:
            raise ValueError(f"refit scale_floor must be positive, got {self.scale_floor!r}")


@dataclasses.dataclass
class RefitResult:
    """Outcome of ``refit``: losses before and after, and the loss curve."""

    loss_before: float
    loss_after: float
    history: list[tuple[int, float]]
    n_graphs: int


def mean_absolute_error(model: nn.Module, states: torch.Tensor, targets: torch.Tensor, batch_size: int = 4096) -> float:
    """Return the mean absolute error of ``model(states)`` against ``targets``, without gradients.

    Non-finite predictions count as an infinite loss.

    Shapes
    ------
    states : [n_graphs, N, F]
    targets : [n_graphs, N, dim]
    """
    total = 0.0
    count = 0
    with torch.no_grad():
        for start in range(0, states.shape[0], batch_size):
            prediction = model(states[start : start + batch_size])
            error = (prediction - targets[start : start + batch_size]).abs()
            total += float(error.sum())
            count += error.numel()
    if count == 0:
        raise ValueError("cannot compute a loss on zero graphs")
    value = total / count
    return value if math.isfinite(value) else math.inf


def refit(
    model: nn.Module, states: np.ndarray, accelerations: np.ndarray, config: RefitConfig = RefitConfig(),
    device: str | torch.device | None = None,
) -> RefitResult:
    """Refit all trainable constants of ``model`` jointly, in place.

    Minimises the mean absolute error of the predicted accelerations with Adam and
    keeps the constants with the lowest loss on the whole refit set, so the result is
    never worse than the starting point.

    Shapes
    ------
    states : [n_graphs, N, F]
    accelerations : [n_graphs, N, dim]
    """
    states = np.asarray(states, dtype=np.float64)
    accelerations = np.asarray(accelerations, dtype=np.float64)
    if states.ndim != 3 or accelerations.ndim != 3 or states.shape[:2] != accelerations.shape[:2]:
        raise ValueError(
            f"states must be [n_graphs, N, F] and accelerations [n_graphs, N, dim] with matching leading "
            f"axes, got {states.shape} and {accelerations.shape}"
        )
    if not (np.isfinite(states).all() and np.isfinite(accelerations).all()):
        raise ValueError("refit data contains NaN or inf; drop truncated simulations before refitting")

    generator = np.random.default_rng(config.seed)
    n_graphs = min(config.max_graphs, states.shape[0])
    chosen = generator.choice(states.shape[0], size=n_graphs, replace=False)
    x = torch.as_tensor(states[chosen], device=device)
    y = torch.as_tensor(accelerations[chosen], device=device)
    model = model.to(device=x.device, dtype=torch.float64)

    start = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    loss_before = mean_absolute_error(model, x, y)
    if not start or config.steps == 0:
        return RefitResult(loss_before, loss_before, [(0, loss_before)], n_graphs)

    scales = {name: value.abs().clamp_min(config.scale_floor) for name, value in start.items()}
    offsets = {name: torch.zeros_like(value, requires_grad=True) for name, value in start.items()}
    optimizer = torch.optim.Adam(list(offsets.values()), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps, eta_min=config.lr * 1e-2)
    torch.manual_seed(config.seed)

    def current() -> dict[str, torch.Tensor]:
        return {name: start[name] + scales[name] * offsets[name] for name in start}

    best_loss, best = loss_before, {name: torch.zeros_like(u) for name, u in offsets.items()}
    history = [(0, loss_before)]
    batch_size = min(config.batch_size, n_graphs)
    for step in progress(range(1, config.steps + 1), desc="refit", unit="step"):
        index = torch.as_tensor(generator.choice(n_graphs, size=batch_size, replace=False), device=x.device)
        prediction = functional_call(model, current(), (x[index],))
        loss = (prediction - y[index]).abs().mean()
        optimizer.zero_grad()
        # A loss without a graph has no constant that changes the accelerations.
        if torch.isfinite(loss) and loss.requires_grad:
            loss.backward()
            nn.utils.clip_grad_norm_(list(offsets.values()), max_norm=1e3)
            optimizer.step()
            scheduler.step()
        if step % config.eval_every == 0 or step == config.steps:
            _load(model, current())
            value = mean_absolute_error(model, x, y)
            history.append((step, value))
            if value < best_loss:
                best_loss, best = value, {name: u.detach().clone() for name, u in offsets.items()}
            logger.debug("refit step %d: loss %.6g (best %.6g)", step, value, best_loss)

    _load(model, {name: start[name] + scales[name] * best[name] for name in start})
    logger.info("refit: loss %.6g -> %.6g on %d graphs", loss_before, best_loss, n_graphs)
    return RefitResult(loss_before, best_loss, history, n_graphs)


def _load(model: nn.Module, values: dict[str, torch.Tensor]) -> None:
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in values.items():
            parameters[name].copy_(value.detach())
