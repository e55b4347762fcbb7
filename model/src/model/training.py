"""The training loop: mini-batches from preloaded tensors, Gaussian NLL, early stopping."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["DEFAULT_BATCH_SIZE", "ProgressCallback", "TrainConfig", "fit", "gaussian_nll"]

#: Default mini-batch size, chosen by measurement on a 2-core CPU (see the README).
DEFAULT_BATCH_SIZE = 256

ProgressCallback = Callable[[int, int, dict[str, Any]], None]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (see ``Model.train``).

    Args:
        epochs: Maximum number of passes over the training part.
        batch_size: Samples per optimizer step.
        lr: Initial Adam learning rate.
        weight_decay: Adam weight decay (L2).
        val_fraction: Last fraction of the (time-ordered) data held out for validation
            when no explicit validation set is given, in ``(0, 1)``.
        patience: Epochs without a better validation loss before stopping; the
            learning rate halves after ``max(1, patience // 3)`` such epochs.
        seed: Seed of the weight initialization, dropout and batch shuffling.
        grad_clip: Maximum gradient norm (``0`` disables clipping).
        beta: Exponent of beta-NLL (Seitzer et al., 2022): each sample's Gaussian NLL is
            weighted by ``stopgrad(var) ** beta``; ``0`` is the plain NLL.
        num_threads: Torch intra-op threads during training (``None`` keeps the current
            setting); restored afterwards.

    Examples:
        >>> TrainConfig(epochs=5).batch_size
        256
        >>> TrainConfig(lr=0)
        Traceback (most recent call last):
        ...
        ValueError: lr must be a positive number, got 0
    """

    epochs: int = 100
    batch_size: int = DEFAULT_BATCH_SIZE
    lr: float = 3e-3
    weight_decay: float = 1e-5
    val_fraction: float = 0.15
    patience: int = 10
    seed: int = 0
    grad_clip: float = 1.0
    beta: float = 0.5
    num_threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.num_threads is not None and (
            isinstance(self.num_threads, bool)
            or not isinstance(self.num_threads, int)
            or self.num_threads < 1
        ):
            raise ValueError(f"num_threads must be a positive integer, got {self.num_threads!r}")
        checks = {
            "lr": lambda v: v > 0,
            "weight_decay": lambda v: v >= 0,
            "val_fraction": lambda v: 0 < v < 1,
            "grad_clip": lambda v: v >= 0,
            "beta": lambda v: 0 <= v <= 1,
        }
        words = {
            "lr": "a positive number",
            "weight_decay": "a non-negative number",
            "val_fraction": "strictly between 0 and 1",
            "grad_clip": "a non-negative number",
            "beta": "in [0, 1]",
        }
        for name, ok in checks.items():
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or not ok(value)
            ):
                raise ValueError(f"{name} must be {words[name]}, got {value!r}")


def gaussian_nll(
    mean: torch.Tensor, logvar: torch.Tensor, target: torch.Tensor, beta: float = 0.0
) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood (without the constant), optionally beta-NLL.

    Args:
        mean: Predicted means.
        logvar: Predicted log-variances.
        target: Outcomes.
        beta: beta-NLL exponent (``0``: plain NLL).

    Returns:
        A scalar tensor: ``mean(w * 0.5 * (logvar + (target - mean)² / exp(logvar)))`` with
        ``w = exp(beta * logvar)`` treated as a constant.
    """
    nll = 0.5 * (logvar + (target - mean).square() * torch.exp(-logvar))
    if beta:
        nll = nll * torch.exp(beta * logvar.detach())
    return nll.mean()


def _evaluate(net: nn.Module, X: torch.Tensor, Y: torch.Tensor, chunk: int = 8192) -> float:
    net.eval()
    total = 0.0
    with torch.inference_mode():
        for i in range(0, X.shape[0], chunk):
            mean, logvar = net(X[i : i + chunk])
            total += gaussian_nll(mean, logvar, Y[i : i + chunk]).item() * mean.shape[0]
    return total / X.shape[0]


def fit(
    net: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    X_val: torch.Tensor,
    Y_val: torch.Tensor,
    config: TrainConfig,
    progress: ProgressCallback | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Train ``net`` in place on scaled tensors and restore its best weights.

    The caller seeds torch (weights, dropout); batch order comes from a
    ``torch.Generator`` seeded with ``config.seed``.

    Args:
        net: The network, freshly initialized.
        X: ``(n, seq_len, input_dim)`` scaled training features (float32).
        Y: ``(n, H)`` scaled training targets.
        X_val: Scaled validation features.
        Y_val: Scaled validation targets.
        config: Training settings.
        progress: Called after each epoch with ``(epoch, epochs, record)``.

    Returns:
        The per-epoch history and the (1-based) epoch whose weights were kept.
    """
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=0.5, patience=max(1, config.patience // 3)
    )
    params = [p for p in net.parameters() if p.requires_grad]
    n, bs = X.shape[0], config.batch_size
    history: list[dict[str, Any]] = []
    best_loss, best_epoch, bad_epochs = math.inf, 0, 0
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        net.train()
        total = torch.zeros(())
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            mean, logvar = net(X[idx])
            loss = gaussian_nll(mean, logvar, Y[idx], config.beta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip, foreach=True)
            optimizer.step()
            total += loss.detach() * idx.shape[0]
        train_loss = total.item() / n
        val_loss = _evaluate(net, X_val, Y_val)
        if not math.isfinite(train_loss):
            raise FloatingPointError(f"training diverged at epoch {epoch} (loss {train_loss})")
        scheduler.step(val_loss)
        if val_loss < best_loss:
            best_loss, best_epoch, bad_epochs = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            bad_epochs += 1
        record = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "lr": lr,
            "seconds": time.perf_counter() - start,
        }
        history.append(record)
        if progress is not None:
            progress(epoch, config.epochs, record)
        if bad_epochs >= config.patience:
            break
    net.load_state_dict(best_state)
    net.eval()
    return history, best_epoch
