"""model: an LSTM that forecasts log returns with calibrated, volatility-aware intervals.

Works on arrays only: ``X`` is ``(N, seq_len, input_dim)`` features, ``y`` the log returns
per horizon. ``Model`` trains, predicts (``execute`` for one sequence, ``predict`` /
``forecast`` for a batch), saves and loads; ``model.metrics`` scores forecasts.
"""

from model import metrics
from model.calibration import ConformalCalibration
from model.config import ModelConfig
from model.core import Forecast, Model
from model.errors import ModelError, ModelFileError
from model.network import LSTMNetwork
from model.scaling import Standardizer
from model.training import DEFAULT_BATCH_SIZE, TrainConfig

__version__ = "1.0.0"
__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ConformalCalibration",
    "Forecast",
    "LSTMNetwork",
    "Model",
    "ModelConfig",
    "ModelError",
    "ModelFileError",
    "Standardizer",
    "TrainConfig",
    "__version__",
    "metrics",
]
