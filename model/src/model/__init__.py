"""model: an LSTM that forecasts log returns with calibrated, volatility-aware intervals.

Works on arrays only: ``X`` is ``(N, seq_len, input_dim)`` features, ``y`` the log returns
per horizon. ``Model`` (the LSTM) trains, predicts (``execute`` for one sequence,
``predict`` / ``forecast`` for a batch), saves and loads; ``model.metrics`` scores
forecasts. Every forecaster kind (``lstm``: ``Model``; ``seq2seq``: ``Seq2SeqForecaster``;
``gbdt``/``rf``: ``TreeForecaster``; ``ensemble``: ``EnsembleForecaster``) implements the
``Forecaster`` protocol and writes the same safe file format; ``load_forecaster(path)``
loads any of them (``FORECASTERS`` maps kind -> class).

``import model`` imports no torch: the configs (``ModelConfig``, ``TrainConfig``,
``TreeConfig``, ``Seq2SeqConfig``, ``EnsembleConfig``), errors, metrics, scalers and the
model file header (``read_header``) are torch-free; the forecasters are imported on first
use (PEP 562), LightGBM only when a tree forecaster fits or loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from model.config import (
    DEFAULT_BATCH_SIZE,
    EnsembleConfig,
    ModelConfig,
    Seq2SeqConfig,
    TrainConfig,
    TreeConfig,
)
from model.errors import MissingExtraError, ModelError, ModelFileError
from model.fileformat import ModelHeader, read_header

if TYPE_CHECKING:
    from model import metrics
    from model.calibration import ConformalCalibration
    from model.core import Forecast, Model
    from model.ensemble import EnsembleForecaster
    from model.forecaster import FORECASTERS, Forecaster, load_forecaster
    from model.network import LSTMNetwork
    from model.scaling import Standardizer
    from model.seq2seq import Seq2SeqForecaster
    from model.trees import TreeForecaster

__version__ = "1.0.0"

#: Public names whose modules import torch or numpy, loaded on first attribute access.
_LAZY = {
    "ConformalCalibration": "model.calibration",
    "EnsembleForecaster": "model.ensemble",
    "FORECASTERS": "model.forecaster",
    "Forecast": "model.core",
    "Forecaster": "model.forecaster",
    "LSTMNetwork": "model.network",
    "Model": "model.core",
    "Seq2SeqForecaster": "model.seq2seq",
    "Standardizer": "model.scaling",
    "TreeForecaster": "model.trees",
    "load_forecaster": "model.forecaster",
}

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FORECASTERS",
    "ConformalCalibration",
    "EnsembleConfig",
    "EnsembleForecaster",
    "Forecast",
    "Forecaster",
    "LSTMNetwork",
    "MissingExtraError",
    "Model",
    "ModelConfig",
    "ModelError",
    "ModelFileError",
    "ModelHeader",
    "Seq2SeqConfig",
    "Seq2SeqForecaster",
    "Standardizer",
    "TrainConfig",
    "TreeConfig",
    "TreeForecaster",
    "__version__",
    "load_forecaster",
    "metrics",
    "read_header",
]


def __getattr__(name: str) -> Any:
    """Import the torch-backed public names lazily (PEP 562)."""
    if name == "metrics":
        value: Any = importlib.import_module("model.metrics")
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'model' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"metrics"})
