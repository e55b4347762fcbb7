"""The training loop: mini-batches from preloaded tensors, Gaussian NLL, early stopping.

With the direction head the loss adds its weighted binary cross-entropy, with the trend
head its weighted squared error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from model.config import DEFAULT_BATCH_SIZE, TrainConfig

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ProgressCallback",
    "TrainConfig",
    "direction_bce",
    "fit",
    "gaussian_nll",
    "trend_mse",
]

ProgressCallback = Callable[[int, int, dict[str, Any]], None]


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


def direction_bce(logit: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of the direction logits against 0/1 "went up" targets.

    Args:
        logit: Predicted logits of ``P(return > 0)``.
        up: 1.0 where the realized return was above 0, else 0.0.

    Returns:
        A scalar tensor.
    """
    return nn.functional.binary_cross_entropy_with_logits(logit, up)


def trend_mse(score: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the trend scores against their targets, both in [-1, 1].

    Args:
        score: Predicted trend scores.
        target: ``tanh(y / s)`` of the realized returns (see ``ModelConfig.heads``).

    Returns:
        A scalar tensor.
    """
    return (score - target).square().mean()


#: Each extra head's loss: ``loss(output, target)``.
_HEAD_LOSSES = {"direction": direction_bce, "trend": trend_mse}


def _weights(config: TrainConfig, heads: tuple[str, ...]) -> tuple[float, ...]:
    """The loss weight of each extra head (``direction_weight``, ``trend_weight``)."""
    return tuple(getattr(config, f"{h}_weight") for h in heads)


def _evaluate(net: nn.Module, X: torch.Tensor, Y: torch.Tensor, chunk: int = 8192) -> float:
    net.eval()
    total = 0.0
    with torch.inference_mode():
        for i in range(0, X.shape[0], chunk):
            mean, logvar = net(X[i : i + chunk])
            total += gaussian_nll(mean, logvar, Y[i : i + chunk]).item() * mean.shape[0]
    return total / X.shape[0]


def _evaluate_heads(
    net: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    targets: dict[str, torch.Tensor],
    chunk: int = 8192,
) -> list[float]:
    """Validation NLL (plain) and each extra head's loss, in the order of ``targets``."""
    net.eval()
    sums = [0.0] * (1 + len(targets))
    with torch.inference_mode():
        for i in range(0, X.shape[0], chunk):
            mean, logvar, extra = net.forward_heads(X[i : i + chunk])
            rows = mean.shape[0]
            sums[0] += gaussian_nll(mean, logvar, Y[i : i + chunk]).item() * rows
            for k, (head, target) in enumerate(targets.items(), 1):
                sums[k] += _HEAD_LOSSES[head](extra[head], target[i : i + chunk]).item() * rows
    return [v / X.shape[0] for v in sums]


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> Any:
    """The learning-rate schedule of ``config.lr_schedule``, stepped once per epoch.

    ``plateau``: halve after ``max(1, patience // 3)`` epochs without a better validation
    loss (better by more than ``min_delta`` when it is set, else torch's default 1e-4
    relative). ``cosine``: epoch ``e`` (0-based) of ``E`` trains
    at ``lr * (1 + cos(pi * e / E)) / 2``. ``warmup_cosine``: epoch ``e`` below ``W =
    warmup_epochs`` at ``lr * (e + 1) / (W + 1)``, then the cosine over the other
    ``E - W`` epochs.
    """
    if config.lr_schedule == "plateau":
        # torch's own plateau test (1e-4 relative) unless a min_delta is set
        delta = {"threshold": config.min_delta, "threshold_mode": "abs"} if config.min_delta else {}
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=max(1, config.patience // 3), **delta
        )
    epochs = config.epochs
    warm = min(config.warmup_epochs, epochs - 1) if config.lr_schedule == "warmup_cosine" else 0

    def factor(e: int) -> float:
        if e < warm:
            return (e + 1) / (warm + 1)
        return 0.5 * (1.0 + math.cos(math.pi * (e - warm) / max(1, epochs - warm)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


#: The checkpoint's file name inside ``TrainConfig.checkpoint_dir``.
CHECKPOINT = "checkpoint.pt"
#: Settings that may differ between an interrupted run and its resumption.
_RESUMABLE = ("checkpoint_dir", "resume", "num_threads")


def _fingerprint(config: TrainConfig, tensors: tuple[torch.Tensor, ...], net: nn.Module) -> str:
    """What a checkpoint belongs to: the data, the settings and the network's shapes."""
    import hashlib
    import json

    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    settings = {k: v for k, v in config.to_dict().items() if k not in _RESUMABLE}
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(str([(k, tuple(v.shape)) for k, v in net.state_dict().items()]).encode())
    return h.hexdigest()


def _save_checkpoint(path: Any, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file, then rename: never a half-written checkpoint."""
    import os

    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Any, fingerprint: str) -> dict[str, Any]:
    """Read a checkpoint with torch's weights-only loader (no code runs); check its owner."""
    if not path.is_file():
        raise ValueError(f"no checkpoint to resume from in {path.parent}")
    try:
        state = torch.load(path, weights_only=True)
        ok = isinstance(state, dict) and isinstance(state.get("epoch"), int)
    except Exception as exc:  # a truncated or foreign file
        raise ValueError(f"the checkpoint {path} is unreadable: {exc}") from None
    if not ok:
        raise ValueError(f"the checkpoint {path} is not a training checkpoint")
    if state.get("fingerprint") != fingerprint:
        raise ValueError(
            f"the checkpoint {path} was made with other data, settings or network: "
            "resume needs the same ones (or drop resume to start over)"
        )
    return state


def fit(
    net: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    X_val: torch.Tensor,
    Y_val: torch.Tensor,
    config: TrainConfig,
    progress: ProgressCallback | None = None,
    forward: Callable[[nn.Module, torch.Tensor, torch.Tensor, int], Any] | None = None,
    heads: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
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
        forward: ``forward(net, x, y, epoch) -> (mean, logvar)`` of a training batch
            (default ``net(x)``): a seq2seq network uses it for teacher forcing.
        heads: The extra heads' targets, ``{head: (train, val)}``, each like ``Y``:
            ``"direction"``, 1.0 where the unscaled return is above 0, else 0.0;
            ``"trend"``, ``tanh(y / s)``. For a network with those heads
            (``net.forward_heads``): the loss is then ``NLL + direction_weight * BCE +
            trend_weight * MSE`` (the heads present), and each record also has
            ``train_loss_return``, ``val_loss_return`` and ``train_loss_<head>``,
            ``val_loss_<head>`` per head (``train_loss``/``val_loss`` are the weighted
            totals).

    Returns:
        The per-epoch history and the (1-based) epoch whose weights were kept.
    """
    heads = heads or {}
    names = tuple(heads)
    weights = _weights(config, names)
    train_targets = {h: t[0] for h, t in heads.items()}
    val_targets = {h: t[1] for h, t in heads.items()}
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = _scheduler(optimizer, config)
    params = [p for p in net.parameters() if p.requires_grad]
    n, bs = X.shape[0], config.batch_size
    history: list[dict[str, Any]] = []
    best_loss, best_epoch, bad_epochs = math.inf, 0, 0
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    first, checkpoint, fingerprint = 1, None, ""
    if config.checkpoint_dir is not None:
        from pathlib import Path

        folder = Path(config.checkpoint_dir)
        folder.mkdir(parents=True, exist_ok=True)
        checkpoint = folder / CHECKPOINT
        fingerprint = _fingerprint(
            config, (X, Y, X_val, Y_val, *(t for pair in heads.values() for t in pair)), net
        )
    if config.resume:
        state = _load_checkpoint(checkpoint, fingerprint)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["rng"])
        history = list(state["history"])
        best_loss, best_epoch, bad_epochs = state["best_loss"], state["best_epoch"], state["bad"]
        best_state = state["best_state"]
        first = state["epoch"] + 1
        if bad_epochs >= config.patience:  # it had stopped early: nothing left to run
            first = config.epochs + 1
    for epoch in range(first, config.epochs + 1):
        start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        net.train()
        total = torch.zeros(())
        parts = torch.zeros(1 + len(names))  # with extra heads: each component's sum
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            if names:
                mean, logvar, extra = net.forward_heads(X[idx])
                loss = nll = gaussian_nll(mean, logvar, Y[idx], config.beta)
                losses = [nll]
                for head, w in zip(names, weights, strict=True):
                    part = _HEAD_LOSSES[head](extra[head], train_targets[head][idx])
                    losses.append(part)
                    if w:  # weight 0: the head's loss adds no gradient
                        loss = loss + w * part
                parts += torch.stack([v.detach() for v in losses]) * idx.shape[0]
            else:
                if forward is None:
                    mean, logvar = net(X[idx])
                else:
                    mean, logvar = forward(net, X[idx], Y[idx], epoch)
                loss = gaussian_nll(mean, logvar, Y[idx], config.beta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip, foreach=True)
            optimizer.step()
            total += loss.detach() * idx.shape[0]
        train_loss = total.item() / n
        components: dict[str, float] = {}
        if not names:
            val_loss = _evaluate(net, X_val, Y_val)
        else:
            val_parts = _evaluate_heads(net, X_val, Y_val, val_targets)
            val_loss = val_parts[0]
            for w, v in zip(weights, val_parts[1:], strict=True):
                if w:
                    val_loss = val_loss + w * v
            components = {"train_loss_return": parts[0].item() / n}
            for k, head in enumerate(names, 1):
                components[f"train_loss_{head}"] = parts[k].item() / n
            components["val_loss_return"] = val_parts[0]
            for k, head in enumerate(names, 1):
                components[f"val_loss_{head}"] = val_parts[k]
        if not math.isfinite(train_loss):
            raise FloatingPointError(f"training diverged at epoch {epoch} (loss {train_loss})")
        if config.lr_schedule == "plateau":
            scheduler.step(val_loss)
        else:
            scheduler.step()
        if val_loss < best_loss - config.min_delta:
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
            **components,
        }
        history.append(record)
        if checkpoint is not None:
            _save_checkpoint(
                checkpoint,
                {
                    "epoch": epoch,
                    "fingerprint": fingerprint,
                    "net": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "generator": generator.get_state(),
                    "rng": torch.get_rng_state(),
                    "history": history,
                    "best_loss": best_loss,
                    "best_epoch": best_epoch,
                    "bad": bad_epochs,
                    "best_state": best_state,
                },
            )
        if progress is not None:
            progress(epoch, config.epochs, record)
        if bad_epochs >= config.patience:
            break
    net.load_state_dict(best_state)
    net.eval()
    return history, best_epoch
