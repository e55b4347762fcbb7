"""The ``Forecaster`` protocol every model kind implements, and loading any model file.

A forecaster maps ``X`` ``(N, seq_len, input_dim)`` to a ``Forecast`` of log returns per
horizon (mean, sigma, calibrated interval), is trained by ``fit`` and is saved to one
format-2 model file (safetensors + JSON header, no pickle) whose header records its
``kind``. ``load_forecaster(path)`` reads the header, checks the kind and builds the
class ``FORECASTERS[kind]``; nothing is built from an unknown or unchecked claim.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from model.common import Forecast
from model.core import Model
from model.ensemble import EnsembleForecaster
from model.errors import ModelFileError
from model.fileformat import ModelHeader, read_header
from model.seq2seq import Seq2SeqForecaster
from model.trees import TreeForecaster

__all__ = ["FORECASTERS", "Forecaster", "build_from_header", "load_forecaster"]


@runtime_checkable
class Forecaster(Protocol):
    """What every forecaster kind offers (``isinstance(m, Forecaster)`` checks it).

    Attributes:
        kind: The kind recorded in the model file (``"lstm"``, ``"gbdt"``, ...).
        config: The input/output shape and architecture (a ``ModelConfig``).
        metadata: JSON-able mapping the pipeline fills; saved with the model.
        history: Per-epoch (or per-round) training records.
        training_summary: What the last ``fit`` did (sizes, best epoch, seconds, ...).
        horizons: The forecast horizons, one output column each.
    """

    kind: str
    config: Any
    metadata: dict[str, Any]
    history: list[dict[str, Any]]
    training_summary: dict[str, Any]

    @property
    def horizons(self) -> tuple[int, ...]:
        """The forecast horizons (ticks)."""
        ...

    def fit(
        self,
        X: Any,
        y: Any,
        config: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Train from scratch on ``X`` ``(N, seq_len, input_dim)``, ``y`` ``(N, H)``."""
        ...

    def forecast(self, X: Any, level: float = 0.9) -> Forecast:
        """Mean, sigma and calibrated interval of a batch, ``(N, H)`` each."""
        ...

    def forecast_one(self, seq: Any, level: float = 0.9) -> Forecast:
        """The same for one ``(seq_len, input_dim)`` sequence, ``(H,)`` each."""
        ...

    def update_calibration(self, X: Any, y: Any, window: int | None = 250) -> None:
        """Add realized outcomes to the interval calibration, keeping the latest ``window``."""
        ...

    def save(self, path: str | os.PathLike) -> Path:
        """Write one model file atomically and return its path."""
        ...

    @classmethod
    def load(cls, path: str | os.PathLike) -> Forecaster:
        """Read a model file of this kind."""
        ...


#: Forecaster kind -> class (``load_forecaster`` dispatches on it).
FORECASTERS: dict[str, type] = {
    "lstm": Model,
    "gbdt": TreeForecaster,
    "rf": TreeForecaster,
    "seq2seq": Seq2SeqForecaster,
    "ensemble": EnsembleForecaster,
}


def build_from_header(header: ModelHeader) -> Forecaster:
    """Build the forecaster a checked header describes (``read_header`` checked the kind).

    Args:
        header: A model file's header (or an ensemble member's, narrowed from one).

    Returns:
        The forecaster.

    Raises:
        ModelFileError: The file does not hold what its header claims (one line).
    """
    cls = FORECASTERS.get(header.kind)
    if cls is None:
        raise ModelFileError(
            f"unsupported model file {header.path}: no forecaster of kind {header.kind!r} "
            f"in this version (known: {', '.join(FORECASTERS)})"
        )
    return cls._from_header(header)


def load_forecaster(path: str | os.PathLike) -> Forecaster:
    """Load a model file of any kind (no pickle; every claim checked before it is used).

    Args:
        path: The model file.

    Returns:
        The forecaster of the kind the header records (``"lstm"`` when absent).

    Raises:
        ModelFileError: Missing, corrupt, unsafe, unknown kind or incompatible (one line).
    """
    return build_from_header(read_header(path))
