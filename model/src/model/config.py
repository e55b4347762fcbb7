"""The architecture configuration of the LSTM network."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ModelConfig"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the network: LSTM, last timestep (or attention), two heads.

    Args:
        input_dim: Features per timestep.
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
    hidden_dim: int = 32
    num_layers: int = 2
    dropout: float = 0.0
    bidirectional: bool = False
    attention: bool = False
    num_heads: int = 4
    horizons: tuple[int, ...] = (1,)
    skip: bool = False

    def __post_init__(self) -> None:
        for name in ("input_dim", "hidden_dim", "num_layers", "num_heads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)):
            raise ValueError(f"dropout must be a number, got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
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
            data: A mapping of field names to values.

        Returns:
            The validated config.

        Raises:
            ValueError: An unknown key or a bad value.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig field(s): {', '.join(unknown)}")
        values = dict(data)
        if "horizons" in values and isinstance(values["horizons"], list):
            values["horizons"] = tuple(values["horizons"])
        return cls(**values)
