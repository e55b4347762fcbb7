"""The configurations of the model package: the network and one training run.

``ModelConfig`` and ``TrainConfig`` are torch-free, so settings can be read and validated
without importing torch.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

__all__ = ["DEFAULT_BATCH_SIZE", "ModelConfig", "TrainConfig"]

#: Default mini-batch size, chosen by measurement on a 2-core CPU (see the README).
DEFAULT_BATCH_SIZE = 256

_C = TypeVar("_C")


def _from_dict(cls: type[_C], data: dict[str, Any]) -> _C:
    """Build ``cls`` from a mapping of field names, naming unknown keys."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} needs a mapping, got {type(data).__name__}")
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} field(s): {', '.join(map(str, unknown))} "
            f"(known: {', '.join(names)})"
        )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the network: LSTM, last timestep (or attention), two heads.

    Args:
        input_dim: Features per timestep.
        seq_len: Timesteps (feature vectors) per input sequence the model is trained on.
        hidden_dim: LSTM hidden size (per direction).
        num_layers: Stacked LSTM layers.
        dropout: Dropout between LSTM layers and before the heads, in ``[0, 1)``.
        bidirectional: Run the LSTM in both directions.
        attention: Multi-head attention over the LSTM outputs, with the query taken from
            the last timestep's output, instead of the last timestep alone.
        num_heads: Attention heads; must divide ``hidden_dim * directions``.
        horizons: Forecast horizons in ticks (one mean and one variance output each),
            strictly increasing positive integers.
        skip: Add a linear path from the last timestep's inputs to both heads (an
            LSTNet-style highway), so mean and log-variance can extrapolate linearly beyond
            the training range where the saturating LSTM cannot.

    Examples:
        >>> ModelConfig(hidden_dim=16, horizons=(1, 5)).n_outputs
        2
        >>> ModelConfig(dropout=1.5)
        Traceback (most recent call last):
        ...
        ValueError: dropout must be in [0, 1), got 1.5
    """

    input_dim: int = 6
    seq_len: int = 20
    hidden_dim: int = 32
    num_layers: int = 2
    dropout: float = 0.0
    bidirectional: bool = False
    attention: bool = False
    num_heads: int = 4
    horizons: tuple[int, ...] = (1,)
    skip: bool = False

    def __post_init__(self) -> None:
        for name in ("input_dim", "seq_len", "hidden_dim", "num_layers", "num_heads"):
            _positive_int(name, getattr(self, name))
        if not 0.0 <= _finite("dropout", self.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("bidirectional", "attention", "skip"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        horizons = self.horizons
        if isinstance(horizons, int) and not isinstance(horizons, bool):
            horizons = (horizons,)
        try:
            horizons = tuple(horizons)
        except TypeError:
            raise ValueError(f"horizons must be a sequence of integers, got {horizons!r}") from None
        if (
            not horizons
            or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in horizons)
            or any(b <= a for a, b in itertools.pairwise(horizons))
        ):
            raise ValueError(
                f"horizons must be strictly increasing positive integers, got {self.horizons!r}"
            )
        object.__setattr__(self, "horizons", horizons)
        if self.attention and self.feature_dim % self.num_heads:
            raise ValueError(
                f"num_heads ({self.num_heads}) must divide hidden_dim * directions "
                f"({self.feature_dim})"
            )

    @property
    def directions(self) -> int:
        """Number of LSTM directions (1 or 2)."""
        return 2 if self.bidirectional else 1

    @property
    def feature_dim(self) -> int:
        """Width of the LSTM output that feeds the heads."""
        return self.hidden_dim * self.directions

    @property
    def n_outputs(self) -> int:
        """Number of horizons, i.e. mean outputs (and as many log-variance outputs)."""
        return len(self.horizons)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict; ``ModelConfig.from_dict`` rebuilds the config.

        Returns:
            The fields, with ``horizons`` as a list.
        """
        d = asdict(self)
        d["horizons"] = list(self.horizons)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build a config from ``to_dict`` output, naming unknown keys.

        Args:
            data: A mapping of field names to values (missing ones keep their defaults).

        Returns:
            The validated config.

        Raises:
            ValueError: An unknown key or a bad value.
        """
        return _from_dict(cls, data)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (see ``Model.train``).

    Args:
        epochs: Maximum number of passes over the training part.
        batch_size: Samples per optimizer step.
        lr: Initial Adam learning rate (> 0).
        weight_decay: Adam weight decay (L2, >= 0).
        val_fraction: Share of the samples used for validation, in (0, 1): the last part
            of the (time-ordered) data when no explicit validation set is given.
        patience: Epochs without a better validation loss before stopping; the learning
            rate halves after max(1, patience // 3) such epochs.
        seed: Seed of the weight initialization, dropout and batch shuffling.
        grad_clip: Maximum gradient norm (0 disables clipping).
        beta: Exponent of beta-NLL (Seitzer et al., 2022), in [0, 1]: each sample's
            Gaussian NLL is weighted by stopgrad(var) ** beta; 0 is the plain NLL.
        num_threads: Torch intra-op threads while training (null keeps the current
            setting; restored afterwards). 1 by measurement: on a busy 2-core machine two
            threads made some epochs 30x slower.

    Examples:
        >>> TrainConfig(epochs=5).batch_size
        256
        >>> TrainConfig(lr=0)
        Traceback (most recent call last):
        ...
        ValueError: lr must be a positive number, got 0
    """

    epochs: int = 20
    batch_size: int = DEFAULT_BATCH_SIZE
    lr: float = 3e-3
    weight_decay: float = 1e-5
    val_fraction: float = 0.15
    patience: int = 5
    seed: int = 0
    grad_clip: float = 1.0
    beta: float = 0.5
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            _positive_int(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.num_threads is not None:
            _positive_int("num_threads", self.num_threads)
        checks = {
            "lr": (lambda v: v > 0, "a positive number"),
            "weight_decay": (lambda v: v >= 0, "a non-negative number"),
            "val_fraction": (lambda v: 0 < v < 1, "strictly between 0 and 1"),
            "grad_clip": (lambda v: v >= 0, "a non-negative number"),
            "beta": (lambda v: 0 <= v <= 1, "in [0, 1]"),
        }
        for name, (ok, words) in checks.items():
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or not ok(value)
            ):
                raise ValueError(f"{name} must be {words}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-able dict (``TrainConfig.from_dict`` rebuilds it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a config from a mapping of field names, naming unknown keys.

        Args:
            data: Field names to values (missing ones keep their defaults).

        Returns:
            The validated config.

        Raises:
            ValueError: An unknown key or a bad value.
        """
        return _from_dict(cls, data)
